import { Arg, Ctx, ID, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import type { Context } from '../context';
import { ConflictWarning } from '../entities/conflict-warning.entity';
import { AppError } from '../errors';
import type { Topics } from '../pubsub';
import { ensureUser, resolveSubject } from '../services/user.service';
import { fromWarningView, toWarningDto } from './conflict-warning.mapper';
import { ConflictWarningType } from './conflict-warning.types';
import { visibleTo } from './visibility';

@Resolver()
export class ConflictWarningResolver {
  @Query(() => [ConflictWarningType], { description: 'Conflict warnings, newest first: yours, or (tenant admins and support) a named user\'s; `resolved` filters (omit for all).' })
  async conflictWarnings(
    @Arg('resolved', () => Boolean, { nullable: true }) resolved: boolean | undefined,
    @Arg('userId', () => ID, { nullable: true }) userId: string | undefined,
    @Ctx() { em, principal }: Context,
  ): Promise<ConflictWarningType[]> {
    const user = await resolveSubject(em, principal, userId);
    const where = { tenantId: user.tenantId, userId: user.id, ...(resolved === undefined || resolved === null ? {} : { resolved }) };
    return (await em.find(ConflictWarning, where, { orderBy: { createdAt: 'desc' }, limit: 200 })).map((w) => toWarningDto(w, user.externalId));
  }

  @Mutation(() => ConflictWarningType, { description: 'Marks one of your warnings as dealt with.' })
  async resolveConflictWarning(@Arg('id', () => ID) id: string, @Ctx() { em, principal }: Context): Promise<ConflictWarningType> {
    const user = await ensureUser(em, principal);
    const warning = await em.findOne(ConflictWarning, { id, userId: user.id, tenantId: user.tenantId });
    if (!warning) throw new AppError('NOT_FOUND', `No conflict warning ${id}.`);
    warning.resolved = true;
    await em.flush();
    return toWarningDto(warning, principal.sub);
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
