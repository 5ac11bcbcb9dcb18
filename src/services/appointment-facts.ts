import type { EntityManager } from '@mikro-orm/core';
import type { AppointmentStatus } from '../entities/appointment.entity';
import type { CrmCalendarType } from '../entities/crm-calendar.entity';
import { SyncState } from '../entities/sync-link.entity';
import { syncKeyOf } from '../sync/sync-key';
import { asDate, dateParam, placeholders, plainRows, reads } from './plain-rows';

/** What the API shows of appointments besides their own fields: assignees' CRM ids and the worst state of their copies. */
export interface AppointmentFacts {
  assignedUserIds: string[];
  syncState: SyncState;
  syncError: string | null;
}

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

/** What the facts of an appointment are read from: its sync key's parts and its assignees (internal ids). */
export interface AppointmentKeys {
  id: string;
  startsAt: Date;
  calendar: { id: string; type: CrmCalendarType };
  assigneeIds: string[];
}

/**
 * The facts of `appointments`, in order: assignees as CRM user ids, and the worst sync state of their copies.
 * Two queries for the whole list (users, copies), read as plain rows; copies found by sync key in a map.
 */
export async function appointmentFacts(em: EntityManager, appointments: AppointmentKeys[]): Promise<AppointmentFacts[]> {
  const assignedOf = appointments.map((a) => a.assigneeIds);
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
  return appointments.map((_, i) => {
    const assigned = assignedOf[i];
    let worst: { state: SyncState; lastError: string | null } | undefined;
    for (const l of linksByKey.get(keyOf[i]) ?? []) {
      if (assigned.includes(l.userId) && (!worst || SEVERITY.indexOf(l.state) < SEVERITY.indexOf(worst.state))) worst = l;
    }
    return { assignedUserIds: assigned.map((id) => users.get(id)!), syncState: worst?.state ?? SyncState.PENDING, syncError: worst?.lastError ?? null };
  });
}

/** An appointment as the API shows it, with its contact and facts: plain data, no entity. */
export interface AppointmentView extends AppointmentFacts {
  id: string;
  calendarId: string;
  startsAt: Date;
  endsAt: Date;
  title: string;
  notes: string | null;
  location: string | null;
  status: AppointmentStatus;
  contact: { id: string; name: string; email: string | null; phone: string | null };
}

/**
 * Appointments of the tenant that `userId` (internal id) is or was assigned to, overlapping [from, to), by start,
 * with their contacts and facts: four queries, plain rows (an ORM list hydrated about 100 µs per entity).
 */
export async function appointmentViews(em: EntityManager, tenantId: string, userId: string, from: Date, to: Date): Promise<AppointmentView[]> {
  // Driven by the user's assignments (index on user_id, block_end): a block ends no earlier than its appointment
  // (buffers are never negative, and an iCloud edit moves both), so `block_end > from` only narrows. Read from
  // the tenant's appointments instead, every list cost a scan of all of them.
  const rows = await plainRows(
    em,
    `select distinct a.id, a.calendar_id, a.starts_at, a.ends_at, a.title, a.notes, a.location, a.status, cal.type,
        c.id as contact_id, c.name as contact_name, c.email as contact_email, c.phone as contact_phone
      from appointment_assignee aa join appointment a on a.id = aa.appointment_id
        join contact c on c.id = a.contact_id join crm_calendar cal on cal.id = a.calendar_id
      where aa.user_id = ? and aa.block_end > ? and a.tenant_id = ? and a.starts_at < ? and a.ends_at > ?
      order by a.starts_at asc, a.id asc`,
    [userId, dateParam(em, from), tenantId, dateParam(em, to), dateParam(em, from)],
  );
  const assignees = new Map<string, string[]>();
  for (const r of await rowsWhereIn(em, 'select appointment_id, user_id from appointment_assignee', 'appointment_id', rows.map((r) => r.id as string))) {
    const id = r.appointment_id as string;
    assignees.set(id, [...(assignees.get(id) ?? []), r.user_id as string]);
  }
  const keys = rows.map((r) => ({ id: r.id as string, startsAt: asDate(r.starts_at), calendar: { id: r.calendar_id as string, type: r.type as CrmCalendarType }, assigneeIds: assignees.get(r.id as string) ?? [] }));
  const facts = await appointmentFacts(em, keys);
  return rows.map((r, i) => ({
    id: keys[i].id,
    calendarId: keys[i].calendar.id,
    startsAt: keys[i].startsAt,
    endsAt: asDate(r.ends_at),
    title: r.title as string,
    notes: (r.notes as string | null) ?? null,
    location: (r.location as string | null) ?? null,
    status: r.status as AppointmentStatus,
    contact: { id: r.contact_id as string, name: r.contact_name as string, email: (r.contact_email as string | null) ?? null, phone: (r.contact_phone as string | null) ?? null },
    ...facts[i],
  }));
}
