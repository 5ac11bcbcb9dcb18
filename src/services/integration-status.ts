import type { EntityManager } from '@mikro-orm/core';
import { CalendarIntegration, IntegrationStatus } from '../entities/calendar-integration.entity';
import { integrationView } from '../entities/events';
import { IntegrationStatusChange } from '../entities/integration-status-change.entity';
import type { EventBus } from '../pubsub';
import { backoffSeconds, FAILURES_BEFORE_ERROR } from '../sync/backoff';
import type { DiscoveredCalendar } from '../sync/caldav/caldav.client';
import { applyCalendarList } from './calendar-list';

/** An integration touched in one unit of work: its status before, whether history was written, whether its busy time may have changed. */
interface Touched {
  before: IntegrationStatus | null;
  recorded: boolean;
  busy: boolean;
}

export interface IntegrationStatusDeps {
  events: EventBus;
  syncIntervalSeconds: number;
  retryBaseSeconds: number;
}

/** Status messages the sync writes, and clears once they no longer hold (others, such as a missing primary calendar, stay). */
const FAILED_PREFIX = 'Syncing failed';
const SKIPPED_PREFIX = 'Some iCloud events could not be read';
const PICK_ANOTHER = 'pick another primary calendar.';
const RECONNECT_MESSAGE =
  'iCloud refused the app-specific password (it was revoked, or the Apple ID password changed, which revokes them all): ' +
  'create a new app-specific password at appleid.apple.com and connect again.';

/** History rows older than this are dropped when a new one is written for the integration. */
const HISTORY_DAYS = 90;

const syncOwnsMessage = (i: CalendarIntegration) => i.status === IntegrationStatus.ERROR || [FAILED_PREFIX, SKIPPED_PREFIX].some((p) => i.statusMessage?.startsWith(p));
const skippedMessage = (names: string[]) =>
  `${SKIPPED_PREFIX} and do not block booking: ${names.slice(0, 3).join(', ')}${names.length > 3 ? ` and ${names.length - 3} more` : ''}. Correct or delete them in iCloud.`;
const after = (seconds: number) => new Date(Date.now() + seconds * 1000);

/**
 * The state machine of `CalendarIntegration.status` (ARCHITECTURE.md, "State machines"): each transition
 * is the only place that sets the status and its fields (message, failure count, next sync time), writes an
 * `IntegrationStatusChange` row in the caller's unit of work when the status or the message changed, and
 * queues `integrationStatusChanged` for `commit`, which publishes it once stored (and only when the status
 * itself changed: the subscription's contract).
 */
export class IntegrationStatusMachine {
  /** Per unit of work: each integration a transition touched, its status before the first one, and whether history was written. */
  private readonly pending = new WeakMap<EntityManager, Map<CalendarIntegration, Touched>>();

  constructor(private readonly deps: IntegrationStatusDeps) {}

  /** `connectICloud` succeeded (a new integration, or a reconnect): sync at once. */
  connected(em: EntityManager, integration: CalendarIntegration, isNew: boolean): void {
    this.apply(em, integration, 'connected', { status: IntegrationStatus.CONNECTED, statusMessage: null, failureCount: 0, nextSyncAt: new Date() }, isNew);
  }

  /** A sync run stored busy time of the integration (created, changed or removed events): `commit` says so to every instance. */
  busyStored(em: EntityManager, integration: CalendarIntegration): void {
    this.touch(em, integration);
  }

  /**
   * A sync run succeeded. `unreadable` names the objects that could not be read (named in the message until
   * they change). A message the sync did not write (a missing primary calendar) stays. Returns whether the
   * account had failed before (it recovered).
   */
  synced(em: EntityManager, integration: CalendarIntegration, unreadable: string[]): boolean {
    const recovered = integration.failureCount > 0;
    const statusMessage = integration.statusMessage === null || syncOwnsMessage(integration) ? (unreadable.length ? skippedMessage(unreadable) : null) : integration.statusMessage;
    // Which busy time counts changes with the status only (see `commit`): a run that stored none changes nothing.
    this.apply(em, integration, 'synced', { status: IntegrationStatus.CONNECTED, statusMessage, lastSyncedAt: new Date(), failureCount: 0, nextSyncAt: after(this.deps.syncIntervalSeconds) }, false, false);
    return recovered;
  }

  /** A run failed for a reason worth retrying: backoff, a message that says so, ERROR after several in a row. */
  syncFailed(em: EntityManager, integration: CalendarIntegration, reason: string, retryAfterSeconds?: number): void {
    const failureCount = integration.failureCount + 1;
    const message = `${FAILED_PREFIX} ${failureCount === 1 ? 'once' : `${failureCount} times in a row`}: ${reason}. It is retried automatically.`;
    const error = failureCount >= FAILURES_BEFORE_ERROR;
    this.apply(em, integration, 'syncFailed', {
      status: error ? IntegrationStatus.ERROR : integration.status,
      statusMessage: error || integration.statusMessage === null || syncOwnsMessage(integration) ? message : integration.statusMessage,
      failureCount,
      nextSyncAt: after(backoffSeconds(this.deps.retryBaseSeconds, failureCount, retryAfterSeconds)),
    }, false, false);
  }

  /** A 401 on a working connection: the password was revoked. No more attempts until the user reconnects. */
  needsReconnect(em: EntityManager, integration: CalendarIntegration): void {
    this.apply(em, integration, 'needsReconnect', { status: IntegrationStatus.NEEDS_RECONNECT, statusMessage: RECONNECT_MESSAGE, nextSyncAt: null });
  }

  /** The user disconnected the account: its password is forgotten and it is no longer synced. */
  disconnected(em: EntityManager, integration: CalendarIntegration): void {
    this.apply(em, integration, 'disconnected', { passwordCipher: null, status: IntegrationStatus.DISCONNECTED, statusMessage: null, nextSyncAt: null });
  }

  /** The account's calendar list was read (again): the stored calendars follow it; a lost primary asks for another. */
  calendarsListed(em: EntityManager, integration: CalendarIntegration, listed: DiscoveredCalendar[]): void {
    this.touch(em, integration);
    const lost = applyCalendarList(integration, listed);
    if (lost) this.primaryCalendarLost(em, integration, lost);
  }

  /** The primary calendar disappeared from iCloud or became read-only: the message asks for another. */
  primaryCalendarLost(em: EntityManager, integration: CalendarIntegration, name: string): void {
    this.apply(em, integration, 'primaryCalendarLost', { statusMessage: `Your primary calendar "${name}" no longer exists in iCloud (or is read-only now): ${PICK_ANOTHER}` });
  }

  /** The user chose a primary calendar: a message asking for one is answered. */
  primaryCalendarChosen(em: EntityManager, integration: CalendarIntegration): void {
    if (integration.statusMessage?.endsWith(PICK_ANOTHER)) this.apply(em, integration, 'primaryCalendarChosen', { statusMessage: null });
  }

  /** The user changed which calendars block booking (or the primary): `commit` tells every instance that busy time changed. */
  calendarsChosen(em: EntityManager, integration: CalendarIntegration): void {
    this.touch(em, integration);
  }

  /**
   * Flushes `em` and then publishes `integrationStatusChanged` for each integration whose status a
   * transition in `em` changed, and `BUSY_CHANGED` for the users of the integrations whose busy time changed:
   * a status, a calendar list or a choice of calendars decides which busy time counts, and a sync run that
   * stored busy time (`busyStored`). A run that changed nothing leaves every instance's cached availability be.
   * The integrations' users and calendars must be loaded. Throws what the flush throws.
   */
  async commit(em: EntityManager): Promise<void> {
    await em.flush();
    const touched = this.pending.get(em);
    this.pending.delete(em);
    const busy = [...(touched ?? [])].filter(([integration, t]) => t.busy || t.before !== integration.status).map(([integration]) => integration.user.id);
    if (busy.length) this.deps.events.publish('BUSY_CHANGED', { userIds: [...new Set(busy)] });
    for (const [integration, { before, recorded }] of touched ?? []) {
      // The history stays bounded: a failing account writes a row per attempt, at most every half hour.
      if (recorded) await em.nativeDelete(IntegrationStatusChange, { integration, at: { $lt: after(-HISTORY_DAYS * 86400) } });
      if (before === integration.status) continue;
      this.deps.events.publish('INTEGRATION_STATUS_CHANGED', { tenantId: integration.tenantId, userId: integration.user.externalId, integration: integrationView(integration) });
    }
  }

  /**
   * Remembers `integration` as touched in `em` (its status before, when first touched; `busy` when what was
   * done may change its busy time by itself); returns its entry.
   */
  private touch(em: EntityManager, integration: CalendarIntegration, isNew = false, busy = true): Touched {
    const touched = this.pending.get(em) ?? new Map<CalendarIntegration, Touched>();
    this.pending.set(em, touched);
    const entry = touched.get(integration) ?? { before: isNew ? null : integration.status, recorded: false, busy: false };
    entry.busy ||= busy;
    touched.set(integration, entry);
    return entry;
  }

  private apply(em: EntityManager, integration: CalendarIntegration, transition: string, fields: Partial<CalendarIntegration>, isNew = false, busy = true): void {
    const from = isNew ? null : integration.status;
    const message = integration.statusMessage;
    const entry = this.touch(em, integration, isNew, busy);
    Object.assign(integration, fields);
    if (from === integration.status && message === integration.statusMessage) return;
    em.create(IntegrationStatusChange, { integration, tenantId: integration.tenantId, transition, from, to: integration.status, message: integration.statusMessage });
    entry.recorded = true;
  }
}
