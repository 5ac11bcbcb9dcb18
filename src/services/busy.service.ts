import type { EntityManager } from '@mikro-orm/core';
import type { Principal } from '../auth/jwt';
import { IntegrationStatus } from '../entities/calendar-integration.entity';
import { asDate, dateParam, plainRows } from './plain-rows';
import { checkRange } from './range';
import type { UserService } from './user.service';

/** Longest range one `blockedTimes` query may ask for. */
export const MAX_BLOCKED_RANGE_DAYS = 93;

/** Busy time from the local index, as the API shows it. */
export class BusyService {
  constructor(private readonly users: UserService) {}

  /**
   * Busy time of a user's iCloud calendars checked for conflicts, overlapping [from, to), from the local
   * index only (plain rows: no entities built). Titles are private: returned to their owner only, null for anyone else.
   */
  async blockedTimes(em: EntityManager, principal: Principal, from: Date, to: Date, userId?: string | null) {
    checkRange(from, to, MAX_BLOCKED_RANGE_DAYS);
    const subject = await this.users.resolveSubject(em, principal, userId);
    const own = subject.externalId === principal.sub && subject.tenantId === principal.tenantId;
    const rows = await plainRows(
      em,
      `select b.starts_at, b.ends_at, b.calendar_id, b.title from busy_interval b
        join external_calendar c on c.id = b.calendar_id
        join calendar_integration i on i.id = c.integration_id
        where b.user_id = ? and b.starts_at < ? and b.ends_at > ? and c.check_for_conflicts = ? and i.status <> ?
        order by b.starts_at asc`,
      [subject.id, dateParam(em, to), dateParam(em, from), true, IntegrationStatus.DISCONNECTED],
    );
    return rows.map((b) => ({ startsAt: asDate(b.starts_at), endsAt: asDate(b.ends_at), calendarId: b.calendar_id as string, title: own ? ((b.title as string | null) ?? null) : null }));
  }
}
