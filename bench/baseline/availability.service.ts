// Baseline of bench/slots.ts: src/services/availability.service.ts as it was before the availability hot path was reworked (a copy, never used by the server).
import type { EntityManager } from '@mikro-orm/core';
import { computeAvailability, type Block, type EngineMember, type SlotAvailability } from './availability.engine';
import { candidateSlots } from './slots';
import { Appointment, AppointmentAssignee, AppointmentStatus } from '../../src/entities/appointment.entity';
import { BusyInterval } from '../../src/entities/busy-interval.entity';
import { IntegrationStatus } from '../../src/entities/calendar-integration.entity';
import { CrmCalendarType, type CrmCalendar } from '../../src/entities/crm-calendar.entity';
import { appointmentKey, classSessionKey } from '../../src/sync/sync-key';

const DAY_MS = 86400000;

/** The sync key of an appointment: its class session, or the appointment itself. */
export function syncKeyOf(appointment: { id: string; startsAt: Date; calendar: { id: string; type: CrmCalendarType } }): string {
  return appointment.calendar.type === CrmCalendarType.CLASS_BOOKING ? classSessionKey(appointment.calendar.id, appointment.startsAt) : appointmentKey(appointment.id);
}

/**
 * Everything that blocks the given users in [from, to): iCloud busy time of the calendars they check for
 * conflicts, and their active CRM appointments on any calendar (with those calendars' buffers). Local
 * index only: no request to iCloud while a booking page waits.
 */
async function blocksOf(em: EntityManager, userIds: string[], from: Date, to: Date): Promise<Map<string, Block[]>> {
  const blocks = new Map<string, Block[]>(userIds.map((id) => [id, []]));
  const busy = await em.find(BusyInterval, {
    userId: { $in: userIds },
    startsAt: { $lt: to },
    endsAt: { $gt: from },
    calendar: { checkForConflicts: true, integration: { status: { $ne: IntegrationStatus.DISCONNECTED } } },
  });
  for (const b of busy) blocks.get(b.userId)!.push({ start: b.startsAt, end: b.endsAt });
  const assigned = await em.find(
    AppointmentAssignee,
    { userId: { $in: userIds }, active: true, blockStart: { $lt: to }, blockEnd: { $gt: from } },
    { populate: ['appointment', 'appointment.calendar'] },
  );
  for (const a of assigned) {
    blocks.get(a.userId)!.push({ start: a.blockStart, end: a.blockEnd, syncKey: syncKeyOf(a.appointment), appointmentId: a.appointment.id });
  }
  return blocks;
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
  const blocks = await blocksOf(em, userIds, new Date(slots[0].start.getTime() - margin), new Date(slots[slots.length - 1].end.getTime() + margin));

  const booked = await em.find(
    Appointment,
    { calendar, status: AppointmentStatus.BOOKED, startsAt: { $gte: slots[0].start, $lte: slots[slots.length - 1].start }, ...(ignoreAppointmentId ? { id: { $ne: ignoreAppointmentId } } : {}) },
    { fields: ['startsAt'] },
  );
  const seatsTaken = new Map<number, number>();
  for (const a of booked) seatsTaken.set(a.startsAt.getTime(), (seatsTaken.get(a.startsAt.getTime()) ?? 0) + 1);

  const recent = await em.find(
    AppointmentAssignee,
    { userId: { $in: userIds }, appointment: { calendar, status: AppointmentStatus.BOOKED, createdAt: { $gte: new Date(now.getTime() - 30 * DAY_MS) } } },
    { fields: ['userId'] },
  );
  const engineMembers: EngineMember[] = members.map((m) => ({
    userId: m.user.id,
    priority: m.priority,
    recentCount: recent.filter((r) => r.userId === m.user.id).length,
  }));
  return computeAvailability({ calendar, members: engineMembers, slots, blocks, seatsTaken, ignoreAppointmentId });
}
