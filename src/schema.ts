import { GraphQLScalarType, lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { buildSchema, GraphQLISODateTime } from 'type-graphql';
import type { EventBus } from './pubsub';
import { TextMemo } from './text-memo';
import { IntegrationResolver } from './resolvers/integration.resolver';
import { SyncResolver } from './resolvers/sync.resolver';
import { AppointmentResolver } from './resolvers/appointment.resolver';
import { ConflictWarningResolver } from './resolvers/conflict-warning.resolver';
import { CrmCalendarResolver } from './resolvers/crm-calendar.resolver';
import { ViewerResolver } from './resolvers/viewer.resolver';
import { SupportResolver } from './resolvers/support.resolver';

/** ISO texts of instants serialised lately: pages of slots repeat the same grid times, and `toISOString` takes about 1 µs. */
const isoTexts = new TextMemo(50_000);
const toIso = (ms: number) => new Date(ms).toISOString();

/**
 * type-graphql's `DateTimeISO` (graphql-scalars) with a fast path for what resolvers return, valid `Date`s: the
 * library re-validates each one on its way to `toISOString()`, and the text of a recent instant is reused:
 * about 10% of the CPU of a 300-slot answer. Same name, description and parsing, so the schema and every
 * input error stay as they were.
 */
const DateTimeISO = new GraphQLScalarType({
  ...GraphQLISODateTime.toConfig(),
  serialize: (value) => (value instanceof Date && !Number.isNaN(value.getTime()) ? isoTexts.get('', value.getTime(), toIso) : GraphQLISODateTime.serialize(value)),
});

/**
 * Builds the executable schema (argument validation on). Subscriptions read `events` through their own
 * `subscribe` functions; type-graphql insists on a pubSub all the same. Throws when resolver types are inconsistent.
 */
export function createSchema(events: EventBus): Promise<GraphQLSchema> {
  return buildSchema({ resolvers: [ViewerResolver, IntegrationResolver, SyncResolver, CrmCalendarResolver, AppointmentResolver, ConflictWarningResolver, SupportResolver], validate: true, pubSub: events as never, scalarsMap: [{ type: Date, scalar: DateTimeISO }] });
}

/** The SDL committed as `schema.graphql`: sorted, so that it changes only when the contract does. */
export function schemaSdl(schema: GraphQLSchema): string {
  return printSchema(lexicographicSortSchema(schema)) + '\n';
}
