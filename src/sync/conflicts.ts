import type { EntityManager } from '@mikro-orm/core';
import { Appointment, AppointmentStatus } from '../entities/appointment.entity';
import { ConflictKind, ConflictWarning } from '../entities/conflict-warning.entity';
import type { DesiredEvent } from './ical/event-renderer';
import type { Interval, ParsedEvent } from './ical/calendar-object';
import { appointmentsOf } from './sync-key';
import { asDate, dateParam, plainRows } from '../services/plain-rows';

const fmt = (d: Date) => d.toISOString().replace(':00.000Z', 'Z').replace('T', ' ');

interface Booking {
  id: string;
  title: string;
  startsAt: Date;
  endsAt: Date;
}

/**
 * DOUBLE_BOOKING warnings for new busy time: the user's active CRM bookings that the busy time of a whole
 * sync could overlap are read once (`load`), then each source (an iCloud event, by href) is checked in
 * memory (`warn`). One warning per source and appointment, naming the first overlap, however many
 * occurrences overlap it; a later sync does not repeat it while it is unresolved. Two queries per sync,
 * however many objects or occurrences: an import of thousands of objects made one query per object before.
 */
export class DoubleBookingCheck {
  private constructor(
    private readonly em: EntityManager,
    private readonly user: { id: string; tenantId: string },
    /** By start. */
    private readonly bookings: Booking[],
    /** `source appointmentId` of the unresolved warnings. */
    private readonly known: Set<string>,
  ) {}

  /** Reads the user's bookings overlapping the span of `intervals` (other than `exceptAppointmentId`) and the unresolved warnings about them. */
  static async load(em: EntityManager, user: { id: string; tenantId: string }, intervals: Interval[], exceptAppointmentId?: string): Promise<DoubleBookingCheck> {
    const span = spanOf(intervals);
    if (!span) return new DoubleBookingCheck(em, user, [], new Set());
    const rows = await plainRows(
      em,
      'select a.id, a.title, a.starts_at, a.ends_at from appointment_assignee aa join appointment a on a.id = aa.appointment_id ' +
        'where aa.user_id = ? and aa.active = ? and aa.block_end > ? and a.status = ? and a.starts_at < ? and a.ends_at > ? order by a.starts_at',
      [user.id, true, dateParam(em, span.start), AppointmentStatus.BOOKED, dateParam(em, span.end), dateParam(em, span.start)],
    );
    const bookings = rows
      .filter((r) => r.id !== exceptAppointmentId)
      .map((r) => ({ id: String(r.id), title: String(r.title), startsAt: asDate(r.starts_at), endsAt: asDate(r.ends_at) }));
    if (bookings.length === 0) return new DoubleBookingCheck(em, user, [], new Set());
    const warned = await plainRows(em, 'select source, appointment_id from conflict_warning where tenant_id = ? and user_id = ? and resolved = ? and kind = ?', [
      user.tenantId,
      user.id,
      false,
      ConflictKind.DOUBLE_BOOKING,
    ]);
    return new DoubleBookingCheck(em, user, bookings, new Set(warned.map((w) => `${w.source} ${w.appointment_id}`)));
  }

  /** The new warnings (created in the `em`) for `intervals` of `source`, described as `what`. */
  warn(intervals: Interval[], what: string, source: string): ConflictWarning[] {
    const span = spanOf(intervals);
    if (!span || this.bookings.length === 0) return [];
    const sorted = [...intervals].sort((a, b) => a.start.getTime() - b.start.getTime());
    const warnings: ConflictWarning[] = [];
    for (const appointment of this.bookings) {
      if (appointment.startsAt >= span.end) break;
      if (appointment.endsAt <= span.start || this.known.has(`${source} ${appointment.id}`)) continue;
      const i = sorted.find((x) => x.start < appointment.endsAt && x.end > appointment.startsAt);
      if (!i) continue;
      this.known.add(`${source} ${appointment.id}`);
      warnings.push(
        this.em.create(ConflictWarning, {
          tenantId: this.user.tenantId,
          userId: this.user.id,
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
}

/** The earliest start and latest end of `intervals` (a loop: a spread of 100,000 occurrences overflows the stack). */
function spanOf(intervals: Interval[]): Interval | undefined {
  if (intervals.length === 0) return undefined;
  let start = intervals[0].start;
  let end = intervals[0].end;
  for (const i of intervals) {
    if (i.start < start) start = i.start;
    if (i.end > end) end = i.end;
  }
  return { start, end };
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
