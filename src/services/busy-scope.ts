import type { EntityManager } from '@mikro-orm/core';
import { LibSqlDriver } from '@mikro-orm/libsql';
import { IntegrationStatus } from '../entities/calendar-integration.entity';
import { asDate, dateParam, placeholders, plainRows } from './plain-rows';

/**
 * Where iCloud busy time counts: intervals of the users' calendars checked for conflicts, of integrations not
 * disconnected, overlapping [from, to) (ending after `from` when `to` is left out). The one definition for
 * availability, its explanation and the busy-time index.
 */
export function busyScope(em: EntityManager, userIds: string[], from: Date, to?: Date): { from: string; where: string; params: unknown[] } {
  return {
    from: 'busy_interval b join external_calendar c on c.id = b.calendar_id join calendar_integration i on i.id = c.integration_id',
    where: `b.user_id in (${placeholders(userIds.length)})${to ? ' and b.starts_at < ?' : ''} and b.ends_at > ? and c.check_for_conflicts = ? and i.status <> ?`,
    params: [...userIds, ...(to ? [dateParam(em, to)] : []), dateParam(em, from), true, IntegrationStatus.DISCONNECTED],
  };
}

/**
 * Calls `add` for each busy interval of the users in `busyScope`. On SQLite the intervals of each user come
 * back as one string (group_concat): the driver builds each row object natively for about 2-3 µs, one row
 * per user instead of one per interval is the difference on a busy calendar. PostgreSQL returns plain rows.
 */
export async function readBusy(em: EntityManager, userIds: string[], from: Date, to: Date | undefined, add: (userId: string, start: Date, end: Date) => void): Promise<void> {
  const scope = busyScope(em, userIds, from, to);
  if (em.getDriver() instanceof LibSqlDriver) {
    const rows = await plainRows(em, `select b.user_id, group_concat(b.starts_at || ',' || b.ends_at, ';') as pairs from ${scope.from} where ${scope.where} group by b.user_id`, scope.params);
    for (const r of rows) {
      // `start,end;start,end;...` of epoch ms (SQLite's datetime columns).
      for (const pair of (r.pairs as string).split(';')) {
        const comma = pair.indexOf(',');
        add(r.user_id as string, asDate(pair.slice(0, comma)), asDate(pair.slice(comma + 1)));
      }
    }
    return;
  }
  for (const b of await plainRows(em, `select b.user_id, b.starts_at, b.ends_at from ${scope.from} where ${scope.where}`, scope.params)) {
    add(b.user_id as string, asDate(b.starts_at), asDate(b.ends_at));
  }
}
