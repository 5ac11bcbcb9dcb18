import type { EntityManager } from '@mikro-orm/core';
import { Appointment, AppointmentStatus } from '../../entities/appointment.entity';
import { CrmCalendarType } from '../../entities/crm-calendar.entity';
import type { DesiredEvent } from '../ical/event-renderer';
import { appointmentsOf } from '../sync-key';

function contactLine(c: { name: string; email: string | null; phone: string | null }): string {
  return [c.name, c.email ? `<${c.email}>` : null, c.phone].filter(Boolean).join(' ');
}

/**
 * What the iCloud copy of `syncKey` in `userId`'s primary calendar should say now, rendered from the
 * CRM's current state (so outbox entries are idempotent), or null when it should not exist (cancelled,
 * reassigned, last seat freed). A class session is ONE event listing its booked seats, "Yoga (7/12)".
 */
export async function desiredEvent(em: EntityManager, syncKey: string, userId: string, uid: string): Promise<DesiredEvent | null> {
  const appointments = await em.find(
    Appointment,
    { ...appointmentsOf(syncKey), status: AppointmentStatus.BOOKED, assignees: { userId, active: true } },
    { populate: ['calendar', 'contact'], orderBy: { createdAt: 'asc' } },
  );
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
