import type { EntityManager } from '@mikro-orm/core';
import { LibSqlDriver } from '@mikro-orm/libsql';
import { computeAvailability, type Block, type EngineMember, type SlotAvailability } from '../availability/availability.engine';
import { candidateSlots } from '../availability/slots';
import { AppointmentStatus } from '../entities/appointment.entity';
import { IntegrationStatus } from '../entities/calendar-integration.entity';
import { CrmCalendarType, type CrmCalendar } from '../entities/crm-calendar.entity';
import { syncKeyOf } from '../sync/sync-key';

const DAY_MS = 86400000;

/**
 * Plain rows of a read-only query, in the EntityManager's transaction when it has one: no entity is built
 * or tracked. `sql` uses `?` placeholders and the tables' column names (the same on SQLite and PostgreSQL).
 */
export async function plainRows(em: EntityManager, sql: string, params: unknown[]): Promise<Record<string, unknown>[]> {
  return (await em.getConnection().execute(sql, params, 'all', em.getTransactionContext())) as Record<string, unknown>[];
}

/**
 * Runs independent reads: at once on their own pooled connections, or one after the other inside a
 * transaction (one connection, which must not get a query while another is under way).
 */
export async function reads<T extends readonly unknown[]>(em: EntityManager, tasks: { [K in keyof T]: () => Promise<T[K]> }): Promise<T> {
  if (!em.isInTransaction()) return (await Promise.all(tasks.map((task) => task()))) as unknown as T;
  const out: unknown[] = [];
  for (const task of tasks) out.push(await task());
  return out as unknown as T;
}

/** A date as a query parameter in the database's own form (epoch ms on SQLite, a Date on PostgreSQL). */
export function dateParam(em: EntityManager, date: Date): unknown {
  return em.getPlatform().processDateProperty(date);
}

/** A datetime column of a plain row: a Date (PostgreSQL), epoch ms (SQLite, as a number or as text) or ISO text. */
export function asDate(value: unknown): Date {
  if (value instanceof Date) return value;
  if (typeof value === 'number' || typeof value === 'bigint') return new Date(Number(value));
  if (typeof value === 'string') {
    const ms = value.trim() === '' ? NaN : Number(value);
    return new Date(Number.isNaN(ms) ? value : ms);
  }
  return new Date(NaN);
}

/** `?, ?, ?` for `n` parameters. */
export function placeholders(n: number): string {
  return new Array(n).fill('?').join(', ');
}

/** `start,end;start,end;...` of epoch ms (SQLite's datetime columns) into blocks. */
function parsePairs(list: string, into: Block[]): void {
  for (const pair of list.split(';')) {
    const comma = pair.indexOf(',');
    into.push({ start: asDate(pair.slice(0, comma)), end: asDate(pair.slice(comma + 1)) });
  }
}

/**
 * iCloud busy time of the users' calendars checked for conflicts (of integrations not disconnected),
 * overlapping [from, to), added to `blocks`. On SQLite the intervals of each user come back as one string
 * (group_concat): the driver builds each row object natively for about 2-3 µs, one row per user instead of
 * one per interval is the difference on a busy calendar. PostgreSQL returns plain rows.
 */
async function addBusy(em: EntityManager, blocks: Map<string, Block[]>, userIds: string[], from: Date, to: Date): Promise<void> {
  const where = `b.user_id in (${placeholders(userIds.length)}) and b.starts_at < ? and b.ends_at > ? and c.check_for_conflicts = ? and i.status <> ?`;
  const params = [...userIds, dateParam(em, to), dateParam(em, from), true, IntegrationStatus.DISCONNECTED];
  const joins = 'join external_calendar c on c.id = b.calendar_id join calendar_integration i on i.id = c.integration_id';
  if (em.getDriver() instanceof LibSqlDriver) {
    const rows = await plainRows(em, `select b.user_id, group_concat(b.starts_at || ',' || b.ends_at, ';') as pairs from busy_interval b ${joins} where ${where} group by b.user_id`, params);
    for (const r of rows) parsePairs(r.pairs as string, blocks.get(r.user_id as string)!);
    return;
  }
  for (const b of await plainRows(em, `select b.user_id, b.starts_at, b.ends_at from busy_interval b ${joins} where ${where}`, params)) {
    blocks.get(b.user_id as string)!.push({ start: asDate(b.starts_at), end: asDate(b.ends_at) });
  }
}

/**
 * Everything that blocks the given users in [from, to): iCloud busy time of the calendars they check for
 * conflicts, and their active CRM appointments on any calendar (with those calendars' buffers). Local
 * index only: no request to iCloud while a booking page waits. Read as plain rows: no entity is built.
 */
async function blocksOf(em: EntityManager, userIds: string[], from: Date, to: Date): Promise<Map<string, Block[]>> {
  const blocks = new Map<string, Block[]>(userIds.map((id) => [id, []]));
  const [, assigned] = await reads(em, [
    () => addBusy(em, blocks, userIds, from, to),
    () => plainRows(
      em,
      `select aa.user_id, aa.block_start, aa.block_end, a.id, a.starts_at, a.calendar_id, cal.type from appointment_assignee aa
        join appointment a on a.id = aa.appointment_id
        join crm_calendar cal on cal.id = a.calendar_id
        where aa.user_id in (${placeholders(userIds.length)}) and aa.active = ? and aa.block_start < ? and aa.block_end > ?`,
      [...userIds, true, dateParam(em, to), dateParam(em, from)],
    ),
  ]);
  for (const a of assigned) {
    const appointment = { id: a.id as string, startsAt: asDate(a.starts_at), calendar: { id: a.calendar_id as string, type: a.type as CrmCalendarType } };
    blocks.get(a.user_id as string)!.push({ start: asDate(a.block_start), end: asDate(a.block_end), syncKey: syncKeyOf(appointment), appointmentId: appointment.id });
  }
  return blocks;
}

/** Booked seats of a class calendar by start (ms) in [first, last], counted by the database. */
async function seatsTakenOf(em: EntityManager, calendar: CrmCalendar, first: Date, last: Date, ignoreAppointmentId?: string): Promise<Map<number, number>> {
  const rows = await plainRows(
    em,
    `select starts_at, count(*) as n from appointment
      where calendar_id = ? and status = ? and starts_at >= ? and starts_at <= ?${ignoreAppointmentId ? ' and id <> ?' : ''}
      group by starts_at`,
    [calendar.id, AppointmentStatus.BOOKED, dateParam(em, first), dateParam(em, last), ...(ignoreAppointmentId ? [ignoreAppointmentId] : [])],
  );
  const taken = new Map<number, number>();
  for (const r of rows) {
    const start = asDate(r.starts_at).getTime();
    taken.set(start, (taken.get(start) ?? 0) + Number(r.n));
  }
  return taken;
}

/** Appointments of the calendar booked since `since` and still booked, per assigned user, counted by the database. */
async function recentCounts(em: EntityManager, calendar: CrmCalendar, userIds: string[], since: Date): Promise<Map<string, number>> {
  const rows = await plainRows(
    em,
    `select aa.user_id, count(*) as n from appointment_assignee aa
      join appointment a on a.id = aa.appointment_id
      where aa.user_id in (${placeholders(userIds.length)}) and a.calendar_id = ? and a.status = ? and a.created_at >= ?
      group by aa.user_id`,
    [...userIds, calendar.id, AppointmentStatus.BOOKED, dateParam(em, since)],
  );
  return new Map(rows.map((r) => [r.user_id as string, Number(r.n)]));
}

/**
 * Availability of a CRM calendar for slots starting in [from, to), honouring minimum notice and the
 * booking window at `now`. Each slot says who is free, who a booking would go to, and seats left.
 */
export async function availability(em: EntityManager, calendar: CrmCalendar, from: Date, to: Date, now = new Date(), ignoreAppointmentId?: string): Promise<SlotAvailability[]> {
  const earliest = new Date(Math.max(from.getTime(), now.getTime() + calendar.minNoticeMinutes * 60000));
  const latest = new Date(Math.min(to.getTime(), now.getTime() + calendar.bookingWindowDays * DAY_MS));
  if (earliest >= latest) return [];
  const slots = candidateSlots(calendar, earliest, latest);
  if (slots.length === 0) return [];
  const members = calendar.members.getItems();
  const userIds = members.map((m) => m.user.id);
  const margin = (calendar.bufferBeforeMinutes + calendar.bufferAfterMinutes + calendar.slotDurationMinutes) * 60000;
  const first = slots[0].start;
  const last = slots[slots.length - 1].start;
  // Seats matter to class sessions only, recent load to the ranking of round robin and service calendars only.
  const ranks = calendar.type === CrmCalendarType.ROUND_ROBIN || calendar.type === CrmCalendarType.SERVICE;
  const [blocks, seatsTaken, recent] = await reads(em, [
    async () => (userIds.length ? blocksOf(em, userIds, new Date(first.getTime() - margin), new Date(slots[slots.length - 1].end.getTime() + margin)) : new Map<string, Block[]>()),
    async () => (calendar.type === CrmCalendarType.CLASS_BOOKING ? seatsTakenOf(em, calendar, first, last, ignoreAppointmentId) : new Map<number, number>()),
    async () => (ranks && userIds.length ? recentCounts(em, calendar, userIds, new Date(now.getTime() - 30 * DAY_MS)) : new Map<string, number>()),
  ] as const);
  const engineMembers: EngineMember[] = members.map((m) => ({ userId: m.user.id, priority: m.priority, recentCount: recent.get(m.user.id) ?? 0 }));
  return computeAvailability({ calendar, members: engineMembers, slots, blocks, seatsTaken, ignoreAppointmentId });
}
