import cron, { type ScheduledTask } from 'node-cron';
import pLimit from 'p-limit';
import { CalendarIntegration } from '../entities/calendar-integration.entity';
import type { Logger } from '../logger';
import type { Orm } from '../orm';
import type { SyncService } from '../services/sync.service';
import { claimDue, releaseLease } from '../sync/lease';

export interface ReconcileJobOptions {
  orm: Orm;
  sync: SyncService;
  logger: Logger;
  /** node-cron expression of the tick (default every 30 s). */
  cron: string;
  /** Integrations synced at once by this process. */
  concurrency: number;
  /** Integrations synced at once against one CalDAV host (politeness towards a partition host). */
  perHost: number;
  /** A crashed process's lease expires after this. */
  leaseSeconds: number;
}

/** The reconciler: a cron tick that claims due integrations and syncs them. Adapter only: the work is in SyncService. */
export interface ReconcileJob {
  /** Syncs one batch of due integrations now (twice the concurrency at most); resolves with how many. */
  tick(): Promise<number>;
  /**
   * Syncs batches until fewer than a full batch were due (what each scheduled tick does); resolves with how
   * many. One batch per tick synced at most 8 integrations every 30 s with the defaults: 32 per 2-minute
   * interval, whatever the instance could do (found by the reconciler scale benchmark).
   */
  catchUp(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Starts the tick on `options.cron` (pass `cron: ''` for no schedule, e.g. in tests that call `tick`).
 * Each run gets its own EntityManager fork.
 */
export function startReconcileJob(options: ReconcileJobOptions): ReconcileJob {
  const owner = options.sync.owner;
  const limit = pLimit(options.concurrency);
  const hosts = new Map<string, ReturnType<typeof pLimit>>();
  const perHost = (url: string) => {
    const host = new URL(url).host;
    if (!hosts.has(host)) hosts.set(host, pLimit(options.perHost));
    return hosts.get(host)!;
  };

  async function runOne(id: string): Promise<void> {
    const em = options.orm.fork();
    try {
      const { homeUrl } = await em.findOneOrFail(CalendarIntegration, id, { fields: ['homeUrl'] });
      await perHost(homeUrl)(() => options.sync.syncIntegration(em, id));
    } catch (e) {
      options.logger.error({ err: e, integrationId: id }, 'reconcile: sync failed unexpectedly');
    } finally {
      await releaseLease(options.orm.fork(), CalendarIntegration, id, owner);
    }
  }

  const inFlight = new Set<Promise<unknown>>();
  async function tick(): Promise<number> {
    const started = performance.now();
    const ids = await claimDue(options.orm.fork(), owner, options.concurrency * 2, options.leaseSeconds);
    const runs = Promise.all(ids.map((id) => limit(() => runOne(id))));
    inFlight.add(runs);
    await runs.finally(() => inFlight.delete(runs));
    if (ids.length) options.logger.debug({ synced: ids.length, ms: Math.round(performance.now() - started) }, 'reconcile tick');
    return ids.length;
  }

  let stopping = false;
  async function catchUp(): Promise<number> {
    let synced = 0;
    for (let n = options.concurrency * 2; n === options.concurrency * 2 && !stopping; ) synced += n = await tick();
    return synced;
  }

  const task: ScheduledTask | undefined = options.cron
    ? cron.schedule(options.cron, async () => void (await catchUp().catch((e) => options.logger.error({ err: e }, 'reconcile tick failed'))), { noOverlap: true, name: 'reconcile' })
    : undefined;
  return {
    tick,
    catchUp,
    // Stops scheduling and waits for the runs under way, so that nothing is left half-done by a clean shutdown.
    stop: async () => {
      stopping = true;
      await task?.destroy();
      await Promise.allSettled([...inFlight]);
    },
  };
}
