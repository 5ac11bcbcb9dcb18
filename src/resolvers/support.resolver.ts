import { Arg, Ctx, FieldResolver, ID, Int, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../context';
import type { CalendarIntegration } from '../entities/calendar-integration.entity';
import { ConflictWarningType } from './conflict-warning.types';
import { toWarningDto } from './conflict-warning.mapper';
import { toCalendarDto } from './integration.mapper';
import { toSyncRunDto } from './sync-run.mapper';
import { SyncRunType } from './sync-run.types';
import { IntegrationStatusChangeType, SupportIntegrationConnectionType, SupportIntegrationFilter, SupportIntegrationType } from './support.types';

const toSupportDto = (i: CalendarIntegration): SupportIntegrationType => ({
  id: i.id,
  tenantId: i.tenantId,
  userId: i.user.externalId,
  accountEmail: i.appleId,
  status: i.status,
  statusMessage: i.statusMessage,
  lastSyncedAt: i.lastSyncedAt,
  nextSyncAt: i.nextSyncAt,
  failureCount: i.failureCount,
  calendars: i.calendars.getItems().map(toCalendarDto),
  ownerId: i.user.id,
});

@Resolver(() => SupportIntegrationType)
export class SupportResolver {
  @Query(() => SupportIntegrationConnectionType, {
    description: 'Integrations across users (support: every tenant; a tenant admin: the tenant; a user: FORBIDDEN), oldest first, 1..100 per page (default 20).',
  })
  async supportIntegrations(
    @Arg('filter', () => SupportIntegrationFilter, { nullable: true }) filter: SupportIntegrationFilter | undefined,
    @Arg('first', () => Int, { nullable: true }) first: number | undefined,
    @Arg('after', () => String, { nullable: true }) after: string | undefined,
    @Ctx() { em, principal, services }: Context,
  ): Promise<SupportIntegrationConnectionType> {
    const page = await services.support.integrations(em, principal, filter ?? {}, first ?? undefined, after);
    return { nodes: page.nodes.map(toSupportDto), pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.endCursor }, totalCount: page.totalCount };
  }

  @FieldResolver(() => [SyncRunType], { description: 'The five latest sync runs.' })
  async recentSyncRuns(@Root() integration: SupportIntegrationType, @Ctx() { em, services }: Context): Promise<SyncRunType[]> {
    // The parent came from supportIntegrations, which returns only integrations the caller may see.
    return (await services.integrations.recentRuns(em, integration.id)).map(toSyncRunDto);
  }

  @FieldResolver(() => [ConflictWarningType], { description: "The owner's open conflict warnings, newest first (at most 20)." })
  async openConflictWarnings(@Root() integration: SupportIntegrationType, @Ctx() { em, services }: Context): Promise<ConflictWarningType[]> {
    return (await services.warnings.open(em, integration.ownerId)).map((w) => toWarningDto(w, integration.userId));
  }

  @Query(() => [IntegrationStatusChangeType], { description: "An integration's status changes, oldest first (the latest 200): any for support, the tenant's for an admin, your own for a user." })
  async integrationHistory(@Arg('id', () => ID) id: string, @Ctx() { em, principal, services }: Context): Promise<IntegrationStatusChangeType[]> {
    return (await services.support.history(em, principal, id)).map((c) => ({ at: c.at, from: c.from, to: c.to, reason: c.message, transition: c.transition }));
  }
}
