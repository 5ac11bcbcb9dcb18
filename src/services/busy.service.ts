import type { EntityManager } from '@mikro-orm/core';
import type { Principal } from '../auth/jwt';
import { BusyInterval } from '../entities/busy-interval.entity';
import { IntegrationStatus } from '../entities/calendar-integration.entity';
import { User } from '../entities/user.entity';
import { AppError } from '../errors';
import { ensureUser } from './user.service';

/** Longest range one `blockedTimes` query may ask for. */
export const MAX_BLOCKED_RANGE_DAYS = 93;

/**
 * Resolves whose data the caller asks for: themselves by default; a tenant admin (or support, read-only)
 * may name another user of the tenant. Throws `NOT_FOUND` for a user the caller may not see, exactly as
 * for one that does not exist.
 */
export async function resolveSubject(em: EntityManager, principal: Principal, userId?: string | null): Promise<User> {
  if (!userId || userId === principal.sub) return ensureUser(em, principal);
  const user = principal.role === 'user' ? null : await em.findOne(User, { tenantId: principal.tenantId, externalId: userId });
  if (!user) throw new AppError('NOT_FOUND', `No user ${userId} you may see in this tenant.`);
  return user;
}

/** Checks a [from, to) range: ordered and at most `maxDays` long. Throws `BAD_USER_INPUT` otherwise. */
export function checkRange(from: Date, to: Date, maxDays: number): void {
  if (!(from < to)) throw new AppError('BAD_USER_INPUT', '"from" must be before "to".');
  if (to.getTime() - from.getTime() > maxDays * 86400000) throw new AppError('BAD_USER_INPUT', `The range may span at most ${maxDays} days.`);
}

/**
 * Busy time of a user's iCloud calendars checked for conflicts, overlapping [from, to), from the local
 * index only. Titles are private: returned to their owner only, null for anyone else.
 */
export async function blockedTimes(em: EntityManager, principal: Principal, from: Date, to: Date, userId?: string | null) {
  checkRange(from, to, MAX_BLOCKED_RANGE_DAYS);
  const subject = await resolveSubject(em, principal, userId);
  const own = subject.externalId === principal.sub && subject.tenantId === principal.tenantId;
  const rows = await em.find(
    BusyInterval,
    {
      userId: subject.id,
      startsAt: { $lt: to },
      endsAt: { $gt: from },
      calendar: { checkForConflicts: true, integration: { status: { $ne: IntegrationStatus.DISCONNECTED } } },
    },
    { orderBy: { startsAt: 'asc' } },
  );
  return rows.map((b) => ({ startsAt: b.startsAt, endsAt: b.endsAt, calendarId: b.calendar.id, title: own ? b.title : null }));
}
