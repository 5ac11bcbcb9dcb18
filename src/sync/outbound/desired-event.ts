import type { EntityManager } from '@mikro-orm/core';
import { AppointmentStatus } from '../../entities/appointment.entity';
import { asDate, dateParam, plainRows } from '../../services/plain-rows';
import { CrmCalendarType } from '../../entities/crm-calendar.entity';
import type { DesiredEvent } from '../ical/event-renderer';
import { parseSyncKey } from '../sync-key';

function contactLine(c: { name: string; email: string | null; phone: string | null }): string {
  return [c.name, c.email ? `<${c.email}>` : null, c.phone].filter(Boolean).join(' ');
}

/**
 * What the iCloud copy of `syncKey` in `userId`'s primary calendar should say now, rendered from the
 * CRM's current state (so outbox entries are idempotent), or null when it should not exist (cancelled,
 * reassigned, last seat freed). A class session is ONE event listing its booked seats, "Yoga (7/12)".
 */
export async function desiredEvent(em: EntityManager, syncKey: string, userId: string, uid: string): Promise<DesiredEvent | null> {
  // Plain rows: every push reads this, and the populated em.find cost about 1 ms of CPU.
  const parts = parseSyncKey(syncKey);
  const [which, params] = parts.kind === 'appointment' ? ['a.id = ?', [parts.appointmentId]] : ['a.calendar_id = ? and a.starts_at = ?', [parts.calendarId, dateParam(em, parts.startsAt)]];
  const rows = await plainRows(
    em,
    `select a.id, a.starts_at, a.ends_at, a.updated_at, a.title, a.notes, a.location,
        cal.type, cal.name as calendar_name, cal.timezone, cal.seats_per_slot, c.name as contact_name, c.email, c.phone
      from appointment a join crm_calendar cal on cal.id = a.calendar_id join contact c on c.id = a.contact_id
      where ${which} and a.status = ?
        and exists (select 1 from appointment_assignee aa where aa.appointment_id = a.id and aa.user_id = ? and aa.active = ?)
      order by a.created_at asc, a.id asc`,
    [...params, AppointmentStatus.BOOKED, userId, true],
  );
  const appointments = rows.map((r) => ({
    id: r.id as string,
    startsAt: asDate(r.starts_at),
    endsAt: asDate(r.ends_at),
    updatedAt: asDate(r.updated_at),
    title: r.title as string,
    notes: (r.notes as string | null) ?? null,
    location: (r.location as string | null) ?? null,
    contact: { name: r.contact_name as string, email: (r.email as string | null) ?? null, phone: (r.phone as string | null) ?? null },
    calendar: { type: r.type as CrmCalendarType, name: r.calendar_name as string, timezone: r.timezone as string, seatsPerSlot: Number(r.seats_per_slot) },
  }));
  if (appointments.length === 0) return null;
  const first = appointments[0];
  const calendar = first.calendar;
  const lastModified = new Date(Math.max(...appointments.map((a) => a.updatedAt.getTime())));
  const common = { uid, start: first.startsAt, end: first.endsAt, timezone: calendar.timezone, lastModified, appointmentIds: appointments.map((a) => a.id) };
  if (calendar.type === CrmCalendarType.CLASS_BOOKING) {
    const seats = appointments.map((a, i) => `${i + 1}. ${contactLine(a.contact)}`);
    return {
      ...common,
      summary: `${calendar.name} (${appointments.length}/${calendar.seatsPerSlot})`,
      description: [`Booked seats (${appointments.length} of ${calendar.seatsPerSlot}):`, ...seats, '', 'Booked through the CRM.'].join('\n'),
      location: first.location,
    };
  }
  return {
    ...common,
    summary: first.title,
    description: [first.notes, `Contact: ${contactLine(first.contact)}`, `Calendar: ${calendar.name}`, 'Booked through the CRM.'].filter(Boolean).join('\n'),
    location: first.location,
  };
}
