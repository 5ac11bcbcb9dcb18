import type { EntityManager } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';
import { CalendarIntegration } from '../entities/calendar-integration.entity';
import type { ExternalCalendar } from '../entities/external-calendar.entity';
import { ExternalEvent } from '../entities/external-event.entity';
import { SyncOutcome, SyncRun } from '../entities/sync-run.entity';
import { AppError } from '../errors';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import type { Orm } from '../orm';
import type { EventBus } from '../pubsub';
import { conflictWarningView, syncRunView } from '../entities/events';
import type { ConflictWarning } from '../entities/conflict-warning.entity';
import { OutboxEntry } from '../entities/outbox-entry.entity';
import { AppointmentSyncLink } from '../entities/sync-link.entity';
import type { CrmCopy } from '../sync/inbound/inbound.planner';
import type { CalDavClient, CalendarObject } from '../sync/caldav/caldav.client';
import type { CalDavClients } from '../sync/caldav/caldav-clients';
import { CalDavError } from '../sync/caldav/caldav.errors';
import { readCalendar, readObjects } from '../sync/inbound/calendar-reader';
import { horizon } from '../sync/horizon';
import type { IcalReader } from '../sync/ical/reader.pool';
import { claimLease, releaseLease, renewLease } from '../sync/lease';
import { applyInbound } from '../sync/inbound/inbound.executor';
import { planInbound, type Listing, type StoredObject } from '../sync/inbound/inbound.planner';
import { CALENDAR_LIST_EVERY_MS } from './calendar-list';
import type { IntegrationStatusMachine } from './integration-status';
import type { OutboxService } from './outbox.service';

export interface SyncServiceDeps {
  orm: Orm;
  clients: CalDavClients;
  /** Sync runs are counted and timed here. */
  metrics: Pick<Metrics, 'syncRuns' | 'syncRunDuration'>;
  /** Every change of an integration's status goes through it. */
  status: IntegrationStatusMachine;
  events: EventBus;
  logger: Logger;
  /** How long a claimed integration stays leased (a crashed process's lease expires after this). */
  leaseSeconds: number;
  /** Reads calendar objects off the event loop. */
  reader: IcalReader;
  /** A `syncNow` this soon after the integration's last run is refused (0: never). */
  syncNowMinIntervalSeconds: number;
  /** Fetched objects read and applied per transaction (see `syncCalendar`). */
  batchObjects: number;
  /** Told when an account answers again after failed runs: its failed pushes are retried at once. */
  outbox: Pick<OutboxService, 'retryFailed'>;
}

/** Why a run has no end: the process running it died; the next holder of the lease closes it. */
export const INTERRUPTED = 'interrupted: the server running this sync stopped before it finished; the next sync redid the work';

const JOIN_POLL_MS = 250;
const JOIN_GRACE_MS = 30000;

/**
 * Runs one sync of one integration (Twenty's calendar module: a status machine per integration, failure
 * counts with exponential backoff, auth failure as a terminal "reconnect" state, cursors per calendar).
 */
export class SyncService {
  /** Lease owner of this process: the reconciler and `syncNow` claim integrations under it. */
  readonly owner = `${process.pid}-${randomUUID().slice(0, 8)}`;
  /** Runs under way in this process, by integration: a second request joins the first. */
  private readonly inFlight = new Map<string, Promise<SyncRun>>();

  constructor(private readonly deps: SyncServiceDeps) {}

  /**
   * Syncs one integration now, for a user's `syncNow`. A run already under way for it (here or on
   * another instance, which holds its lease) is joined instead of done twice. Returns the finished run.
   */
  async syncNow(em: EntityManager, integrationId: string): Promise<SyncRun> {
    const requestedAt = new Date();
    if (!this.inFlight.has(integrationId)) await this.refuseIfJustSynced(em, integrationId);
    // A live lease is renewed while its run lasts; past this, whoever holds it is not coming back soon.
    const deadline = Date.now() + this.deps.leaseSeconds * 1000 + JOIN_GRACE_MS;
    while (Date.now() < deadline) {
      const local = this.inFlight.get(integrationId);
      if (local) return local;
      if (await claimLease(this.deps.orm.fork(), CalendarIntegration, integrationId, this.owner, this.deps.leaseSeconds)) {
        try {
          return await this.syncIntegration(em, integrationId);
        } finally {
          await releaseLease(this.deps.orm.fork(), CalendarIntegration, integrationId, this.owner);
        }
      }
      // Another instance holds the lease: its run ends (or its lease expires, and we claim it above).
      await new Promise((r) => setTimeout(r, JOIN_POLL_MS));
      const joined = await em.fork().findOne(SyncRun, { integration: integrationId, finishedAt: { $gte: requestedAt } }, { orderBy: { finishedAt: 'desc' } });
      if (joined) return joined;
    }
    throw new AppError('ICLOUD_UNAVAILABLE', 'A sync of this account has been under way for a long time on another server: its result will show in the recent runs.');
  }

  /** Throws `TOO_MANY_REQUESTS` when the integration finished a run less than the minimum interval ago. */
  private async refuseIfJustSynced(em: EntityManager, integrationId: string): Promise<void> {
    const minMs = this.deps.syncNowMinIntervalSeconds * 1000;
    if (minMs === 0) return;
    const last = await em.fork().findOne(SyncRun, { integration: integrationId, finishedAt: { $gt: new Date(Date.now() - minMs) } }, { orderBy: { finishedAt: 'desc' }, fields: ['finishedAt'] });
    if (!last) return;
    const retryAfterSeconds = Math.max(1, Math.ceil((last.finishedAt!.getTime() + minMs - Date.now()) / 1000));
    throw new AppError('TOO_MANY_REQUESTS', `This account was synced moments ago: try again in ${retryAfterSeconds} s (its recent runs show the result).`, { retryAfterSeconds });
  }

  /**
   * Syncs every calendar of the integration that is checked for conflicts, stores and publishes the
   * `SyncRun`, and updates the integration's status, failure count and next sync time. Returns the run;
   * a failed sync is a run with outcome `FAILED`, not an exception. Throws only for a disconnected integration.
   * The caller holds the integration's lease; a second call while one is under way joins it.
   */
  async syncIntegration(em: EntityManager, integrationId: string): Promise<SyncRun> {
    const running = this.inFlight.get(integrationId);
    if (running) return running;
    const started = { id: randomUUID(), startedAt: new Date() };
    // A run slower than the lease (a slow iCloud, a large import) must not lose it to another instance mid-run.
    const heartbeat = setInterval(
      () => void renewLease(this.deps.orm.fork(), CalendarIntegration, integrationId, this.owner, this.deps.leaseSeconds).catch((e) => this.deps.logger.warn({ err: e, integrationId, runId: started.id }, 'could not renew a sync lease')),
      (this.deps.leaseSeconds * 1000) / 3,
    );
    heartbeat.unref();
    const run = this.runOnce(em, integrationId, started).finally(() => {
      clearInterval(heartbeat);
      this.inFlight.delete(integrationId);
    });
    this.inFlight.set(integrationId, run);
    return run;
  }

  private async runOnce(em: EntityManager, integrationId: string, started: { id: string; startedAt: Date }): Promise<SyncRun> {
    // The caller holds the lease: a run still open was left by a process that died holding it.
    await em.nativeUpdate(SyncRun, { integration: integrationId, finishedAt: null }, { finishedAt: new Date(), outcome: SyncOutcome.FAILED, error: INTERRUPTED });
    try {
      return await this.attempt(em, integrationId, started);
    } catch (e) {
      // Not a CalDAV failure (a bug, the database): the unit of work may be half-applied, so the failure
      // is recorded from a clean one, and the user sees it in the status instead of a silent CONNECTED.
      this.deps.logger.error({ err: e, integrationId, runId: started.id }, 'sync failed unexpectedly');
      const fresh = this.deps.orm.fork();
      const integration = await fresh.findOneOrFail(CalendarIntegration, integrationId, { populate: ['calendars', 'user'] });
      const run = (await fresh.findOne(SyncRun, started.id)) ?? fresh.create(SyncRun, { ...started, integration });
      this.recordFailure(fresh, integration, run, 'internal error (the server logged the details)', undefined);
      return this.finish(fresh, integration, run, [], 0);
    }
  }

  /** One run; CalDAV failures end it as FAILED, anything else propagates to `runOnce`. */
  private async attempt(em: EntityManager, integrationId: string, started: { id: string; startedAt: Date }): Promise<SyncRun> {
    const integration = await em.findOneOrFail(CalendarIntegration, integrationId, { populate: ['calendars', 'user'] });
    const run = em.create(SyncRun, { ...started, integration });
    const client = await this.deps.clients.forIntegration(em, integration);
    const conflicts: ConflictWarning[] = [];
    let recovered = false;
    try {
      if (!integration.calendarsRefreshedAt || Date.now() - integration.calendarsRefreshedAt.getTime() > CALENDAR_LIST_EVERY_MS) {
        this.deps.status.calendarsListed(em, integration, await client.listCalendars(integration.homeUrl));
      }
      const checked = integration.calendars.getItems().filter((c) => c.checkForConflicts);
      for (const calendar of checked) conflicts.push(...(await this.syncCalendar(em, client, integration, calendar, run)));
      // Objects that could not be read, in this run or before (kept until they change in iCloud).
      const unreadable = await em.find(ExternalEvent, { calendar: { $in: checked }, unreadable: { $ne: null } }, { fields: ['summary', 'href'], orderBy: { href: 'asc' } });
      recovered = this.deps.status.synced(em, integration, unreadable.map((e) => e.summary ?? e.href));
      run.outcome = run.warnings.length ? SyncOutcome.PARTIAL : SyncOutcome.SUCCESS;
      // Conflict warnings are findings, not skips: they are listed but leave the outcome alone.
      run.warnings = [...run.warnings, ...conflicts.map((c) => c.message)];
    } catch (e) {
      if (!(e instanceof CalDavError)) throw e;
      if (e.failure === 'AUTH') {
        // Retrying cannot help: no more attempts until the user reconnects.
        Object.assign(run, { outcome: SyncOutcome.FAILED, error: 'iCloud refused the app-specific password (401)' });
        this.deps.status.needsReconnect(em, integration);
      } else this.recordFailure(em, integration, run, e.message, e.retryAfterSeconds);
    }
    const finished = await this.finish(em, integration, run, conflicts, client.requests);
    // iCloud answers again after an outage: the pushes that failed meanwhile need not wait out their backoff.
    if (recovered) await this.deps.outbox.retryFailed(em, integration.user.id);
    return finished;
  }

  /** Stores the run and the integration, then publishes the status change, the warnings and the result. */
  private async finish(em: EntityManager, integration: CalendarIntegration, run: SyncRun, conflicts: ConflictWarning[], requests: number): Promise<SyncRun> {
    run.requests = requests;
    run.finishedAt = new Date();
    run.nextSyncAt = integration.nextSyncAt;
    await this.deps.status.commit(em);
    this.deps.metrics.syncRuns.inc({ outcome: run.outcome });
    this.deps.metrics.syncRunDuration.observe((run.finishedAt.getTime() - run.startedAt.getTime()) / 1000);
    // A routine run that changed nothing is debug; one that changed, skipped or failed something is info.
    const routine = run.outcome === SyncOutcome.SUCCESS && run.created + run.updated + run.deleted === 0;
    this.deps.logger[routine ? 'debug' : 'info']({ integrationId: integration.id, runId: run.id, outcome: run.outcome, requests: run.requests, created: run.created, updated: run.updated, deleted: run.deleted }, 'sync run finished');
    const userId = integration.user.externalId;
    for (const w of conflicts) {
      this.deps.logger.info({ integrationId: integration.id, runId: run.id, warningId: w.id, kind: w.kind, userId, tenantId: w.tenantId, appointmentId: w.appointmentId }, 'conflict warning raised');
      this.deps.events.publish('CONFLICT_WARNING', { tenantId: w.tenantId, userId, warning: conflictWarningView(w, userId) });
    }
    this.deps.events.publish('SYNC_RESULT', { tenantId: integration.tenantId, userId, run: syncRunView(run) });
    return run;
  }

  /** Syncs one calendar into `run`; returns the conflict warnings it raised (stored, to be published). */
  private async syncCalendar(em: EntityManager, client: CalDavClient, integration: CalendarIntegration, calendar: ExternalCalendar, run: SyncRun): Promise<ConflictWarning[]> {
    const rows = await em.find(ExternalEvent, { calendar }, { fields: ['href', 'etag', 'contentHash'] });
    const stored = new Map<string, StoredObject>(rows.map((r) => [r.href, { href: r.href, etag: r.etag, contentHash: r.contentHash }]));
    const ctx = { timezone: integration.user.timezone, accountAddresses: [integration.appleId], window: horizon() };
    try {
      // Copies before the listing: a push that ends while the calendar is read is then a pending push for the planner.
      const copies = await crmCopies(em, integration.user.id, calendar.href);
      const reading = await readCalendar(client, calendar, stored);
      run.warnings = [...run.warnings, ...reading.warnings];
      // The fetched objects are read and applied in parts, each part parsed while the one before is stored: an
      // import of thousands of objects holds one part's parsed events and entities at a time. Every part but
      // the last is applied as an incremental listing of its own objects, keeping the old cursor (a crash
      // keeps what was stored, and the next run fetches only the rest); the last applies the whole listing
      // (deletions, held mass deletions) and moves the cursor.
      const parts: CalendarObject[][] = [];
      for (let i = 0; i === 0 || i < reading.objects.length; i += this.deps.batchObjects) parts.push(reading.objects.slice(i, i + this.deps.batchObjects));
      const conflicts: ConflictWarning[] = [];
      const handled = new Set<string>();
      let next = readObjects(this.deps.reader, parts[0], ctx);
      for (const [n, part] of parts.entries()) {
        const fetched = await next;
        const last = n === parts.length - 1;
        if (!last) next = readObjects(this.deps.reader, parts[n + 1], ctx);
        const listing: Listing = last ? reading.listing : { kind: 'incremental', changed: part.map((o) => ({ href: o.href, etag: o.etag })), removed: [] };
        const plan = planInbound({ stored, listing, fetched, emptyListingConfirmed: calendar.emptyListingSince !== null, copies, handled });
        const applied = await applyInbound(em, calendar, integration.user, last ? plan : { ...plan, advanceToken: false }, reading, last && reading.listing.kind === 'full');
        for (const o of part) handled.add(o.href);
        run.created += applied.created;
        run.updated += applied.updated;
        run.deleted += applied.deleted;
        run.warnings = [...run.warnings, ...applied.warnings];
        conflicts.push(...applied.conflicts);
        if (applied.moved.length) this.deps.events.publish('BUSY_CHANGED', { userIds: [...new Set(applied.moved)] });
        // Stored busy time: announced when the run ends, even if a later calendar fails.
        if (applied.created + applied.updated + applied.deleted > 0) this.deps.status.busyStored(em, integration);
      }
      return conflicts;
    } catch (e) {
      // One calendar the server cannot serve (removed in iCloud, malformed answer) does not stop the others.
      if (!(e instanceof CalDavError) || e.failure !== 'BAD_RESPONSE') throw e;
      run.warnings = [...run.warnings, `"${calendar.name}" was not synced: ${e.message}`];
      return [];
    }
  }

  /** A failure worth retrying: the run says why, the integration backs off (see `IntegrationStatusMachine.syncFailed`). */
  private recordFailure(em: EntityManager, integration: CalendarIntegration, run: SyncRun, reason: string, retryAfterSeconds: number | undefined): void {
    Object.assign(run, { outcome: SyncOutcome.FAILED, error: reason });
    this.deps.status.syncFailed(em, integration, reason, retryAfterSeconds);
  }
}

/** The pushed copies of CRM appointments in one calendar of a user, with whether a push is pending. */
async function crmCopies(em: EntityManager, userId: string, calendarHref: string): Promise<Map<string, CrmCopy>> {
  const links = await em.find(AppointmentSyncLink, { userId, calendarHref, href: { $ne: null } });
  const pending = new Set((await em.find(OutboxEntry, { userId, syncKey: { $in: links.map((l) => l.syncKey) } })).map((e) => e.syncKey));
  return new Map(links.map((l) => [l.href!, { href: l.href!, syncKey: l.syncKey, contentHash: l.contentHash, pendingPush: pending.has(l.syncKey) }]));
}
