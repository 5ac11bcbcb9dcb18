import { raw, UniqueConstraintViolationException, type EntityManager } from '@mikro-orm/core';
import { ConnectBudget } from '../entities/connect-budget.entity';
import { AppError } from '../errors';

export interface ConnectLimits {
  /** Attempts that count per CRM user within the window (default 5). */
  perUser: number;
  /** Attempts that reach iCloud per Apple ID within the window, whoever makes them (default 10). */
  perAppleId: number;
  windowSeconds: number;
}

/** Gives back an attempt that should not count (it succeeded, or iCloud could not be reached). */
export type Release = () => Promise<void>;

/**
 * Limits `connectICloud` attempts per CRM user and per Apple ID (across users and tenants), so that the
 * API cannot be used to guess passwords and Apple does not lock the account. An attempt is reserved
 * before it is made and given back when it turns out not to count, so parallel attempts cannot exceed a
 * limit. Kept in the database: every instance sees the same counts.
 */
export class ConnectThrottle {
  constructor(private readonly limits: ConnectLimits) {}

  /** Reserves an attempt for a user. Throws `TOO_MANY_ATTEMPTS` (with `retryAfterSeconds`) when none is left. */
  forUser(em: EntityManager, userId: string): Promise<Release> {
    return this.reserve(em, `user:${userId}`, this.limits.perUser, 'Too many failed attempts to connect iCloud');
  }

  /** Reserves an attempt against iCloud for a (normalised) Apple ID. Throws `TOO_MANY_ATTEMPTS` when none is left. */
  forAppleId(em: EntityManager, appleId: string): Promise<Release> {
    return this.reserve(em, `apple:${appleId}`, this.limits.perAppleId, 'Too many failed attempts to connect this Apple ID');
  }

  private async reserve(em: EntityManager, key: string, limit: number, what: string): Promise<Release> {
    const db = em.fork();
    const now = new Date();
    const windowFrom = new Date(now.getTime() - this.limits.windowSeconds * 1000);
    const release: Release = async () => void (await em.fork().nativeUpdate(ConnectBudget, { key, attempts: { $gt: 0 } }, { attempts: raw('attempts - 1') }));
    // Three tries: another instance may insert the row between our update and our insert.
    for (let i = 0; i < 3; i++) {
      if (await db.nativeUpdate(ConnectBudget, { key, windowStart: { $gt: windowFrom }, attempts: { $lt: limit } }, { attempts: raw('attempts + 1') })) return release;
      if (await db.nativeUpdate(ConnectBudget, { key, windowStart: { $lte: windowFrom } }, { windowStart: now, attempts: 1 })) return release;
      const row = await db.findOne(ConnectBudget, { key }, { disableIdentityMap: true });
      if (row) {
        const retryAfterSeconds = Math.max(1, Math.ceil((row.windowStart.getTime() + this.limits.windowSeconds * 1000 - now.getTime()) / 1000));
        throw new AppError(
          'TOO_MANY_ATTEMPTS',
          `${what}: wait ${Math.ceil(retryAfterSeconds / 60)} minute(s) and check the Apple ID and app-specific password before trying again.`,
          { retryAfterSeconds },
        );
      }
      try {
        await db.insert(ConnectBudget, { key, windowStart: now, attempts: 1 });
        return release;
      } catch (e) {
        if (!(e instanceof UniqueConstraintViolationException)) throw e;
      }
    }
    throw new AppError('TOO_MANY_ATTEMPTS', `${what}: try again in a minute.`, { retryAfterSeconds: 60 });
  }
}
