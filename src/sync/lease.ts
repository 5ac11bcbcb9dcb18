import type { EntityManager } from '@mikro-orm/core';
import { CalendarIntegration, IntegrationStatus } from '../entities/calendar-integration.entity';

/** A lease nobody holds, or one whose holder died (it was not renewed in time). */
const freeAt = (now: Date) => ({ $or: [{ leaseOwner: null }, { leaseUntil: null }, { leaseUntil: { $lt: now } }] });

/**
 * Claims the lease of one integration for `leaseSeconds` when it is free or expired. One conditional
 * UPDATE, atomic on SQLite and PostgreSQL alike: two processes never hold the same integration, and a
 * lease left by a crashed process simply expires. Returns whether `owner` now holds it.
 */
export async function claimLease(em: EntityManager, id: string, owner: string, leaseSeconds: number, now = new Date()): Promise<boolean> {
  const until = new Date(now.getTime() + leaseSeconds * 1000);
  return (await em.nativeUpdate(CalendarIntegration, { id, ...freeAt(now) }, { leaseOwner: owner, leaseUntil: until })) === 1;
}

/**
 * Claims up to `limit` integrations that are due (CONNECTED or ERROR, with a password, next sync time
 * passed) and not leased by a live process (see `claimLease`). Returns the claimed ids.
 */
export async function claimDue(em: EntityManager, owner: string, limit: number, leaseSeconds: number, now = new Date()): Promise<string[]> {
  const candidates = await em.find(
    CalendarIntegration,
    {
      status: { $in: [IntegrationStatus.CONNECTED, IntegrationStatus.ERROR] },
      passwordCipher: { $ne: null },
      $and: [{ $or: [{ nextSyncAt: null }, { nextSyncAt: { $lte: now } }] }, freeAt(now)],
    },
    { fields: ['id'], orderBy: { nextSyncAt: 'asc' }, limit: limit * 2 },
  );
  const claimed: string[] = [];
  for (const { id } of candidates) {
    if (claimed.length >= limit) break;
    if (await claimLease(em, id, owner, leaseSeconds, now)) claimed.push(id);
  }
  return claimed;
}

/** Extends a lease `owner` holds by `leaseSeconds` from now (a run still under way keeps it). Returns whether it still held it. */
export async function renewLease(em: EntityManager, id: string, owner: string, leaseSeconds: number): Promise<boolean> {
  return (await em.nativeUpdate(CalendarIntegration, { id, leaseOwner: owner }, { leaseUntil: new Date(Date.now() + leaseSeconds * 1000) })) === 1;
}

/** Gives a lease back (only if `owner` still holds it). */
export async function releaseLease(em: EntityManager, id: string, owner: string): Promise<void> {
  await em.nativeUpdate(CalendarIntegration, { id, leaseOwner: owner }, { leaseOwner: null, leaseUntil: null });
}
