import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import type { Context } from '../context';
import type { Topics } from '../pubsub';
import { CalendarIntegrationType } from './integration.types';
import { fromSyncRunView, toSyncRunDto } from './sync-run.mapper';
import { BusyIntervalType, SyncRunType } from './sync-run.types';
import { visibleTo } from './visibility';

@Resolver(() => CalendarIntegrationType)
export class SyncResolver {
  @Mutation(() => SyncRunType, { description: 'Syncs one of your integrations now and returns the finished run.' })
  async syncNow(@Arg('integrationId', () => ID) id: string, @Ctx() { em, principal, services }: Context): Promise<SyncRunType> {
    return toSyncRunDto(await services.integrations.syncNow(em, principal, id));
  }

  @Query(() => [SyncRunType], { description: 'Recent sync runs of one of your integrations, newest first (limit 1..100, default 20).' })
  async syncRuns(
    @Arg('integrationId', () => ID) id: string,
    @Arg('limit', () => Int, { nullable: true }) limit: number | undefined,
    @Ctx() { em, principal, services }: Context,
  ): Promise<SyncRunType[]> {
    return (await services.integrations.runs(em, principal, id, limit ?? undefined)).map(toSyncRunDto);
  }

  @FieldResolver(() => [SyncRunType], { description: 'The five latest sync runs.' })
  async recentSyncRuns(@Root() integration: CalendarIntegrationType, @Ctx() { em, services }: Context): Promise<SyncRunType[]> {
    // The parent was resolved through a scoped query: its id is the caller's.
    return (await services.integrations.recentRuns(em, integration.id)).map(toSyncRunDto);
  }

  @Query(() => [BusyIntervalType], {
    description:
      "Busy time from a user's iCloud calendars checked for conflicts (yours by default; a tenant admin may name a user), " +
      'one interval per occurrence, from the local index. Titles only for their owner.',
  })
  async blockedTimes(
    @Arg('from', () => Date) from: Date,
    @Arg('to', () => Date) to: Date,
    @Arg('userId', () => ID, { nullable: true }) userId: string | undefined,
    @Ctx() { em, principal, services }: Context,
  ): Promise<BusyIntervalType[]> {
    return services.busy.blockedTimes(em, principal, from, to, userId);
  }

  @Subscription(() => SyncRunType, {
    description: 'One event per sync run of an integration you may see, optionally of one integration only.',
    subscribe: ({ args, context }) =>
      visibleTo(context as Context, (context as Context).services.events.subscribe('SYNC_RESULT'), (e) => !args.integrationId || e.run.integrationId === args.integrationId),
  })
  syncResults(@Root() event: Topics['SYNC_RESULT'][0], @Arg('integrationId', () => ID, { nullable: true }) _integrationId?: string): SyncRunType {
    return fromSyncRunView(event.run);
  }
}
