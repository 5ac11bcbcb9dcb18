import type { EntityManager } from '@mikro-orm/core';
import { ConnectAttempt } from '../entities/connect-attempt.entity';
import { AppError } from '../errors';

/**
 * Limits failed `connectICloud` attempts per user (default 5 per 10 minutes), so that the API cannot be
 * used to guess passwords and so that Apple does not lock the account. Kept in the database: every
 * instance sees the same count.
 */
export class ConnectThrottle {
  constructor(
    private readonly limit: number,
    private readonly windowSeconds: number,
  ) {}

  /** Throws `TOO_MANY_ATTEMPTS` (with `retryAfterSeconds`) when the user has used up the window. */
  async check(em: EntityManager, userId: string): Promise<void> {
    const since = new Date(Date.now() - this.windowSeconds * 1000);
    const recent = await em.find(ConnectAttempt, { userId, createdAt: { $gt: since } }, { orderBy: { createdAt: 'asc' } });
    if (recent.length < this.limit) return;
    const retryAfterSeconds = Math.max(1, Math.ceil((recent[0].createdAt.getTime() + this.windowSeconds * 1000 - Date.now()) / 1000));
    throw new AppError(
      'TOO_MANY_ATTEMPTS',
      `Too many failed attempts to connect iCloud: wait ${Math.ceil(retryAfterSeconds / 60)} minute(s) and check the Apple ID and app-specific password before trying again.`,
      { retryAfterSeconds },
    );
  }

  /** Records a failed attempt and forgets those older than the window. */
  async recordFailure(em: EntityManager, userId: string): Promise<void> {
    const fork = em.fork();
    await fork.nativeDelete(ConnectAttempt, { userId, createdAt: { $lt: new Date(Date.now() - this.windowSeconds * 1000) } });
    fork.create(ConnectAttempt, { userId });
    await fork.flush();
  }
}
