import { Arg, Ctx, ID, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import type { Context } from '../context';
import type { Topics } from '../pubsub';
import { fromWarningView, toWarningDto } from './conflict-warning.mapper';
import { ConflictWarningType } from './conflict-warning.types';
import { visibleTo } from './visibility';

@Resolver()
export class ConflictWarningResolver {
  @Query(() => [ConflictWarningType], { description: 'Conflict warnings, newest first: yours, or (tenant admins and support) a named user\'s; `resolved` filters (omit for all).' })
  async conflictWarnings(
    @Arg('resolved', () => Boolean, { nullable: true }) resolved: boolean | undefined,
    @Arg('userId', () => ID, { nullable: true }) userId: string | undefined,
    @Ctx() { em, principal, services }: Context,
  ): Promise<ConflictWarningType[]> {
    const { warnings, externalUserId } = await services.warnings.list(em, principal, resolved, userId);
    return warnings.map((w) => toWarningDto(w, externalUserId));
  }

  @Mutation(() => ConflictWarningType, { description: 'Marks one of your warnings as dealt with.' })
  async resolveConflictWarning(@Arg('id', () => ID) id: string, @Ctx() { em, principal, services }: Context): Promise<ConflictWarningType> {
    return toWarningDto(await services.warnings.resolve(em, principal, id), principal.sub);
  }

  @Subscription(() => ConflictWarningType, {
    name: 'conflictWarnings',
    description: 'Each new DOUBLE_BOOKING, EDIT_CONFLICT and DELETED_IN_ICLOUD warning you may see.',
    subscribe: ({ context }) => visibleTo(context as Context, (context as Context).services.events.subscribe('CONFLICT_WARNING')),
  })
  newConflictWarnings(@Root() event: Topics['CONFLICT_WARNING'][0]): ConflictWarningType {
    return fromWarningView(event.warning);
  }
}
