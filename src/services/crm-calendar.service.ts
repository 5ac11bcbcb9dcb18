import type { EntityManager } from '@mikro-orm/core';
import type { Principal } from '../auth/jwt';
import { CrmCalendar, CrmCalendarMember, CrmCalendarType, MemberPriority, RoundRobinMode, type OpenHours } from '../entities/crm-calendar.entity';
import { User } from '../entities/user.entity';
import type { CalendarRules } from '../availability/calendar-rules';
import { AppError } from '../errors';
import { isTimeZone } from '../sync/ical/timezones';
import { findBy, plainRows, populateBy, reads } from './plain-rows';

export interface CrmCalendarInput {
  name: string;
  type: CrmCalendarType;
  timezone: string;
  slotDurationMinutes: number;
  slotIntervalMinutes?: number | null;
  bufferBeforeMinutes?: number | null;
  bufferAfterMinutes?: number | null;
  seatsPerSlot?: number | null;
  roundRobinMode?: RoundRobinMode | null;
  minNoticeMinutes?: number | null;
  bookingWindowDays?: number | null;
  openHours: OpenHours[];
  teamMembers: { userId: string; priority?: MemberPriority | null; isPrimary?: boolean | null }[];
}

const HHMM = /^([01]\d|2[0-3]):[0-5]\d$|^24:00$/;

function bad(message: string): never {
  throw new AppError('BAD_USER_INPUT', message);
}

function checkRange(value: number, min: number, max: number, name: string): number {
  if (!Number.isInteger(value) || value < min || value > max) bad(`${name} must be a whole number from ${min} to ${max}.`);
  return value;
}

/**
 * The calendar when the caller may use it for `purpose`: admins (and support, read-only) every calendar of
 * their tenant (`found` was looked up in it), users those they are a member of. Throws `NOT_FOUND` otherwise
 * (whether it exists elsewhere is not told), `FORBIDDEN` when support tries to book.
 */
function checkAccess<T>(principal: Principal, id: string, purpose: 'read' | 'book', found: T | null | undefined, memberSubs: string[] | undefined): T {
  if (!found || (principal.role === 'user' && !memberSubs?.includes(principal.sub))) throw new AppError('NOT_FOUND', `No calendar ${id} you may use.`);
  if (purpose === 'book' && principal.role === 'support') throw new AppError('FORBIDDEN', 'Support access is read-only.');
  return found;
}

/** Checks what each calendar type requires; throws `BAD_USER_INPUT` naming the first problem. */
function validate(input: CrmCalendarInput): void {
  if (!input.name.trim()) bad('name must not be empty.');
  if (!isTimeZone(input.timezone)) bad(`"${input.timezone}" is not an IANA time zone name (for example "Europe/Berlin").`);
  checkRange(input.slotDurationMinutes, 5, 1440, 'slotDurationMinutes');
  checkRange(input.slotIntervalMinutes ?? input.slotDurationMinutes, 5, 1440, 'slotIntervalMinutes');
  checkRange(input.bufferBeforeMinutes ?? 0, 0, 720, 'bufferBeforeMinutes');
  checkRange(input.bufferAfterMinutes ?? 0, 0, 720, 'bufferAfterMinutes');
  checkRange(input.seatsPerSlot ?? 1, 1, 9999, 'seatsPerSlot');
  checkRange(input.minNoticeMinutes ?? 0, 0, 525600, 'minNoticeMinutes');
  checkRange(input.bookingWindowDays ?? 60, 1, 730, 'bookingWindowDays');
  if (input.openHours.length === 0) bad('openHours must name at least one weekday.');
  for (const h of input.openHours) {
    checkRange(h.weekday, 1, 7, 'openHours.weekday (1 = Monday .. 7 = Sunday)');
    if (!HHMM.test(h.start) || !HHMM.test(h.end) || h.start >= h.end) bad(`openHours ${h.start}-${h.end} must be "HH:MM" with start before end.`);
  }
  const members = input.teamMembers;
  if (new Set(members.map((m) => m.userId)).size !== members.length) bad('teamMembers lists a user twice.');
  const primaries = members.filter((m) => m.isPrimary).length;
  switch (input.type) {
    case CrmCalendarType.CLASS_BOOKING:
      if (members.length !== 1) bad('A class booking calendar has exactly one team member: its host.');
      break;
    case CrmCalendarType.COLLECTIVE:
      if (members.length < 2) bad('A collective calendar needs at least two team members.');
      if (primaries !== 1) bad('A collective calendar needs exactly one primary owner (isPrimary).');
      break;
    default:
      if (members.length < 1) bad(`A ${input.type === CrmCalendarType.SERVICE ? 'service needs its staff' : 'round robin calendar needs team members'}.`);
  }
  if (input.type !== CrmCalendarType.CLASS_BOOKING && (input.seatsPerSlot ?? 1) !== 1) bad('seatsPerSlot applies to class booking calendars only.');
}

/** Returns the user of a tenant by CRM id, creating the record on first sight (members may not have logged in yet). */
async function userOf(em: EntityManager, tenantId: string, externalId: string): Promise<User> {
  return (await em.findOne(User, { tenantId, externalId })) ?? em.create(User, { tenantId, externalId });
}

/** The settings of a validated input, defaults filled in. */
function settingsOf(input: CrmCalendarInput) {
  return {
    name: input.name.trim(),
    timezone: input.timezone,
    slotDurationMinutes: input.slotDurationMinutes,
    slotIntervalMinutes: input.slotIntervalMinutes ?? input.slotDurationMinutes,
    bufferBeforeMinutes: input.bufferBeforeMinutes ?? 0,
    bufferAfterMinutes: input.bufferAfterMinutes ?? 0,
    seatsPerSlot: input.seatsPerSlot ?? 1,
    roundRobinMode: input.roundRobinMode ?? RoundRobinMode.OPTIMIZE_FOR_AVAILABILITY,
    minNoticeMinutes: input.minNoticeMinutes ?? 0,
    bookingWindowDays: input.bookingWindowDays ?? 60,
    openHours: input.openHours.map(({ weekday, start, end }) => ({ weekday, start, end })),
  };
}

async function addMembers(em: EntityManager, calendar: CrmCalendar, tenantId: string, members: CrmCalendarInput['teamMembers']): Promise<void> {
  for (const m of members) {
    const user = await userOf(em, tenantId, m.userId);
    calendar.members.add(em.create(CrmCalendarMember, { calendar, user, priority: m.priority ?? MemberPriority.MEDIUM, isPrimary: Boolean(m.isPrimary) }));
  }
}

/** CRM calendars: created and edited by tenant admins, read by their members (and support). */
export class CrmCalendarService {
  /** Creates a CRM calendar. Admins of the tenant only: throws `FORBIDDEN` for others, `BAD_USER_INPUT` for invalid input. */
  async create(em: EntityManager, principal: Principal, input: CrmCalendarInput): Promise<CrmCalendar> {
    if (principal.role !== 'admin') throw new AppError('FORBIDDEN', 'Only an admin of the tenant can create calendars.');
    validate(input);
    const calendar = em.create(CrmCalendar, { tenantId: principal.tenantId, type: input.type, ...settingsOf(input) });
    await addMembers(em, calendar, principal.tenantId, input.teamMembers);
    await em.flush();
    return calendar;
  }

  /**
   * Replaces a calendar's settings, open hours and team (admins only; the type cannot change). Existing
   * appointments keep their times and assignees. Throws `FORBIDDEN`, `NOT_FOUND` or `BAD_USER_INPUT`.
   */
  async update(em: EntityManager, principal: Principal, id: string, input: CrmCalendarInput): Promise<CrmCalendar> {
    if (principal.role !== 'admin') throw new AppError('FORBIDDEN', 'Only an admin of the tenant can edit calendars.');
    const calendar = await this.get(em, principal, id, 'book');
    if (input.type !== calendar.type) bad(`The type of a calendar cannot change (it is ${calendar.type}): create a new calendar instead.`);
    validate(input);
    Object.assign(calendar, settingsOf(input));
    const wanted = new Map(input.teamMembers.map((m) => [m.userId, m]));
    for (const member of calendar.members.getItems()) {
      const m = wanted.get(member.user.externalId);
      if (!m) calendar.members.remove(member);
      else Object.assign(member, { priority: m.priority ?? MemberPriority.MEDIUM, isPrimary: Boolean(m.isPrimary) });
      wanted.delete(member.user.externalId);
    }
    await addMembers(em, calendar, principal.tenantId, [...wanted.values()]);
    await em.flush();
    return calendar;
  }

  /**
   * Loads a calendar the caller may use, with its members. Admins (and support, read-only) reach every
   * calendar of their tenant, users those they belong to. Throws `NOT_FOUND` for anything else, `FORBIDDEN`
   * when support tries to book.
   */
  async get(em: EntityManager, principal: Principal, id: string, purpose: 'read' | 'book'): Promise<CrmCalendar> {
    const [calendar] = await withMembers(em, await findBy(em, CrmCalendar, { id, tenantId: principal.tenantId }));
    return checkAccess(principal, id, purpose, calendar, calendar?.members.getItems().map((m) => m.user.externalId));
  }

  /**
   * The availability rules of a calendar the caller may use (the same access as `get`), read as plain rows
   * in two queries: no entity is built, for a page of slots. Throws `NOT_FOUND` or `FORBIDDEN` as `get` does.
   */
  async rules(em: EntityManager, principal: Principal, id: string, purpose: 'read' | 'book'): Promise<CalendarRules> {
    const [[row], members] = await reads(em, [
      () => plainRows(em, `select * from crm_calendar where id = ? and tenant_id = ?`, [id, principal.tenantId]),
      // The order of the entity's collection: rows as the index on calendar_id gives them.
      () => plainRows(em, `select m.user_id, m.priority, u.external_id from crm_calendar_member m join "user" u on u.id = m.user_id where m.calendar_id = ?`, [id]),
    ] as const);
    const rules: CalendarRules | undefined = row && {
      id: row.id as string,
      tenantId: row.tenant_id as string,
      type: row.type as CrmCalendarType,
      timezone: row.timezone as string,
      openHours: (typeof row.open_hours === 'string' ? JSON.parse(row.open_hours) : row.open_hours) as OpenHours[],
      slotDurationMinutes: Number(row.slot_duration_minutes),
      slotIntervalMinutes: Number(row.slot_interval_minutes),
      bufferBeforeMinutes: Number(row.buffer_before_minutes),
      bufferAfterMinutes: Number(row.buffer_after_minutes),
      seatsPerSlot: Number(row.seats_per_slot),
      roundRobinMode: row.round_robin_mode as RoundRobinMode,
      minNoticeMinutes: Number(row.min_notice_minutes),
      bookingWindowDays: Number(row.booking_window_days),
      members: members.map((m) => ({ userId: m.user_id as string, externalId: m.external_id as string, priority: m.priority as MemberPriority })),
    };
    return checkAccess(principal, id, purpose, rules, rules?.members.map((m) => m.externalId));
  }

  /** The calendars the caller may use: the whole tenant for admins and support, their own for users (plain-row reads). */
  async list(em: EntityManager, principal: Principal): Promise<CrmCalendar[]> {
    const ids = (
      principal.role === 'user'
        ? await plainRows(em, `select m.calendar_id as id from crm_calendar_member m join "user" u on u.id = m.user_id where u.tenant_id = ? and u.external_id = ?`, [principal.tenantId, principal.sub])
        : await plainRows(em, `select id from crm_calendar where tenant_id = ?`, [principal.tenantId])
    ).map((r) => r.id as string);
    return withMembers(em, await findBy(em, CrmCalendar, { id: [...new Set(ids)], tenantId: principal.tenantId }, { orderBy: { name: 'asc', id: 'asc' } }));
  }
}

/**
 * `calendars` with their members and the members' users loaded (two plain-row reads; the joined populate cost
 * about 2 ms of CPU, mostly in hydration). Members come in the order of the index on calendar_id, as `rules`
 * reads them.
 */
async function withMembers(em: EntityManager, calendars: CrmCalendar[]): Promise<CrmCalendar[]> {
  await populateBy(em, calendars, 'members', CrmCalendarMember, 'calendar');
  await findBy(em, User, { id: [...new Set(calendars.flatMap((c) => c.members.getItems().map((m) => m.user.id)))] });
  return calendars;
}
