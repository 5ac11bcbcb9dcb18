// Baseline of bench/slots.ts: src/availability/availability.engine.ts as it was before the availability hot path was reworked (a copy, never used by the server).
import { CrmCalendarType, MemberPriority, RoundRobinMode } from '../../src/entities/crm-calendar.entity';
import { classSessionKey } from '../../src/sync/sync-key';
import type { Slot } from './slots';

/** Time a member cannot be booked: iCloud busy time, or an appointment with its buffers. */
export interface Block {
  start: Date;
  end: Date;
  /** Appointment blocks carry their sync key: a class session does not block its own further seats. */
  syncKey?: string;
  appointmentId?: string;
}

export interface EngineMember {
  /** Internal user id. */
  userId: string;
  priority: MemberPriority;
  /** Appointments of this calendar assigned to the member, booked in the last 30 days. */
  recentCount: number;
}

export interface EngineCalendar {
  id: string;
  type: CrmCalendarType;
  seatsPerSlot: number;
  bufferBeforeMinutes: number;
  bufferAfterMinutes: number;
  roundRobinMode: RoundRobinMode;
}

export interface SlotAvailability extends Slot {
  /** Internal ids of the members who could take it, best first for the calendar's rule. */
  availableUserIds: string[];
  seatsLeft: number;
  /** Who a booking of this slot is assigned to (empty when it cannot be booked). */
  assignTo: string[];
}


const RANK: Record<MemberPriority, number> = { HIGH: 0, MEDIUM: 1, LOW: 2 };

function overlaps(a: { start: Date; end: Date }, b: { start: Date; end: Date }): boolean {
  return a.start < b.end && b.start < a.end;
}

/**
 * Orders free members for round robin and service calendars. OPTIMIZE_FOR_AVAILABILITY: highest priority,
 * then fewest recent appointments. EQUAL_DISTRIBUTION: fewest recent appointments, then priority. Then by id,
 * so that the choice is deterministic.
 */
export function rankMembers(members: EngineMember[], mode: RoundRobinMode): EngineMember[] {
  const byPriority = (a: EngineMember, b: EngineMember) => RANK[a.priority] - RANK[b.priority];
  const byCount = (a: EngineMember, b: EngineMember) => a.recentCount - b.recentCount;
  const [first, second] = mode === RoundRobinMode.EQUAL_DISTRIBUTION ? [byCount, byPriority] : [byPriority, byCount];
  return [...members].sort((a, b) => first(a, b) || second(a, b) || a.userId.localeCompare(b.userId));
}

/**
 * Decides, for each candidate slot, who is free and whether it can be booked, from busy blocks read
 * beforehand (pure: no I/O). A member is free when nothing of theirs overlaps the slot widened by the
 * calendar's buffers. `seatsTaken` counts booked seats of class sessions by start (ms).
 * `ignoreAppointmentId` leaves one appointment out (rescheduling it).
 */
export function computeAvailability(input: {
  calendar: EngineCalendar;
  members: EngineMember[];
  slots: Slot[];
  blocks: ReadonlyMap<string, Block[]>;
  seatsTaken: ReadonlyMap<number, number>;
  ignoreAppointmentId?: string;
}): SlotAvailability[] {
  const { calendar, members } = input;
  const before = calendar.bufferBeforeMinutes * 60000;
  const after = calendar.bufferAfterMinutes * 60000;
  return input.slots.map((slot) => {
    const widened = { start: new Date(slot.start.getTime() - before), end: new Date(slot.end.getTime() + after) };
    const session = calendar.type === CrmCalendarType.CLASS_BOOKING ? classSessionKey(calendar.id, slot.start) : undefined;
    const isFree = (m: EngineMember) =>
      !(input.blocks.get(m.userId) ?? []).some(
        (b) =>
          (input.ignoreAppointmentId === undefined || b.appointmentId !== input.ignoreAppointmentId) &&
          (session === undefined || b.syncKey !== session) &&
          overlaps(b, widened),
      );
    const free = members.filter(isFree);
    switch (calendar.type) {
      case CrmCalendarType.CLASS_BOOKING: {
        const host = members[0];
        const seatsLeft = free.includes(host) ? calendar.seatsPerSlot - (input.seatsTaken.get(slot.start.getTime()) ?? 0) : 0;
        const ids = seatsLeft > 0 ? [host.userId] : [];
        return { ...slot, availableUserIds: ids, seatsLeft: Math.max(0, seatsLeft), assignTo: ids };
      }
      case CrmCalendarType.COLLECTIVE: {
        const all = free.length === members.length;
        const ids = all ? members.map((m) => m.userId) : [];
        return { ...slot, availableUserIds: ids, seatsLeft: all ? 1 : 0, assignTo: ids };
      }
      default: {
        const ranked = rankMembers(free, calendar.roundRobinMode).map((m) => m.userId);
        return { ...slot, availableUserIds: ranked, seatsLeft: ranked.length, assignTo: ranked.slice(0, 1) };
      }
    }
  });
}
