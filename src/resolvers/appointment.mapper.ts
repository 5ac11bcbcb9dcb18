import type { EntityManager } from '@mikro-orm/core';
import type { Appointment } from '../entities/appointment.entity';
import type { Services } from '../services';
import type { AppointmentType } from './appointment.types';

/** Returns the API view of appointments: their fields, with the facts the booking service reads for them. */
export async function toAppointmentDtos(em: EntityManager, services: Services, appointments: Appointment[]): Promise<AppointmentType[]> {
  const facts = await services.booking.facts(em, appointments);
  return appointments.map((a, i) => ({
    id: a.id,
    calendarId: a.calendar.id,
    startsAt: a.startsAt,
    endsAt: a.endsAt,
    title: a.title,
    notes: a.notes,
    location: a.location,
    status: a.status,
    contact: { id: a.contact.id, name: a.contact.name, email: a.contact.email, phone: a.contact.phone },
    ...facts[i],
  }));
}
