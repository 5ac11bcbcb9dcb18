import type { EntityManager, FilterQuery } from '@mikro-orm/core';
import type { Principal } from '../auth/jwt';
import { CalendarIntegration, type IntegrationStatus } from '../entities/calendar-integration.entity';
import { IntegrationStatusChange } from '../entities/integration-status-change.entity';
import { AppError } from '../errors';

export interface SupportIntegrationFilter {
  appleId?: string | null;
  tenantId?: string | null;
  /** The CRM's user id (a token's `sub`). */
  userId?: string | null;
  status?: IntegrationStatus | null;
}

/** One page of integrations, with the cursor of its last one. */
export interface IntegrationPage {
  nodes: CalendarIntegration[];
  hasNextPage: boolean;
  endCursor: string | null;
  totalCount: number;
}

const MAX_PAGE = 100;
const MAX_HISTORY = 200;

/** Opaque cursors: the creation time and id of the last integration of a page (the list's order). */
const cursorOf = (i: CalendarIntegration) => Buffer.from(`${i.createdAt.getTime()}:${i.id}`).toString('base64url');
function afterCursor(cursor: string): FilterQuery<CalendarIntegration> {
  const [ms, id] = Buffer.from(cursor, 'base64url').toString().split(':');
  const at = new Date(Number(ms));
  if (!id || Number.isNaN(at.getTime())) throw new AppError('BAD_USER_INPUT', 'The cursor "after" is not one this API gave out.');
  return { $or: [{ createdAt: { $gt: at } }, { createdAt: at, id: { $gt: id } }] };
}

/**
 * What support staff (role `support`: every tenant, read-only) and tenant admins (their tenant) look up:
 * integrations across users, and the history of one. Never a credential or anything derived from one.
 */
export class SupportService {
  /**
   * A page of integrations matching `filter`, oldest first: every tenant for support, the caller's tenant
   * for an admin (whatever `filter.tenantId` says). Throws `FORBIDDEN` for a user, `BAD_USER_INPUT` for a bad cursor.
   */
  async integrations(em: EntityManager, principal: Principal, filter: SupportIntegrationFilter = {}, first = 20, after?: string | null): Promise<IntegrationPage> {
    if (principal.role === 'user') throw new AppError('FORBIDDEN', 'Only support staff and tenant admins may search integrations.');
    const where: FilterQuery<CalendarIntegration>[] = [];
    const tenantId = principal.role === 'admin' ? principal.tenantId : filter.tenantId;
    if (tenantId) where.push({ tenantId });
    if (filter.appleId) where.push({ appleId: filter.appleId.trim().toLowerCase() });
    if (filter.userId) where.push({ user: { externalId: filter.userId } });
    if (filter.status) where.push({ status: filter.status });
    const filtered: FilterQuery<CalendarIntegration> = where.length ? { $and: where } : {};
    const limit = Math.min(Math.max(first, 1), MAX_PAGE);
    const [rows, totalCount] = await Promise.all([
      em.find(CalendarIntegration, after ? { $and: [filtered, afterCursor(after)] } : filtered, { populate: ['user', 'calendars'], orderBy: { createdAt: 'asc', id: 'asc' }, limit: limit + 1 }),
      em.count(CalendarIntegration, filtered),
    ]);
    const nodes = rows.slice(0, limit);
    return { nodes, hasNextPage: rows.length > limit, endCursor: nodes.length ? cursorOf(nodes[nodes.length - 1]) : null, totalCount };
  }

  /**
   * The status changes of one integration, oldest first (at most the latest 200): any for support, the
   * tenant's for an admin, their own for a user. Throws `NOT_FOUND` for one the caller may not see.
   */
  async history(em: EntityManager, principal: Principal, integrationId: string): Promise<IntegrationStatusChange[]> {
    await this.visible(em, principal, integrationId);
    const latest = await em.find(IntegrationStatusChange, { integration: integrationId }, { orderBy: { at: 'desc', id: 'desc' }, limit: MAX_HISTORY });
    return latest.reverse();
  }

  /** Loads an integration the caller may see (see `history`). Throws `NOT_FOUND` otherwise, as for one that does not exist. */
  async visible(em: EntityManager, principal: Principal, integrationId: string): Promise<CalendarIntegration> {
    const scope: FilterQuery<CalendarIntegration> =
      principal.role === 'support' ? {} : principal.role === 'admin' ? { tenantId: principal.tenantId } : { tenantId: principal.tenantId, user: { externalId: principal.sub } };
    const integration = await em.findOne(CalendarIntegration, { $and: [{ id: integrationId }, scope] }, { populate: ['user', 'calendars'] });
    if (!integration) throw new AppError('NOT_FOUND', `No calendar integration ${integrationId} you may see.`);
    return integration;
  }
}
