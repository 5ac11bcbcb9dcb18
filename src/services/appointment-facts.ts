import type { EntityManager } from '@mikro-orm/core';
import type { Appointment } from '../entities/appointment.entity';
import { SyncState } from '../entities/sync-link.entity';
import { syncKeyOf } from '../sync/sync-key';
import { placeholders, plainRows, reads } from './plain-rows';

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

/**
 * The facts of `appointments`, in order: assignees as CRM user ids, and the worst sync state of their copies.
 * Two queries for the whole list (users, copies), read as plain rows; copies found by sync key in a map.
 */
export async function appointmentFacts(em: EntityManager, appointments: Appointment[]): Promise<AppointmentFacts[]> {
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
  return appointments.map((_, i) => {
    const assigned = assignedOf[i];
    let worst: { state: SyncState; lastError: string | null } | undefined;
    for (const l of linksByKey.get(keyOf[i]) ?? []) {
      if (assigned.includes(l.userId) && (!worst || SEVERITY.indexOf(l.state) < SEVERITY.indexOf(worst.state))) worst = l;
    }
    return { assignedUserIds: assigned.map((id) => users.get(id)!), syncState: worst?.state ?? SyncState.PENDING, syncError: worst?.lastError ?? null };
  });
}
