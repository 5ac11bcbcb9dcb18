import type { EntityManager } from '@mikro-orm/core';
import { CalendarIntegration, IntegrationStatus } from '../entities/calendar-integration.entity';
import { OutboxEntry } from '../entities/outbox-entry.entity';
import { dateParam, plainWrite } from '../services/plain-rows';

/** What is leased: an integration (by the reconciler and `syncNow`) or an outbox entry (by a drain). */
export type Leased = typeof CalendarIntegration | typeof OutboxEntry;

/** A lease nobody holds, or one whose holder died (it was not renewed in time). */
export const leaseFreeAt = (now: Date) => ({ $or: [{ leaseOwner: null }, { leaseUntil: null }, { leaseUntil: { $lt: now } }] });

/**
 * Claims the lease of one row for `leaseSeconds` when it is free or expired. One conditional UPDATE,
 * atomic on SQLite and PostgreSQL alike: two processes never hold the same row, and a lease left by a
 * crashed process simply expires. `still` adds conditions the row must still meet in the same UPDATE. Returns
 * whether `owner` now holds it.
 */
export async function claimLease(em: EntityManager, entity: Leased, id: string, owner: string, leaseSeconds: number, now = new Date(), still: object = {}): Promise<boolean> {
  const until = new Date(now.getTime() + leaseSeconds * 1000);
  if (Object.keys(still).length === 0) {
    // The common claim (each outbox entry) as plain SQL: the same conditional UPDATE, without the query building.
    const table = em.getMetadata().get(entity.name).tableName;
    const sql = `update "${table}" set lease_owner = ?, lease_until = ? where id = ? and (lease_owner is null or lease_until is null or lease_until < ?)`;
    return (await plainWrite(em, sql, [owner, dateParam(em, until), id, dateParam(em, now)])) === 1;
  }
  return (await em.nativeUpdate(entity as typeof CalendarIntegration, { id, $and: [leaseFreeAt(now), still] }, { leaseOwner: owner, leaseUntil: until })) === 1;
}

/**
 * Claims up to `limit` integrations that are due (CONNECTED or ERROR, with a password, next sync time
 * passed) and not leased by a live process (see `claimLease`). Returns the claimed ids.
 */
export async function claimDue(em: EntityManager, owner: string, limit: number, leaseSeconds: number, now = new Date()): Promise<string[]> {
  const due = { $or: [{ nextSyncAt: null }, { nextSyncAt: { $lte: now } }] };
  const candidates = await em.find(
    CalendarIntegration,
    {
      status: { $in: [IntegrationStatus.CONNECTED, IntegrationStatus.ERROR] },
      passwordCipher: { $ne: null },
      $and: [due, leaseFreeAt(now)],
    },
    { fields: ['id'], orderBy: { nextSyncAt: 'asc' }, limit: limit * 2 },
  );
  const claimed: string[] = [];
  for (const { id } of candidates) {
    if (claimed.length >= limit) break;
    // Still due when claimed: another instance may have synced it, and let its lease go, since it was listed
    // (found by the multi-instance test: a second run 478 ms after the first).
    if (await claimLease(em, CalendarIntegration, id, owner, leaseSeconds, now, due)) claimed.push(id);
  }
  return claimed;
}

/** Extends a lease `owner` holds by `leaseSeconds` from now (a run still under way keeps it). Returns whether it still held it. */
export async function renewLease(em: EntityManager, entity: Leased, id: string, owner: string, leaseSeconds: number): Promise<boolean> {
  return (await em.nativeUpdate(entity as typeof CalendarIntegration, { id, leaseOwner: owner }, { leaseUntil: new Date(Date.now() + leaseSeconds * 1000) })) === 1;
}

/**
 * Gives a lease back (only if `owner` still holds it), setting `fields` in the same UPDATE (an outbox
 * entry's next attempt). Returns whether it still held it.
 */
export async function releaseLease<T extends Leased>(em: EntityManager, entity: T, id: string, owner: string, fields: Partial<InstanceType<T>> = {}): Promise<boolean> {
  return (await em.nativeUpdate(entity as typeof CalendarIntegration, { id, leaseOwner: owner }, { ...(fields as object), leaseOwner: null, leaseUntil: null })) === 1;
}

/** Gives back every lease the `owners` hold (a shutdown that cannot wait for their work). Returns how many. */
export async function releaseAllLeases(em: EntityManager, owners: string[]): Promise<number> {
  let released = 0;
  for (const entity of [CalendarIntegration, OutboxEntry] as Leased[]) {
    released += await em.nativeUpdate(entity as typeof CalendarIntegration, { leaseOwner: { $in: owners } }, { leaseOwner: null, leaseUntil: null });
  }
  return released;
}
