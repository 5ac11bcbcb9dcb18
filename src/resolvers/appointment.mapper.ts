import type { EntityManager } from '@mikro-orm/core';
import type { Appointment } from '../entities/appointment.entity';
import { AppointmentSyncLink, SyncState } from '../entities/sync-link.entity';
import { User } from '../entities/user.entity';
import { syncKeyOf } from '../services/availability.service';
import type { AppointmentType } from './appointment.types';

/** Worst first: the state an appointment shows is the worst of its copies'. */
const SEVERITY = [SyncState.FAILED, SyncState.DELETED_IN_ICLOUD, SyncState.NOT_CONNECTED, SyncState.PENDING, SyncState.SYNCED];

/** Returns the API view of appointments (assignees as CRM user ids, the worst sync state of their copies). */
export async function toAppointmentDtos(em: EntityManager, appointments: Appointment[]): Promise<AppointmentType[]> {
  const userIds = [...new Set(appointments.flatMap((a) => a.assignees.getItems().map((x) => x.userId)))];
  const users = new Map((await em.find(User, { id: { $in: userIds } })).map((u) => [u.id, u.externalId]));
  const keys = [...new Set(appointments.map(syncKeyOf))];
  const links = await em.find(AppointmentSyncLink, { syncKey: { $in: keys } });
  return appointments.map((a) => {
    const assigned = a.assignees.getItems().map((x) => x.userId);
    const own = links.filter((l) => l.syncKey === syncKeyOf(a) && assigned.includes(l.userId));
    const worst = own.sort((x, y) => SEVERITY.indexOf(x.state) - SEVERITY.indexOf(y.state))[0];
    return {
      id: a.id,
      calendarId: a.calendar.id,
      startsAt: a.startsAt,
      endsAt: a.endsAt,
      title: a.title,
      notes: a.notes,
      location: a.location,
      status: a.status,
      assignedUserIds: assigned.map((id) => users.get(id)!),
      contact: { id: a.contact.id, name: a.contact.name, email: a.contact.email, phone: a.contact.phone },
      syncState: worst?.state ?? SyncState.PENDING,
      syncError: worst?.lastError ?? null,
    };
  });
}
