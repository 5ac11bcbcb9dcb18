import type { EntityManager } from '@mikro-orm/core';
import type { Principal } from '../auth/jwt';
import { ConflictWarning } from '../entities/conflict-warning.entity';
import { AppError } from '../errors';
import { findBy, findOneBy } from './plain-rows';
import type { UserService } from './user.service';

/** How many warnings a list returns at most (newest first). */
const MAX_LISTED = 200;

/** Reads (as plain rows: a list is asked for on every dashboard refresh) and resolves conflict warnings, scoped to the caller (or, for admins and support, a user they may see). */
export class ConflictWarningService {
  constructor(private readonly users: UserService) {}

  /**
   * Warnings of the caller, or of the user a tenant admin or support names, newest first; `resolved` filters
   * when given. Returns them with the subject's external id. Throws `NOT_FOUND` for a user the caller may not see.
   */
  async list(em: EntityManager, principal: Principal, resolved?: boolean | null, userId?: string | null): Promise<{ warnings: ConflictWarning[]; externalUserId: string }> {
    const user = await this.users.resolveSubject(em, principal, userId);
    const where = { tenantId: user.tenantId, userId: user.id, ...(resolved === undefined || resolved === null ? {} : { resolved }) };
    return { warnings: await findBy(em, ConflictWarning, where, { orderBy: { createdAt: 'desc', id: 'desc' }, limit: MAX_LISTED }), externalUserId: user.externalId };
  }

  /**
   * The open warnings of a user the caller was already allowed to see (internal id; a field of an integration
   * found through a scoped query), newest first, at most `limit`.
   */
  open(em: EntityManager, userId: string, limit = 20): Promise<ConflictWarning[]> {
    return findBy(em, ConflictWarning, { userId, resolved: false }, { orderBy: { createdAt: 'desc', id: 'desc' }, limit });
  }

  /** Marks one of the caller's warnings as dealt with and returns it. Throws `NOT_FOUND` for anyone else's. */
  async resolve(em: EntityManager, principal: Principal, id: string): Promise<ConflictWarning> {
    const user = await this.users.ensure(em, principal);
    const warning = await findOneBy(em, ConflictWarning, { id, userId: user.id, tenantId: user.tenantId });
    if (!warning) throw new AppError('NOT_FOUND', `No conflict warning ${id}.`);
    warning.resolved = true;
    await em.flush();
    return warning;
  }
}
