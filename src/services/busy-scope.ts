import type { EntityManager } from '@mikro-orm/core';
import { LibSqlDriver } from '@mikro-orm/libsql';
import { AppointmentStatus } from '../entities/appointment.entity';
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

/** One block of a CRM appointment: its assignment's block (buffers included) and, for a class session of `sessionsOf`, the session's start. */
export interface AppointmentBlockRow {
  userId: string;
  start: Date;
  end: Date;
  appointmentId: string;
  /** Set for the sessions of the class calendar `readAppointmentBlocks` was given only. */
  sessionStart?: Date;
}

/**
 * Calls `add` for each active assignment of the users whose block (buffers included) overlaps [from, to) (ends
 * after `from` when `to` is left out), on any calendar. With `sessionsOf` (a class calendar), the blocks of its
 * sessions carry the session's start. One row per user on SQLite, as `readBusy` does.
 */
export async function readAppointmentBlocks(em: EntityManager, userIds: string[], from: Date, to: Date | undefined, add: (row: AppointmentBlockRow) => void, sessionsOf?: { id: string }): Promise<void> {
  const scope = {
    from: `appointment_assignee aa${sessionsOf ? ' left join appointment a on a.id = aa.appointment_id and a.calendar_id = ?' : ''}`,
    where: `aa.user_id in (${placeholders(userIds.length)}) and aa.active = ?${to ? ' and aa.block_start < ?' : ''} and aa.block_end > ?`,
    params: [...(sessionsOf ? [sessionsOf.id] : []), ...userIds, true, ...(to ? [dateParam(em, to)] : []), dateParam(em, from)],
  };
  const row = (userId: string, start: unknown, end: unknown, appointmentId: string, session: unknown): AppointmentBlockRow => ({
    userId,
    start: asDate(start),
    end: asDate(end),
    appointmentId,
    sessionStart: session === null || session === undefined || session === '' ? undefined : asDate(session),
  });
  const session = sessionsOf ? 'a.starts_at' : 'null';
  if (em.getDriver() instanceof LibSqlDriver) {
    // `block_start,block_end,appointment_id,session_start;...` (ids hold no comma or semicolon; the session start is empty but for a session).
    const fields = `aa.block_start || ',' || aa.block_end || ',' || aa.appointment_id || ',' || coalesce(${session}, '')`;
    for (const r of await plainRows(em, `select aa.user_id, group_concat(${fields}, ';') as list from ${scope.from} where ${scope.where} group by aa.user_id`, scope.params)) {
      for (const item of (r.list as string).split(';')) {
        const [start, end, id, sessionStart] = item.split(',');
        add(row(r.user_id as string, start, end, id, sessionStart));
      }
    }
    return;
  }
  for (const a of await plainRows(em, `select aa.user_id, aa.block_start, aa.block_end, aa.appointment_id, ${session} as session_start from ${scope.from} where ${scope.where}`, scope.params)) {
    add(row(a.user_id as string, a.block_start, a.block_end, a.appointment_id as string, a.session_start));
  }
}

/** A round robin evens out the appointments booked in this many days back (its members' recent load). */
export const RECENT_DAYS = 30;

/** An appointment still booked, as a member's recent load counts it. */
export interface RecentBooking {
  calendarId: string;
  /** Epoch ms. */
  createdAt: number;
}

/**
 * Calls `add` for each appointment still booked and created since `since` to which one of the users is assigned
 * (the load a round robin evens out), with its calendar and creation time, optionally of one calendar only.
 */
export async function readRecentBookings(em: EntityManager, userIds: string[], since: Date, add: (userId: string, booking: RecentBooking) => void, calendarId?: string): Promise<void> {
  const rows = await plainRows(
    em,
    `select aa.user_id, a.calendar_id, a.created_at from appointment_assignee aa join appointment a on a.id = aa.appointment_id
      where aa.user_id in (${placeholders(userIds.length)})${calendarId ? ' and a.calendar_id = ?' : ''} and a.status = ? and a.created_at >= ?`,
    [...userIds, ...(calendarId ? [calendarId] : []), AppointmentStatus.BOOKED, dateParam(em, since)],
  );
  for (const r of rows) add(r.user_id as string, { calendarId: r.calendar_id as string, createdAt: asDate(r.created_at).getTime() });
}
