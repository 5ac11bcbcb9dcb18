import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from '../logger';
import type { Orm } from '../orm';
import type { EventBus } from '../pubsub';
import { recomputeBusy } from '../sync/busy-index';
import { horizon } from '../sync/horizon';
import type { IcalReader } from '../sync/ical/reader.pool';

/**
 * Rolls the busy-time horizon forward: every stored iCloud event's busy intervals are recomputed for the
 * window of `now` (occurrences enter it at its far end and leave it 30 days back).
 */
export function rollHorizon(orm: Orm, reader: IcalReader, events: EventBus, now = new Date()): Promise<{ recomputed: number; skipped: string[] }> {
  return recomputeBusy(() => orm.fork(), reader, horizon(now), (userIds) => events.publish('BUSY_CHANGED', { userIds }));
}

/** Schedules `rollHorizon` daily (03:17 UTC). Returns a stop function. */
export function startHorizonJob(orm: Orm, reader: IcalReader, events: EventBus, logger: Logger): () => Promise<void> {
  const task: ScheduledTask = cron.schedule(
    '17 3 * * *',
    async () => {
      try {
        const { recomputed, skipped } = await rollHorizon(orm, reader, events);
        logger.info({ recomputed }, 'busy-time horizon rolled forward');
        if (skipped.length) logger.warn({ skipped }, 'stored iCloud events that no longer parse kept their old busy time');
      } catch (e) {
        logger.error({ err: e }, 'rolling the busy-time horizon failed');
      }
    },
    { noOverlap: true, name: 'horizon', timezone: 'UTC' },
  );
  return async () => void (await task.destroy());
}
