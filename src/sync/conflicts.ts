import type { EntityManager } from '@mikro-orm/core';
import { Appointment, AppointmentAssignee, AppointmentStatus } from '../entities/appointment.entity';
import { ConflictKind, ConflictWarning } from '../entities/conflict-warning.entity';
import type { DesiredEvent } from './ical/event-renderer';
import type { Interval, ParsedEvent } from './ical/calendar-object';
import { appointmentsOf } from './sync-key';

const fmt = (d: Date) => d.toISOString().replace(':00.000Z', 'Z').replace('T', ' ');

/**
 * DOUBLE_BOOKING warnings for intervals of one source (an iCloud event, by href) that overlap active CRM
 * appointments of the user (other than `exceptAppointmentId`). One warning per source and appointment,
 * naming the first overlap, however many occurrences overlap it; a later sync does not repeat it while it
 * is unresolved. One query for all intervals: a series of thousands of occurrences costs the same.
 */
export async function doubleBookings(em: EntityManager, user: { id: string; tenantId: string }, intervals: Interval[], what: string, source: string, exceptAppointmentId?: string): Promise<ConflictWarning[]> {
  if (intervals.length === 0) return [];
  const from = new Date(Math.min(...intervals.map((i) => i.start.getTime())));
  const to = new Date(Math.max(...intervals.map((i) => i.end.getTime())));
  const hits = await em.find(
    AppointmentAssignee,
    { userId: user.id, active: true, appointment: { status: AppointmentStatus.BOOKED, startsAt: { $lt: to }, endsAt: { $gt: from }, ...(exceptAppointmentId ? { id: { $ne: exceptAppointmentId } } : {}) } },
    { populate: ['appointment'], orderBy: { appointment: { startsAt: 'asc' } } },
  );
  if (hits.length === 0) return [];
  const sorted = [...intervals].sort((a, b) => a.start.getTime() - b.start.getTime());
  const known = new Set(
    (await em.find(ConflictWarning, { userId: user.id, kind: ConflictKind.DOUBLE_BOOKING, source, resolved: false }, { fields: ['appointmentId'] })).map((w) => w.appointmentId),
  );
  const warnings: ConflictWarning[] = [];
  for (const { appointment } of hits) {
    const i = sorted.find((x) => x.start < appointment.endsAt && x.end > appointment.startsAt);
    if (!i || known.has(appointment.id)) continue;
    known.add(appointment.id);
    warnings.push(
      em.create(ConflictWarning, {
        tenantId: user.tenantId,
        userId: user.id,
        kind: ConflictKind.DOUBLE_BOOKING,
        appointmentId: appointment.id,
        source,
        message: `${what} (${fmt(i.start)} to ${fmt(i.end)}) overlaps the CRM appointment "${appointment.title}".`,
        startsAt: i.start,
        endsAt: i.end,
      }),
    );
  }
  return warnings;
}

/** The DELETED_IN_ICLOUD warning for a copy the user deleted in iCloud: the appointment stays, the user decides. */
export async function deletedWarning(em: EntityManager, user: { id: string; tenantId: string }, syncKey: string): Promise<ConflictWarning> {
  const appointment = await em.findOne(Appointment, appointmentsOf(syncKey), { orderBy: { createdAt: 'asc' } });
  return em.create(ConflictWarning, {
    tenantId: user.tenantId,
    userId: user.id,
    kind: ConflictKind.DELETED_IN_ICLOUD,
    appointmentId: appointment?.id ?? null,
    message: `"${appointment?.title ?? 'A CRM appointment'}" was deleted in iCloud. It stays booked in the CRM: push it back to iCloud or cancel it.`,
    startsAt: appointment?.startsAt ?? null,
    endsAt: appointment?.endsAt ?? null,
  });
}

/** The EDIT_CONFLICT warning when both sides changed a copy: says which version won and keeps the other. */
export function editConflictWarning(em: EntityManager, user: { id: string; tenantId: string }, crm: DesiredEvent, icloud: ParsedEvent | undefined, kept: 'crm' | 'icloud'): ConflictWarning {
  const lost = kept === 'icloud' ? { summary: crm.summary, startsAt: crm.start, endsAt: crm.end } : { summary: icloud?.summary, startsAt: icloud?.start, endsAt: icloud?.end };
  return em.create(ConflictWarning, {
    tenantId: user.tenantId,
    userId: user.id,
    kind: ConflictKind.EDIT_CONFLICT,
    appointmentId: crm.appointmentIds[0],
    message: `"${crm.summary}" was changed in the CRM and in iCloud; the ${kept === 'icloud' ? 'iCloud' : 'CRM'} version was kept (it is the later change).`,
    startsAt: crm.start,
    endsAt: crm.end,
    details: { lost },
  });
}
