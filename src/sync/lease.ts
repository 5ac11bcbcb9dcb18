import type { EntityManager } from '@mikro-orm/core';
import { CalendarIntegration, IntegrationStatus } from '../entities/calendar-integration.entity';

/**
 * Claims up to `limit` integrations that are due (CONNECTED or ERROR, with a password, next sync time
 * passed) and not leased by a live process, for `leaseSeconds`. Each claim is one conditional UPDATE,
 * atomic on SQLite and PostgreSQL alike: two processes never hold the same integration, and a lease left
 * by a crashed process simply expires. Returns the claimed ids.
 */
export async function claimDue(em: EntityManager, owner: string, limit: number, leaseSeconds: number, now = new Date()): Promise<string[]> {
  const free = { $or: [{ leaseUntil: null }, { leaseUntil: { $lt: now } }] };
  const candidates = await em.find(
    CalendarIntegration,
    {
      status: { $in: [IntegrationStatus.CONNECTED, IntegrationStatus.ERROR] },
      passwordCipher: { $ne: null },
      $and: [{ $or: [{ nextSyncAt: null }, { nextSyncAt: { $lte: now } }] }, free],
    },
    { fields: ['id'], orderBy: { nextSyncAt: 'asc' }, limit: limit * 2 },
  );
  const claimed: string[] = [];
  const until = new Date(now.getTime() + leaseSeconds * 1000);
  for (const { id } of candidates) {
    if (claimed.length >= limit) break;
    const won = await em.nativeUpdate(CalendarIntegration, { id, ...free }, { leaseOwner: owner, leaseUntil: until });
    if (won === 1) claimed.push(id);
  }
  return claimed;
}

/** Gives a lease back (only if `owner` still holds it). */
export async function releaseLease(em: EntityManager, id: string, owner: string): Promise<void> {
  await em.nativeUpdate(CalendarIntegration, { id, leaseOwner: owner }, { leaseOwner: null, leaseUntil: null });
}
