import type { EntityManager } from '@mikro-orm/core';
import { computeAvailability, type Block, type EngineMember, type SlotAvailability } from '../availability/availability.engine';
import type { CalendarRules } from '../availability/calendar-rules';
import { candidateSlots } from '../availability/slots';
import { AppointmentStatus } from '../entities/appointment.entity';
import { IntegrationStatus } from '../entities/calendar-integration.entity';
import { CrmCalendarType } from '../entities/crm-calendar.entity';
import { syncKeyOf } from '../sync/sync-key';
import type { Principal } from '../auth/jwt';
import { explainSlot, type ExplainedBlock, type MemberConnection, type SlotExplanation } from '../availability/explain';
import { formatLocal } from '../availability/zoned-time';
import { AppError } from '../errors';
import { isTimeZone } from '../sync/ical/timezones';
import type { BusyTimeIndex } from './busy-time-index.service';
import type { CrmCalendarService } from './crm-calendar.service';
import { busyScope, readAppointmentBlocks, readBusy, readRecentBookings, RECENT_DAYS, type RecentBooking } from './busy-scope';
import { asDate, dateParam, placeholders, plainRows, reads } from './plain-rows';
import { checkRange } from './range';

const DAY_MS = 86400000;
/** How many of each user's appointments are of `calendarId` and were booked since `since` (a round robin's ranking). */
function recentCounts(booked: Map<string, RecentBooking[]>, calendarId: string, since: Date): Map<string, number> {
  return new Map([...booked].map(([userId, list]) => [userId, list.filter((b) => b.calendarId === calendarId && b.createdAt >= since.getTime()).length]));
}

/** iCloud busy time of the users (see `busyScope`) overlapping [from, to), added to `blocks`. */
function addBusy(em: EntityManager, blocks: Map<string, Block[]>, userIds: string[], from: Date, to: Date): Promise<void> {
  return readBusy(em, userIds, from, to, (userId, start, end) => blocks.get(userId)!.push({ start, end }));
}

/**
 * The users' active CRM appointments (any calendar) whose blocks, buffers included, overlap [from, to), added
 * to `blocks`. Only the sessions of `calendar` (a class calendar) carry their sync key: no other key can be the
 * key of one of its sessions, which is all the engine compares keys for.
 */
function addAppointments(em: EntityManager, blocks: Map<string, Block[]>, userIds: string[], from: Date, to: Date, calendar: { id: string; type: CrmCalendarType }): Promise<void> {
  const sessions = calendar.type === CrmCalendarType.CLASS_BOOKING ? calendar : undefined;
  return readAppointmentBlocks(
    em,
    userIds,
    from,
    to,
    (b) => blocks.get(b.userId)!.push({ start: b.start, end: b.end, appointmentId: b.appointmentId, syncKey: b.sessionStart ? syncKeyOf({ id: b.appointmentId, startsAt: b.sessionStart, calendar }) : undefined }),
    sessions,
  );
}

/**
 * Everything that blocks the given users in [from, to): iCloud busy time of the calendars they check for
 * conflicts (unless `withBusy` is false: it comes from the `BusyTimeIndex`), and their active CRM appointments
 * on any calendar (with those calendars' buffers). Local index only: no request to iCloud while a booking page
 * waits. Read as plain rows: no entity is built.
 */
async function blocksOf(em: EntityManager, calendar: { id: string; type: CrmCalendarType }, userIds: string[], from: Date, to: Date, withBusy: boolean): Promise<Map<string, Block[]>> {
  const blocks = new Map<string, Block[]>(userIds.map((id) => [id, []]));
  await reads(em, [() => (withBusy ? addBusy(em, blocks, userIds, from, to) : Promise.resolve()), () => addAppointments(em, blocks, userIds, from, to, calendar)]);
  return blocks;
}

/** iCloud busy time of the users (see `busyScope`) with its calendar's name and the event's title, added to `blocks`. */
async function addBusyDetails(em: EntityManager, blocks: Map<string, ExplainedBlock[]>, userIds: string[], from: Date, to: Date): Promise<void> {
  const scope = busyScope(em, userIds, from, to);
  for (const b of await plainRows(em, `select b.user_id, b.starts_at, b.ends_at, b.title, c.name from ${scope.from} where ${scope.where} order by b.starts_at`, scope.params)) {
    blocks.get(b.user_id as string)!.push({ start: asDate(b.starts_at), end: asDate(b.ends_at), calendarName: b.name as string, title: (b.title as string | null) ?? null });
  }
}

/** How each user's iCloud stands: CONNECTED when one account is usable, else NEEDS_RECONNECT when one waits for a new password. */
async function connectionsOf(em: EntityManager, userIds: string[]): Promise<Map<string, MemberConnection>> {
  const out = new Map<string, MemberConnection>();
  if (!userIds.length) return out;
  for (const r of await plainRows(em, `select user_id, status from calendar_integration where user_id in (${placeholders(userIds.length)})`, userIds)) {
    const userId = r.user_id as string;
    const status = r.status as IntegrationStatus;
    if (status === IntegrationStatus.CONNECTED || status === IntegrationStatus.ERROR) out.set(userId, 'CONNECTED');
    else if (status === IntegrationStatus.NEEDS_RECONNECT && out.get(userId) !== 'CONNECTED') out.set(userId, 'NEEDS_RECONNECT');
  }
  return out;
}

/** Booked seats of a class calendar by start (ms) in [first, last], counted by the database. */
async function seatsTakenOf(em: EntityManager, calendar: { id: string }, first: Date, last: Date, ignoreAppointmentId?: string): Promise<Map<number, number>> {
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

/** The users' appointments of the calendar booked since `since` and still booked, read in `em`'s transaction. */
async function recentBookings(em: EntityManager, calendar: { id: string }, userIds: string[], since: Date): Promise<Map<string, RecentBooking[]>> {
  const booked = new Map<string, RecentBooking[]>(userIds.map((id) => [id, []]));
  await readRecentBookings(em, userIds, since, (userId, booking) => booked.get(userId)!.push(booking), calendar.id);
  return booked;
}

/** Longest range one `availableSlots` query may ask for. */
export const MAX_SLOT_RANGE_DAYS = 31;

/** A bookable slot as the API shows it: members by CRM user id, the start also in a chosen zone. */
export interface AvailableSlot {
  startsAt: Date;
  endsAt: Date;
  startsAtLocal: string;
  availableUserIds: string[];
  seatsLeft: number;
}

/** Availability of CRM calendars from the local index: no request to iCloud while a booking page waits. */
export class AvailabilityService {
  constructor(private readonly deps: { calendars: CrmCalendarService; busyIndex: BusyTimeIndex }) {}

  /**
   * Bookable slots of a calendar the caller may read, starting in [from, to) (at most `MAX_SLOT_RANGE_DAYS`),
   * `startsAtLocal` in `timezone` (default the calendar's). Throws `BAD_USER_INPUT` for a bad range or zone,
   * `NOT_FOUND` for a calendar the caller may not use.
   */
  async availableSlots(em: EntityManager, principal: Principal, calendarId: string, from: Date, to: Date, timezone?: string | null): Promise<AvailableSlot[]> {
    checkRange(from, to, MAX_SLOT_RANGE_DAYS);
    if (timezone && !isTimeZone(timezone)) throw new AppError('BAD_USER_INPUT', `timezone: "${timezone}" is not an IANA time zone name (for example "Europe/Berlin").`);
    const calendar = await this.deps.calendars.rules(em, principal, calendarId, 'read');
    const zone = timezone ?? calendar.timezone;
    // A page of slots may read iCloud busy time from memory: a booking checks the database again.
    const slots = (await this.slotsOf(em, calendar, from, to, new Date(), undefined, true)).filter((s) => s.assignTo.length > 0);
    const ids = new Map(calendar.members.map((m) => [m.userId, m.externalId]));
    return slots.map((s) => ({ startsAt: s.start, endsAt: s.end, startsAtLocal: formatLocal(s.start, zone), availableUserIds: s.availableUserIds.map((id) => ids.get(id)!), seatsLeft: s.seatsLeft }));
  }

  /**
   * Why a slot of a calendar the caller may read is or is not bookable, member by member (see `explainSlot`):
   * `bookable` exactly when `availableSlots` offers it; members by CRM user id; iCloud titles only for the
   * caller's own events.
   * Throws `BAD_USER_INPUT` for an invalid time, `NOT_FOUND` for a calendar the caller may not use.
   */
  async explain(em: EntityManager, principal: Principal, calendarId: string, startsAt: Date, now = new Date()): Promise<SlotExplanation> {
    if (Number.isNaN(startsAt.getTime())) throw new AppError('BAD_USER_INPUT', 'startsAt: not a valid time.');
    const calendar = await this.deps.calendars.get(em, principal, calendarId, 'read');
    const members = calendar.members.getItems();
    const userIds = members.map((m) => m.user.id);
    const margin = (calendar.bufferBeforeMinutes + calendar.bufferAfterMinutes + calendar.slotDurationMinutes) * 60000;
    const from = new Date(startsAt.getTime() - margin);
    const to = new Date(startsAt.getTime() + margin);
    const blocks = new Map<string, ExplainedBlock[]>(userIds.map((id) => [id, []]));
    const [, , connections, seatsTaken] = await reads(em, [
      () => (userIds.length ? addAppointments(em, blocks, userIds, from, to, calendar) : Promise.resolve()),
      () => (userIds.length ? addBusyDetails(em, blocks, userIds, from, to) : Promise.resolve()),
      () => connectionsOf(em, userIds),
      () => (calendar.type === CrmCalendarType.CLASS_BOOKING ? seatsTakenOf(em, calendar, startsAt, startsAt) : Promise.resolve(new Map<number, number>())),
    ] as const);
    const explained = explainSlot({
      calendar,
      startsAt,
      now,
      members: members.map((m) => ({ userId: m.user.id, priority: m.priority, recentCount: 0, connection: connections.get(m.user.id) ?? 'NOT_CONNECTED', ownTitles: m.user.externalId === principal.sub })),
      blocks,
      seatsTaken,
    });
    const ids = new Map(members.map((m) => [m.user.id, m.user.externalId]));
    return { ...explained, members: explained.members.map((m) => ({ ...m, userId: ids.get(m.userId)! })) };
  }

  /**
   * Availability of a CRM calendar for slots starting in [from, to), honouring minimum notice and the
   * booking window at `now`. Each slot says who is free, who a booking would go to, and seats left.
   * `fromIndex`: iCloud busy time from the `BusyTimeIndex` (a page of slots), not from the database in `em`'s
   * transaction (a booking, which must see every committed row).
   */
  async slotsOf(em: EntityManager, calendar: CalendarRules, from: Date, to: Date, now = new Date(), ignoreAppointmentId?: string, fromIndex = false): Promise<SlotAvailability[]> {
    const earliest = new Date(Math.max(from.getTime(), now.getTime() + calendar.minNoticeMinutes * 60000));
    const latest = new Date(Math.min(to.getTime(), now.getTime() + calendar.bookingWindowDays * DAY_MS));
    if (earliest >= latest) return [];
    const slots = candidateSlots(calendar, earliest, latest);
    if (slots.length === 0) return [];
    const members = calendar.members;
    const userIds = members.map((m) => m.userId);
    const margin = (calendar.bufferBeforeMinutes + calendar.bufferAfterMinutes + calendar.slotDurationMinutes) * 60000;
    const first = slots[0].start;
    const last = slots[slots.length - 1].start;
    // Seats matter to class sessions only, recent load to the ranking of round robin and service calendars only.
    const ranks = calendar.type === CrmCalendarType.ROUND_ROBIN || calendar.type === CrmCalendarType.SERVICE;
    const since = new Date(now.getTime() - RECENT_DAYS * DAY_MS);
    // A page of slots takes what blocks each member from the index; a class calendar's own sessions do not block
    // themselves, so its appointments are read with their sessions; a booking reads everything in its transaction.
    const indexed = fromIndex && userIds.length ? await this.deps.busyIndex.of(em, userIds, now.getTime()) : undefined;
    const withSessions = calendar.type === CrmCalendarType.CLASS_BOOKING;
    const blocksFromDatabase = userIds.length > 0 && (!indexed || withSessions);
    const [blocks, seatsTaken, booked] = await reads(em, [
      async () => (blocksFromDatabase ? blocksOf(em, calendar, userIds, new Date(first.getTime() - margin), new Date(slots[slots.length - 1].end.getTime() + margin), !indexed) : new Map<string, Block[]>()),
      async () => (calendar.type === CrmCalendarType.CLASS_BOOKING ? seatsTakenOf(em, calendar, first, last, ignoreAppointmentId) : new Map<number, number>()),
      async () => (!ranks || !userIds.length ? new Map<string, RecentBooking[]>() : indexed ? new Map([...indexed].map(([id, user]) => [id, user.booked])) : recentBookings(em, calendar, userIds, since)),
    ] as const);
    const recent = recentCounts(booked, calendar.id, since);
    const busy = indexed && new Map([...indexed].map(([id, user]) => [id, withSessions ? user.icloud : user.all]));
    const engineMembers: EngineMember[] = members.map((m) => ({ userId: m.userId, priority: m.priority, recentCount: recent.get(m.userId) ?? 0 }));
    return computeAvailability({ calendar, members: engineMembers, slots, blocks, busy, seatsTaken, ignoreAppointmentId });
  }
}
