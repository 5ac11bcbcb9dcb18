import type { EntityManager } from '@mikro-orm/core';
import type { Appointment } from '../entities/appointment.entity';
import { SyncState } from '../entities/sync-link.entity';
import { placeholders, plainRows, reads } from '../services/availability.service';
import { syncKeyOf } from '../sync/sync-key';
import type { AppointmentType } from './appointment.types';

/** Worst first: the state an appointment shows is the worst of its copies'. */
const SEVERITY = [SyncState.FAILED, SyncState.DELETED_IN_ICLOUD, SyncState.NOT_CONNECTED, SyncState.PENDING, SyncState.SYNCED];

/** Ids per query: well under the parameter limits of SQLite and PostgreSQL. */
const CHUNK = 500;

/** Plain rows of `select ... where <column> in (ids)`, `ids` cut into chunks. */
async function rowsWhereIn(em: EntityManager, select: string, column: string, ids: string[]): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (let i = 0; i < ids.length; i += CHUNK) {
    const chunk = ids.slice(i, i + CHUNK);
    out.push(...(await plainRows(em, `${select} where ${column} in (${placeholders(chunk.length)})`, chunk)));
  }
  return out;
}

/**
 * Returns the API view of appointments (assignees as CRM user ids, the worst sync state of their copies).
 * Two queries for the whole list (users, copies), read as plain rows; copies found by sync key in a map.
 */
export async function toAppointmentDtos(em: EntityManager, appointments: Appointment[]): Promise<AppointmentType[]> {
  const assignedOf = appointments.map((a) => a.assignees.getItems().map((x) => x.userId));
  const keyOf = appointments.map(syncKeyOf);
  const [userRows, linkRows] = await reads(em, [
    () => rowsWhereIn(em, 'select id, external_id from "user"', 'id', [...new Set(assignedOf.flat())]),
    () => rowsWhereIn(em, 'select sync_key, user_id, state, last_error from appointment_sync_link', 'sync_key', [...new Set(keyOf)]),
  ] as const);
  const users = new Map(userRows.map((u) => [u.id as string, u.external_id as string]));
  const linksByKey = new Map<string, { userId: string; state: SyncState; lastError: string | null }[]>();
  for (const l of linkRows) {
    const key = l.sync_key as string;
    let list = linksByKey.get(key);
    if (!list) linksByKey.set(key, (list = []));
    list.push({ userId: l.user_id as string, state: l.state as SyncState, lastError: (l.last_error as string | null) ?? null });
  }
  return appointments.map((a, i) => {
    const assigned = assignedOf[i];
    let worst: { state: SyncState; lastError: string | null } | undefined;
    for (const l of linksByKey.get(keyOf[i]) ?? []) {
      if (assigned.includes(l.userId) && (!worst || SEVERITY.indexOf(l.state) < SEVERITY.indexOf(worst.state))) worst = l;
    }
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
