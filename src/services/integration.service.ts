import type { EntityManager } from '@mikro-orm/core';
import { normaliseAppleCredentials } from '../auth/apple-credentials';
import type { Principal } from '../auth/jwt';
import type { CredentialsCipher } from '../auth/credentials.cipher';
import { CalendarIntegration, IntegrationStatus } from '../entities/calendar-integration.entity';
import { ExternalCalendar } from '../entities/external-calendar.entity';
import type { User } from '../entities/user.entity';
import { AppError, toAppError } from '../errors';
import type { Logger } from '../logger';
import type { CalDavClient } from '../sync/caldav/caldav.client';
import type { CalDavClients } from '../sync/caldav/caldav-clients';
import { CalDavError } from '../sync/caldav/caldav.errors';
import type { ConnectThrottle } from './connect-throttle.service';
import type { IntegrationStatusMachine } from './integration-status';
import type { SupportService } from './support.service';
import type { OutboxService } from './outbox.service';
import type { SyncService } from './sync.service';
import { findBy, plainRows, populateBy } from './plain-rows';
import type { UserService } from './user.service';
import { SyncRun } from '../entities/sync-run.entity';

const MAX_RUNS = 100;

export interface IntegrationServiceDeps {
  users: UserService;
  sync: SyncService;
  outbox: OutboxService;
  clients: CalDavClients;
  cipher: CredentialsCipher;
  throttle: ConnectThrottle;
  status: IntegrationStatusMachine;
  /** Finds any integration for support's `syncNow`. */
  support: Pick<SupportService, 'visible'>;
  logger: Logger;
}

/**
 * Connects, lists and configures a user's iCloud accounts. Every method is scoped to the caller: an id
 * of another user or tenant is answered `NOT_FOUND`, exactly as an id that does not exist.
 */
export class IntegrationService {
  constructor(private readonly deps: IntegrationServiceDeps) {}

  /**
   * Validates the input, discovers the account and stores it (updating the existing integration of the
   * same Apple ID). Throws `INVALID_APPLE_ID`, `INVALID_APP_SPECIFIC_PASSWORD`, `ICLOUD_AUTH_FAILED`,
   * `ICLOUD_UNAVAILABLE`, `ICLOUD_BAD_RESPONSE` or `TOO_MANY_ATTEMPTS`; nothing is stored when it throws.
   */
  async connectICloud(em: EntityManager, principal: Principal, input: { appleId: string; appSpecificPassword: string }): Promise<CalendarIntegration> {
    const user = await this.deps.users.ensure(em, principal);
    const failed = (e: unknown) => {
      this.deps.logger.info({ userId: user.id, reason: (e as Error).message }, 'iCloud connect attempt failed');
      return toAppError(e);
    };
    // Input that is not even an Apple ID and an app-specific password counts against the user only: it never reaches iCloud.
    const releaseUser = await this.deps.throttle.forUser(em, user.id);
    let credentials;
    try {
      credentials = normaliseAppleCredentials(input.appleId, input.appSpecificPassword);
    } catch (e) {
      throw failed(e);
    }
    const releaseAppleId = await this.deps.throttle.forAppleId(em, credentials.appleId).catch(async (e) => {
      await releaseUser();
      throw e;
    });
    let discovery;
    try {
      discovery = await this.deps.clients.forCredentials(credentials.appleId, credentials.appSpecificPassword).discover();
    } catch (e) {
      // Only a refused password counts: an unreachable iCloud is nobody's guess.
      if (!(e instanceof CalDavError && e.failure === 'AUTH')) await Promise.all([releaseUser(), releaseAppleId()]);
      throw failed(e);
    }
    await Promise.all([releaseUser(), releaseAppleId()]);
    const existing = await em.findOne(CalendarIntegration, { user, appleId: credentials.appleId }, { populate: ['calendars'] });
    const integration: CalendarIntegration =
      existing ?? em.create(CalendarIntegration, { user, tenantId: user.tenantId, appleId: credentials.appleId, principalUrl: discovery.principalUrl, homeUrl: discovery.homeUrl });
    Object.assign(integration, {
      principalUrl: discovery.principalUrl,
      homeUrl: discovery.homeUrl,
      passwordCipher: this.deps.cipher.encrypt(credentials.appSpecificPassword, integration.id),
    });
    this.deps.status.connected(em, integration, !existing);
    this.deps.status.calendarsListed(em, integration, discovery.calendars);
    await this.deps.status.commit(em);
    this.deps.logger.info({ userId: user.id, integrationId: integration.id, calendars: discovery.calendars.length }, 'iCloud connected');
    await this.deps.outbox.wake(em, user.id);
    return integration;
  }

  /**
   * Returns a user's integrations, oldest first, with their calendars: the caller's, or (tenant admins and
   * support) another user's of the tenant. Throws `NOT_FOUND` for a user the caller may not see.
   */
  async list(em: EntityManager, principal: Principal, userId?: string | null): Promise<CalendarIntegration[]> {
    const user = await this.deps.users.resolveSubject(em, principal, userId);
    return withCalendars(em, await findBy(em, CalendarIntegration, { user: user.id }, { orderBy: { createdAt: 'asc' } }));
  }

  /** Returns one of the caller's integrations. Throws `NOT_FOUND` for anyone else's. */
  async get(em: EntityManager, principal: Principal, id: string): Promise<CalendarIntegration> {
    const user = await this.deps.users.ensure(em, principal);
    const [integration] = await withCalendars(em, await findBy(em, CalendarIntegration, { id, user: user.id }));
    if (!integration) throw new AppError('NOT_FOUND', `No calendar integration ${id} for this user.`);
    return integration;
  }

  /** Integrations of every tenant by status (for the metrics; no caller scope: never exposed through GraphQL). */
  async countByStatus(em: EntityManager): Promise<Record<string, number>> {
    const counts: Record<string, number> = Object.fromEntries(Object.values(IntegrationStatus).map((s) => [s, 0]));
    // One grouped query per scrape (it was one count per status).
    for (const r of await plainRows(em, 'select status, count(*) as n from calendar_integration group by status', [])) counts[r.status as string] = Number(r.n);
    return counts;
  }

  /** Recent sync runs of one of the caller's integrations, newest first (`limit` clamped to 1..100). Throws `NOT_FOUND` for anyone else's. */
  async runs(em: EntityManager, principal: Principal, id: string, limit = 20): Promise<SyncRun[]> {
    const integration = await this.get(em, principal, id);
    return this.recentRuns(em, integration.id, Math.min(Math.max(limit, 1), MAX_RUNS));
  }

  /** The latest `limit` runs of an integration the caller was already allowed to see (a field of it). */
  recentRuns(em: EntityManager, integrationId: string, limit = 5): Promise<SyncRun[]> {
    return findBy(em, SyncRun, { integration: integrationId }, { orderBy: { startedAt: 'desc' }, limit });
  }

  /**
   * Forgets the stored password and stops syncing; CRM data and the calendar list stay (a later
   * `connectICloud` with the same Apple ID revives this integration). Returns true.
   */
  async disconnect(em: EntityManager, principal: Principal, id: string): Promise<boolean> {
    const integration = await this.get(em, principal, id);
    this.deps.status.disconnected(em, integration);
    for (const c of integration.calendars) Object.assign(c, { isPrimary: false, checkForConflicts: false, syncToken: null, ctag: null });
    await this.deps.status.commit(em);
    return true;
  }

  /**
   * Makes `calendarId` the caller's only primary calendar (also checked for conflicts). Throws
   * `NOT_FOUND`, `CALENDAR_NOT_WRITABLE` or `INTEGRATION_DISCONNECTED`.
   */
  async setPrimaryCalendar(em: EntityManager, principal: Principal, calendarId: string): Promise<ExternalCalendar> {
    const [calendar] = await this.ownCalendars(em, principal, [calendarId]);
    if (!calendar.writable) {
      throw new AppError('CALENDAR_NOT_WRITABLE', `"${calendar.name}" is read-only in iCloud (subscribed or shared without write access): pick a calendar you can edit.`);
    }
    const user = calendar.integration.user;
    const current = await em.find(ExternalCalendar, { isPrimary: true, integration: { user } });
    for (const c of current) c.isPrimary = false;
    Object.assign(calendar, { isPrimary: true, checkForConflicts: true });
    this.deps.status.calendarsChosen(em, calendar.integration);
    this.deps.status.primaryCalendarChosen(em, calendar.integration);
    await this.deps.status.commit(em);
    await this.deps.outbox.wake(em, user.id);
    return calendar;
  }

  /**
   * Sets which of the caller's calendars block booking: exactly `calendarIds`, plus the primary.
   * Returns every calendar of the caller's connected integrations. Throws `NOT_FOUND` for an id that is not the caller's.
   */
  async setConflictCalendars(em: EntityManager, principal: Principal, calendarIds: string[]): Promise<ExternalCalendar[]> {
    const chosen = new Set((await this.ownCalendars(em, principal, calendarIds)).map((c) => c.id));
    const user = await this.deps.users.ensure(em, principal);
    const all = await em.find(ExternalCalendar, { integration: { user, status: { $ne: IntegrationStatus.DISCONNECTED } } }, { orderBy: { name: 'asc' } });
    for (const c of all) {
      c.checkForConflicts = c.isPrimary || chosen.has(c.id);
      this.deps.status.calendarsChosen(em, c.integration);
    }
    await this.deps.status.commit(em);
    return all;
  }

  /**
   * Lists the account's calendars again with the stored password, picking up calendars added or
   * removed in iCloud. A 401 turns the integration to `NEEDS_RECONNECT`. Throws the mapped CalDAV error.
   */
  async refreshCalendars(em: EntityManager, principal: Principal, id: string): Promise<CalendarIntegration> {
    const integration = await this.get(em, principal, id);
    const client = await this.client(em, integration);
    try {
      this.deps.status.calendarsListed(em, integration, await client.listCalendars(integration.homeUrl));
    } catch (e) {
      if (e instanceof CalDavError && e.failure === 'AUTH') {
        this.deps.status.needsReconnect(em, integration);
        await this.deps.status.commit(em);
      }
      throw toAppError(e);
    }
    await this.deps.status.commit(em);
    return integration;
  }

  /**
   * Syncs one of the caller's integrations (support: any integration, the one write support may do) at once
   * and returns the finished run (joining a run already under way rather than doing the work twice). Throws
   * `NOT_FOUND`, `INTEGRATION_DISCONNECTED`, or `INTEGRATION_NEEDS_RECONNECT` (a new app-specific password is needed first).
   */
  async syncNow(em: EntityManager, principal: Principal, id: string): Promise<SyncRun> {
    const integration = principal.role === 'support' ? await this.deps.support.visible(em, principal, id) : await this.get(em, principal, id);
    if (integration.status === IntegrationStatus.DISCONNECTED) {
      throw new AppError('INTEGRATION_DISCONNECTED', 'This account is disconnected: connect it again with an app-specific password.');
    }
    if (integration.status === IntegrationStatus.NEEDS_RECONNECT) {
      throw new AppError('INTEGRATION_NEEDS_RECONNECT', integration.statusMessage ?? 'Connect this account again with a new app-specific password.');
    }
    return this.deps.sync.syncNow(em, integration.id);
  }

  /** A client for the stored password. Throws `INTEGRATION_DISCONNECTED` when there is none. */
  private async client(em: EntityManager, integration: CalendarIntegration): Promise<CalDavClient> {
    await em.populate(integration, ['passwordCipher']);
    if (!integration.passwordCipher) {
      throw new AppError('INTEGRATION_DISCONNECTED', 'This account is disconnected: connect it again with an app-specific password.');
    }
    return this.deps.clients.forIntegration(em, integration);
  }

  /** Loads calendars of the caller's connected integrations by id; throws `NOT_FOUND` naming any other id. */
  private async ownCalendars(em: EntityManager, principal: Principal, ids: string[]): Promise<ExternalCalendar[]> {
    const user: User = await this.deps.users.ensure(em, principal);
    const unique = [...new Set(ids)];
    const found = await em.find(ExternalCalendar, { id: { $in: unique }, integration: { user } }, { populate: ['integration', 'integration.user'] });
    const missing = unique.filter((id) => !found.some((c) => c.id === id));
    if (missing.length) throw new AppError('NOT_FOUND', `No calendar ${missing.join(', ')} among your connected calendars.`);
    const disconnected = found.find((c) => c.integration.status === IntegrationStatus.DISCONNECTED);
    if (disconnected) throw new AppError('INTEGRATION_DISCONNECTED', `"${disconnected.name}" belongs to a disconnected account: connect it again first.`);
    return unique.map((id) => found.find((c) => c.id === id)!);
  }
}

/** `integrations` with their calendars loaded (one plain-row query; em.find with populate cost ~2 ms a list). */
async function withCalendars(em: EntityManager, integrations: CalendarIntegration[]): Promise<CalendarIntegration[]> {
  await populateBy(em, integrations, 'calendars', ExternalCalendar, 'integration');
  return integrations;
}
