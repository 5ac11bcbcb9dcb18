import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import type { EventBus } from './pubsub';
import { IntegrationResolver } from './resolvers/integration.resolver';
import { SyncResolver } from './resolvers/sync.resolver';
import { AppointmentResolver } from './resolvers/appointment.resolver';
import { ConflictWarningResolver } from './resolvers/conflict-warning.resolver';
import { CrmCalendarResolver } from './resolvers/crm-calendar.resolver';
import { ViewerResolver } from './resolvers/viewer.resolver';
import { SupportResolver } from './resolvers/support.resolver';

/**
 * Builds the executable schema (argument validation on). Subscriptions read `events` through their own
 * `subscribe` functions; type-graphql insists on a pubSub all the same. Throws when resolver types are inconsistent.
 */
export function createSchema(events: EventBus): Promise<GraphQLSchema> {
  return buildSchema({ resolvers: [ViewerResolver, IntegrationResolver, SyncResolver, CrmCalendarResolver, AppointmentResolver, ConflictWarningResolver, SupportResolver], validate: true, pubSub: events as never });
}

/** The SDL committed as `schema.graphql`: sorted, so that it changes only when the contract does. */
export function schemaSdl(schema: GraphQLSchema): string {
  return printSchema(lexicographicSortSchema(schema)) + '\n';
}
