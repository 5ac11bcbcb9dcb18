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
  /** Runs one tick now; resolves with the number of integrations synced. */
  tick(): Promise<number>;
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
    const ids = await claimDue(options.orm.fork(), owner, options.concurrency * 2, options.leaseSeconds);
    const runs = Promise.all(ids.map((id) => limit(() => runOne(id))));
    inFlight.add(runs);
    await runs.finally(() => inFlight.delete(runs));
    if (ids.length) options.logger.debug({ synced: ids.length }, 'reconcile tick');
    return ids.length;
  }

  const task: ScheduledTask | undefined = options.cron
    ? cron.schedule(options.cron, async () => void (await tick().catch((e) => options.logger.error({ err: e }, 'reconcile tick failed'))), { noOverlap: true, name: 'reconcile' })
    : undefined;
  return {
    tick,
    // Stops scheduling and waits for the runs under way, so that nothing is left half-done by a clean shutdown.
    stop: async () => {
      await task?.destroy();
      await Promise.allSettled([...inFlight]);
    },
  };
}
