import { CrmCalendarType, type OpenHours } from '../entities/crm-calendar.entity';
import { blockersOf, computeAvailability, type Block, type EngineCalendar, type EngineMember } from './availability.engine';
import { candidateSlots, type SlotRules } from './slots';
import { formatLocal, localDateOf } from './zoned-time';

const MINUTE = 60000;
const DAY = 86400000;
const WEEKDAYS = ['', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];

/** Why a slot, or one member at a slot, cannot be booked (or what is not known about a member). */
export enum AvailabilityReasonCode {
  OUTSIDE_OPEN_HOURS = 'OUTSIDE_OPEN_HOURS',
  MIN_NOTICE = 'MIN_NOTICE',
  BEYOND_BOOKING_WINDOW = 'BEYOND_BOOKING_WINDOW',
  OFF_GRID = 'OFF_GRID',
  SEATS_TAKEN = 'SEATS_TAKEN',
  CRM_APPOINTMENT = 'CRM_APPOINTMENT',
  ICLOUD_BUSY = 'ICLOUD_BUSY',
  NOT_CONNECTED = 'NOT_CONNECTED',
  NEEDS_RECONNECT = 'NEEDS_RECONNECT',
}

/** One reason; the block fields are set for CRM_APPOINTMENT and ICLOUD_BUSY. */
export interface AvailabilityReason {
  code: AvailabilityReasonCode;
  message: string;
  calendarName?: string | null;
  startsAt?: Date | null;
  endsAt?: Date | null;
  appointmentId?: string | null;
  /** The iCloud event's title, for its owner only. */
  title?: string | null;
}

/** A block with what the explanation says of it: an appointment (`appointmentId`), or iCloud busy time. */
export interface ExplainedBlock extends Block {
  calendarName?: string | null;
  title?: string | null;
}

/** How a member's iCloud account stands: their busy time is only as good as their connection. */
export type MemberConnection = 'CONNECTED' | 'NOT_CONNECTED' | 'NEEDS_RECONNECT';

export interface SlotExplanation {
  startsAt: Date;
  endsAt: Date;
  /** Exactly when `availableSlots` offers the slot. */
  bookable: boolean;
  /** What is wrong with the slot itself (open hours, grid, notice, window, seats). */
  reasons: AvailabilityReason[];
  /** Per member (internal user id): free or not, and what keeps them busy. */
  members: { userId: string; free: boolean; reasons: AvailabilityReason[] }[];
}

export interface ExplainInput {
  calendar: EngineCalendar & SlotRules & { minNoticeMinutes: number; bookingWindowDays: number };
  startsAt: Date;
  now: Date;
  members: (EngineMember & { connection: MemberConnection; ownTitles: boolean })[];
  blocks: ReadonlyMap<string, ExplainedBlock[]>;
  seatsTaken: ReadonlyMap<number, number>;
}

/**
 * Says why a slot of a CRM calendar is or is not bookable, member by member (pure: the blocks are read
 * beforehand). `bookable` is decided by the same candidate slots and the same engine as `availableSlots`,
 * so the two always agree; the reasons explain that decision. Titles of iCloud events are given only for
 * members with `ownTitles` (the caller's own events).
 */
export function explainSlot(input: ExplainInput): SlotExplanation {
  const { calendar, startsAt, now } = input;
  const start = startsAt.getTime();
  const slot = { start: startsAt, end: new Date(start + calendar.slotDurationMinutes * MINUTE) };
  const reasons: AvailabilityReason[] = [];
  const zone = calendar.timezone;

  const earliest = now.getTime() + calendar.minNoticeMinutes * MINUTE;
  // The same bounds as availableSlots: a start at or after now plus the notice, before now plus the window.
  if (start < now.getTime()) reasons.push({ code: AvailabilityReasonCode.MIN_NOTICE, message: 'This time is in the past.' });
  else if (start < earliest) reasons.push({ code: AvailabilityReasonCode.MIN_NOTICE, message: `This calendar needs ${calendar.minNoticeMinutes} minutes' notice: the earliest start is ${formatLocal(new Date(earliest), zone)}.` });
  const latest = now.getTime() + calendar.bookingWindowDays * DAY;
  if (start >= latest) reasons.push({ code: AvailabilityReasonCode.BEYOND_BOOKING_WINDOW, message: `Bookings open ${calendar.bookingWindowDays} days ahead: starts before ${formatLocal(new Date(latest), zone)} only.` });

  // The slots of the local days around the time: the same generator as availableSlots, on a wider window.
  const around = candidateSlots(calendar, new Date(start - DAY), new Date(start + DAY));
  const onGrid = around.some((s) => s.start.getTime() === start);
  if (!onGrid) reasons.push(gridReason(calendar, slot, around));

  const userIds = input.members.map((m) => m.userId);
  const [decided] = computeAvailability({ calendar, members: input.members, slots: [slot], blocks: input.blocks, seatsTaken: input.seatsTaken });
  const blockers = blockersOf({ calendar, userIds, slot, blocks: input.blocks });
  const members = input.members.map((m) => {
    const busy = blockers.get(m.userId) ?? [];
    const why: AvailabilityReason[] = busy.map((b) => blockReason(b as ExplainedBlock, m.ownTitles, zone));
    if (m.connection !== 'CONNECTED') why.push(connectionReason(m.connection));
    return { userId: m.userId, free: busy.length === 0, reasons: why };
  });
  const hostFree = members[0]?.free ?? false;
  if (calendar.type === CrmCalendarType.CLASS_BOOKING && hostFree && decided.seatsLeft === 0) {
    reasons.push({ code: AvailabilityReasonCode.SEATS_TAKEN, message: `All ${calendar.seatsPerSlot} seats of this session are taken.` });
  }
  const bookable = reasons.length === 0 && decided.assignTo.length > 0;
  return { startsAt: slot.start, endsAt: slot.end, bookable, reasons, members };
}

/** OFF_GRID when the time lies within open hours but no slot starts there; OUTSIDE_OPEN_HOURS otherwise. */
function gridReason(calendar: SlotRules, slot: { start: Date; end: Date }, around: { start: Date; end: Date }[]): AvailabilityReason {
  const start = slot.start.getTime();
  const end = slot.end.getTime();
  // Covered by the union of the day's slots: inside the open hours.
  let reach = start;
  for (const s of around) if (s.start.getTime() <= reach && s.end.getTime() > reach) reach = Math.max(reach, s.end.getTime());
  const local = localDateOf(slot.start, calendar.timezone);
  if (reach >= end) {
    const before = [...around].reverse().find((s) => s.start.getTime() < start);
    const after = around.find((s) => s.start.getTime() > start);
    const nearest = [before, after].filter((s) => s !== undefined).map((s) => formatLocal(s.start, calendar.timezone));
    return { code: AvailabilityReasonCode.OFF_GRID, message: `Slots start every ${calendar.slotIntervalMinutes} minutes from the opening; the nearest starts are ${nearest.join(' and ')}.` };
  }
  const hours = calendar.openHours.filter((h: OpenHours) => h.weekday === local.weekday).map((h) => `${h.start}-${h.end}`);
  const day = WEEKDAYS[local.weekday];
  return {
    code: AvailabilityReasonCode.OUTSIDE_OPEN_HOURS,
    message: hours.length
      ? `Open on ${day} ${hours.join(', ')} (${calendar.timezone}); a ${calendar.slotDurationMinutes}-minute slot at ${formatLocal(slot.start, calendar.timezone)} does not fit.`
      : `Closed on ${day} (${calendar.timezone}).`,
  };
}

function blockReason(b: ExplainedBlock, ownTitles: boolean, zone: string): AvailabilityReason {
  const span = `${formatLocal(b.start, zone)} to ${formatLocal(b.end, zone)}`;
  if (b.appointmentId) return { code: AvailabilityReasonCode.CRM_APPOINTMENT, message: `Booked in the CRM from ${span} (buffers included).`, appointmentId: b.appointmentId, startsAt: b.start, endsAt: b.end };
  return { code: AvailabilityReasonCode.ICLOUD_BUSY, message: `Busy in iCloud calendar "${b.calendarName ?? '?'}" from ${span}.`, calendarName: b.calendarName ?? null, startsAt: b.start, endsAt: b.end, title: ownTitles ? (b.title ?? null) : null };
}

function connectionReason(connection: Exclude<MemberConnection, 'CONNECTED'>): AvailabilityReason {
  return connection === 'NEEDS_RECONNECT'
    ? { code: AvailabilityReasonCode.NEEDS_RECONNECT, message: 'iCloud refused this member\'s app-specific password: busy time is as of the last sync until they reconnect.' }
    : { code: AvailabilityReasonCode.NOT_CONNECTED, message: 'This member has not connected iCloud: only CRM appointments block them.' };
}
