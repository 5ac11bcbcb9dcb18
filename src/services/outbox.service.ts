import type { EntityManager } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';
import { CalendarIntegration, IntegrationStatus } from '../entities/calendar-integration.entity';
import { ConflictKind, type ConflictWarning } from '../entities/conflict-warning.entity';
import { AppointmentAssignee, AppointmentStatus } from '../entities/appointment.entity';
import { ExternalCalendar } from '../entities/external-calendar.entity';
import { OutboxEntry } from '../entities/outbox-entry.entity';
import { AppointmentSyncLink, SyncState } from '../entities/sync-link.entity';
import { User } from '../entities/user.entity';
import type { Logger } from '../logger';
import type { Orm } from '../orm';
import type { EventBus } from '../pubsub';
import { conflictWarningView } from '../entities/events';
import { backoffSeconds } from '../sync/backoff';
import type { CalDavClient } from '../sync/caldav/caldav.client';
import type { CalDavClients } from '../sync/caldav/caldav-clients';
import { CalDavError } from '../sync/caldav/caldav.errors';
import { uidFor } from '../sync/ical/event-renderer';
import type { IcalReader } from '../sync/ical/reader.pool';
import { claimLease, leaseFreeAt, releaseLease } from '../sync/lease';
import { dateParam, findOneBy, plainWrite } from './plain-rows';
import { pushCopy } from '../sync/outbound/outbound.executor';
import type { PushAction } from '../sync/outbound/outbound.planner';
import { linkState } from '../sync/outbound/sync-link-state';
import { syncKeyOf } from '../sync/sync-key';
import type { IntegrationStatusMachine } from './integration-status';

export interface OutboxServiceDeps {
  orm: Orm;
  clients: CalDavClients;
  /** A 401 while pushing turns the integration to NEEDS_RECONNECT through it. */
  status: IntegrationStatusMachine;
  events: EventBus;
  logger: Logger;
  leaseSeconds: number;
  /** Reads iCloud's version of a copy off the event loop (on a 412). */
  reader: IcalReader;
  /** First wait after a failed push (it doubles per failure). */
  retryBaseSeconds: number;
}

const BATCH = 20;
/** Users whose pushes run at once in one process. */
const PUSH_CONCURRENCY = 4;
const PARKED_MS = 24 * 3600 * 1000;

/**
 * Drains the outbox: right after a commit (`kick`) and from the scheduled job for retries. Entries are
 * claimed with a lease, so several processes drain one outbox without writing a copy twice.
 */
export class OutboxService {
  /** Lease owner of this process's drains. */
  readonly owner = `${process.pid}-${randomUUID().slice(0, 8)}`;
  private running: Promise<number> | null = null;
  private again = false;

  constructor(private readonly deps: OutboxServiceDeps) {}

  /** Starts a drain soon; calls during a drain make it run once more. Never throws (errors are logged). */
  kick(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain()
      .catch((e) => (this.deps.logger.error({ err: e }, 'outbox drain failed'), 0))
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Resolves when no drain is under way (tests and shutdown wait on it). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Pushes every due entry; resolves with the number of entries processed. */
  async drain(): Promise<number> {
    let processed = 0;
    for (;;) {
      const claimed = await this.claim();
      if (claimed.length === 0) return processed;
      // One user's entries in order (one account, one status), PUSH_CONCURRENCY users side by side: a push
      // mostly waits on iCloud, and one at a time fell behind 25 bookings a second (the load script's mix).
      const byUser = new Map<string, OutboxEntry[]>();
      for (const entry of claimed) {
        const entries = byUser.get(entry.userId);
        if (entries) entries.push(entry);
        else byUser.set(entry.userId, [entry]);
      }
      const queues = [...byUser.values()];
      const worker = async () => {
        for (let entries = queues.shift(); entries; entries = queues.shift()) for (const entry of entries) await this.process(entry);
      };
      // Every worker finishes before the drain goes on (or fails with the first error, as one at a time did).
      const failed = (await Promise.allSettled(Array.from({ length: Math.min(PUSH_CONCURRENCY, queues.length) }, worker))).find((r) => r.status === 'rejected');
      if (failed) throw (failed as PromiseRejectedResult).reason;
      processed += claimed.length;
    }
  }

  /**
   * After a user reconnects or picks a primary calendar: makes their parked entries due again and queues
   * every upcoming appointment of theirs whose copy is not in that calendar yet.
   */
  async wake(em: EntityManager, userId: string): Promise<void> {
    await em.nativeUpdate(OutboxEntry, { userId }, { nextAttemptAt: new Date() });
    const upcoming = await em.find(
      AppointmentAssignee,
      { userId, active: true, appointment: { status: AppointmentStatus.BOOKED, endsAt: { $gt: new Date() } } },
      { populate: ['appointment', 'appointment.calendar'] },
    );
    const primary = await em.findOne(ExternalCalendar, { isPrimary: true, integration: { user: userId } });
    for (const key of new Set(upcoming.map((a) => syncKeyOf(a.appointment)))) {
      const link = await em.findOne(AppointmentSyncLink, { syncKey: key, userId });
      if (link?.state === SyncState.SYNCED && link.calendarHref === primary?.href) continue;
      em.create(OutboxEntry, { syncKey: key, userId });
      if (!link) em.create(AppointmentSyncLink, { syncKey: key, userId, uid: uidFor(key, userId) });
    }
    await em.flush();
    this.kick();
  }

  /**
   * Makes the user's failed entries due now and starts a drain: their account answered again (a sync
   * succeeded after failures), so the pushes need not wait out their backoff. Entries parked for another
   * reason (no attempts) are left alone.
   */
  async retryFailed(em: EntityManager, userId: string): Promise<void> {
    if ((await em.nativeUpdate(OutboxEntry, { userId, attempts: { $gt: 0 } }, { nextAttemptAt: new Date() })) > 0) this.kick();
  }

  /** How many entries wait, and how old the oldest is in seconds (0 when none): for the metrics. */
  async stats(em: EntityManager): Promise<{ depth: number; oldestAgeSeconds: number }> {
    const depth = await em.count(OutboxEntry, {});
    const oldest = depth ? await em.findOne(OutboxEntry, {}, { orderBy: { createdAt: 'asc' }, fields: ['createdAt'] }) : null;
    return { depth, oldestAgeSeconds: oldest ? Math.max(0, (Date.now() - oldest.createdAt.getTime()) / 1000) : 0 };
  }

  private async claim(): Promise<OutboxEntry[]> {
    const em = this.deps.orm.fork();
    const now = new Date();
    const due = await em.find(OutboxEntry, { nextAttemptAt: { $lte: now }, ...leaseFreeAt(now) }, { orderBy: { createdAt: 'asc' }, limit: BATCH });
    const mine: OutboxEntry[] = [];
    for (const entry of due) if (await claimLease(em, OutboxEntry, entry.id, this.owner, this.deps.leaseSeconds, now)) mine.push(entry);
    return mine;
  }

  private async process(entry: OutboxEntry): Promise<void> {
    const em = this.deps.orm.fork();
    const warnings: ConflictWarning[] = [];
    const clients = new Map<string, CalDavClient>();
    const moved: string[] = [];
    // What the planner decided, for the log line (also of a push that fails).
    let action: PushAction['type'] | undefined;
    try {
      const outcome = await pushCopy(em, entry.syncKey, entry.userId, {
        clientFor: (calendar) => this.client(em, calendar, clients),
        warn: (w) => warnings.push(w),
        reader: this.deps.reader,
        planned: (type) => (action = type),
        moved: (userIds) => moved.push(...userIds),
      });
      await inOneTransaction(em, async () => {
        // Later entries of the same copy are covered: the push rendered the current state.
        if (outcome === 'done') await plainWrite(em, 'delete from outbox_entry where sync_key = ? and user_id = ? and created_at <= ?', [entry.syncKey, entry.userId, dateParam(em, entry.createdAt)]);
        else await releaseLease(em, OutboxEntry, entry.id, this.owner, { nextAttemptAt: new Date(Date.now() + PARKED_MS) });
      });
      if (moved.length) this.deps.events.publish('BUSY_CHANGED', { userIds: [...new Set(moved)] });
      // A line that cannot be written must not turn a push that landed into a failed one.
      await this.logPush(em, entry, action, warnings).catch((err) => this.deps.logger.warn({ err, syncKey: entry.syncKey }, 'could not log a push'));
      // Published only once stored: a failed push keeps none of its warnings.
      for (const w of warnings) await this.publishWarning(em, w);
    } catch (e) {
      await this.failed(entry, e, action);
    }
  }

  /**
   * One line per push: info when the copy was written, removed or found in line (debug when nothing needed
   * writing), warn when it cannot be written (no primary calendar, waiting for a reconnect, deleted in iCloud).
   */
  private async logPush(em: EntityManager, entry: OutboxEntry, planned: PushAction['type'] | undefined, warnings: ConflictWarning[]): Promise<void> {
    // An update that met a 404 found the copy deleted in iCloud: that, too, is a copy not written.
    const deleted = warnings.some((w) => w.kind === ConflictKind.DELETED_IN_ICLOUD);
    const action = deleted ? 'deletedInICloud' : logName(planned);
    const stuck = deleted || STUCK.has(action);
    const fields = { ...(await this.who(em, entry)), syncKey: entry.syncKey, action, outcome: stuck ? 'notWritten' : 'done', attempt: entry.attempts + 1 };
    if (stuck) this.deps.logger.warn(fields, 'push of a copy to iCloud not written');
    else this.deps.logger[action === 'none' ? 'debug' : 'info'](fields, 'push of a copy to iCloud done');
  }

  /** The user of an entry as logs name them: the CRM user id and tenant (the internal id too, as entries hold it). */
  private async who(em: EntityManager, entry: OutboxEntry): Promise<Record<string, string | null>> {
    const user = await findOneBy(em, User, { id: entry.userId });
    return { userId: user?.externalId ?? null, tenantId: user?.tenantId ?? null, internalUserId: entry.userId };
  }

  private async client(em: EntityManager, calendar: ExternalCalendar, cache: Map<string, CalDavClient>): Promise<CalDavClient> {
    const integration = calendar.integration;
    if (!cache.has(integration.id)) cache.set(integration.id, await this.deps.clients.forIntegration(em, integration));
    return cache.get(integration.id)!;
  }

  private async failed(entry: OutboxEntry, e: unknown, planned: PushAction['type'] | undefined): Promise<void> {
    const fresh = this.deps.orm.fork();
    const reason = e instanceof CalDavError ? e.message : 'internal error';
    if (!(e instanceof CalDavError)) this.deps.logger.error({ err: e, syncKey: entry.syncKey }, 'push failed unexpectedly');
    const link = await fresh.findOne(AppointmentSyncLink, { syncKey: entry.syncKey, userId: entry.userId });
    const line = { ...(await this.who(fresh, entry)), syncKey: entry.syncKey, action: logName(planned), attempt: entry.attempts + 1, reason };
    if (e instanceof CalDavError && e.failure === 'AUTH') {
      this.deps.logger.warn({ ...line, outcome: 'needsReconnect' }, 'push of a copy to iCloud failed');
      await this.needsReconnect(fresh, entry.userId);
      if (link) linkState.waitingForReconnect(link);
      await inOneTransaction(fresh, () => releaseLease(fresh, OutboxEntry, entry.id, this.owner, { nextAttemptAt: new Date(Date.now() + PARKED_MS) }));
      return;
    }
    const attempts = entry.attempts + 1;
    const wait = backoffSeconds(this.deps.retryBaseSeconds, attempts, e instanceof CalDavError ? e.retryAfterSeconds : undefined);
    this.deps.logger.warn({ ...line, outcome: 'retrying', retryInSeconds: wait }, 'push of a copy to iCloud failed');
    if (link) linkState.pushFailed(link, reason, attempts);
    await inOneTransaction(fresh, () => releaseLease(fresh, OutboxEntry, entry.id, this.owner, { attempts, lastError: reason, nextAttemptAt: new Date(Date.now() + wait * 1000) }));
  }

  /** A 401 while pushing means the password was revoked: the integration needs reconnecting. */
  private async needsReconnect(em: EntityManager, userId: string): Promise<void> {
    const integration = await em.findOne(CalendarIntegration, { user: userId, calendars: { isPrimary: true } }, { populate: ['user', 'calendars'] });
    if (!integration || integration.status === IntegrationStatus.NEEDS_RECONNECT) return;
    this.deps.status.needsReconnect(em, integration);
    await this.deps.status.commit(em);
  }

  private async publishWarning(em: EntityManager, warning: ConflictWarning): Promise<void> {
    const user = await em.findOneOrFail(User, warning.userId);
    this.deps.logger.info(
      { warningId: warning.id, kind: warning.kind, userId: user.externalId, tenantId: warning.tenantId, appointmentId: warning.appointmentId },
      'conflict warning raised',
    );
    this.deps.events.publish('CONFLICT_WARNING', { tenantId: warning.tenantId, userId: user.externalId, warning: conflictWarningView(warning, user.externalId) });
  }
}

/** The planner's decision as log lines name it (`none`: nothing to write, or the push failed before deciding). */
function logName(action: PushAction['type'] | undefined): string {
  if (action === undefined || action === 'markSynced' || action === 'forget') return 'none';
  return action === 'markNotConnected' ? 'notConnected' : action;
}

/** Decisions that leave the copy unwritten until the user acts. */
const STUCK = new Set(['notConnected', 'waitForReconnect', 'keepDeletedInICloud']);

/**
 * Runs `work` (native updates of outbox entries) and flushes what `em` holds (the copy's link and status
 * row) in one transaction: an entry is never finished while the state it produced is lost, nor the other way.
 */
async function inOneTransaction(em: EntityManager, work: () => Promise<unknown>): Promise<void> {
  await em.begin();
  try {
    await work();
    await em.commit();
  } catch (e) {
    await em.rollback();
    throw e;
  }
}
