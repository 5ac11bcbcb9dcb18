import type { EntityManager } from '@mikro-orm/core';
import type { Principal } from '../auth/jwt';
import { BusyInterval } from '../entities/busy-interval.entity';
import { IntegrationStatus } from '../entities/calendar-integration.entity';
import { checkRange } from './range';
import { resolveSubject } from './user.service';

/** Longest range one `blockedTimes` query may ask for. */
export const MAX_BLOCKED_RANGE_DAYS = 93;

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
