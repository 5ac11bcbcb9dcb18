import type { EntityManager } from '@mikro-orm/core';
import type { Principal } from '../auth/jwt';
import { User } from '../entities/user.entity';
import { AppError } from '../errors';
import type { EventBus } from '../pubsub';
import { recomputeBusy } from '../sync/busy-index';
import type { IcalReader } from '../sync/ical/reader.pool';
import { horizon } from '../sync/horizon';
import { isTimeZone } from '../sync/ical/timezones';
import { findOneBy } from './plain-rows';

/** CRM users: created on first sight from their token, their time zone, and whose data a caller may ask for. */
export class UserService {
  /** `reader` re-reads the user's iCloud events when their zone changes. */
  constructor(
    private readonly reader: IcalReader,
    private readonly events: EventBus,
  ) {}

  /**
   * Returns the caller's user record, creating it on first sight from the token's `sub` and `tenantId`
   * (initial zone from the `timezone` claim when it is a valid IANA name, else UTC).
   */
  async ensure(em: EntityManager, principal: Principal): Promise<User> {
    // Every request comes here: read as a plain row (a quarter of a simple query's CPU went to em.findOne).
    const existing = await findOneBy(em, User, { tenantId: principal.tenantId, externalId: principal.sub });
    if (existing) return existing;
    const user = em.create(User, {
      externalId: principal.sub,
      tenantId: principal.tenantId,
      timezone: principal.timezone && isTimeZone(principal.timezone) ? principal.timezone : 'UTC',
    });
    try {
      await em.persistAndFlush(user);
      return user;
    } catch (e) {
      // Two first requests of one user raced: the other insert won, use its row.
      em.clear();
      const winner = await em.findOne(User, { tenantId: principal.tenantId, externalId: principal.sub });
      if (!winner) throw e;
      return winner;
    }
  }

  /**
   * Sets the caller's zone for all-day and floating iCloud events and recomputes their busy time from the
   * local copies. Throws `BAD_USER_INPUT` for an unknown zone.
   */
  async setTimezone(em: EntityManager, principal: Principal, timezone: string): Promise<User> {
    if (!isTimeZone(timezone)) {
      throw new AppError('BAD_USER_INPUT', `timezone: "${timezone}" is not an IANA time zone name (for example "Europe/Berlin" or "America/New_York").`);
    }
    const user = await this.ensure(em, principal);
    const changed = user.timezone !== timezone;
    user.timezone = timezone;
    await em.flush();
    // All-day and floating iCloud events are read in the user's zone: their busy time moves with it.
    if (changed) await recomputeBusy(() => em.fork(), this.reader, horizon(), (userIds) => this.events.publish('BUSY_CHANGED', { userIds }), { calendar: { integration: { user } } });
    return user;
  }

  /**
   * Resolves whose data the caller asks for: themselves by default; a tenant admin (or support, read-only)
   * may name another user of the tenant. Throws `NOT_FOUND` for a user the caller may not see, exactly as
   * for one that does not exist.
   */
  async resolveSubject(em: EntityManager, principal: Principal, userId?: string | null): Promise<User> {
    if (!userId || userId === principal.sub) return this.ensure(em, principal);
    const user = principal.role === 'user' ? null : await findOneBy(em, User, { tenantId: principal.tenantId, externalId: userId });
    if (!user) throw new AppError('NOT_FOUND', `No user ${userId} you may see in this tenant.`);
    return user;
  }
}
