import cron, { type ScheduledTask } from 'node-cron';
import { EventOrigin, ExternalEvent } from '../entities/external-event.entity';
import { User } from '../entities/user.entity';
import type { Logger } from '../logger';
import type { Orm } from '../orm';
import { replaceBusy } from '../sync/busy-index';
import { MalformedCalendarObject, parseCalendarObject } from '../sync/ical-busy';
import { horizon } from '../sync/horizon';

const BATCH = 200;

/**
 * Rolls the busy-time horizon forward: recomputes every stored iCloud event's busy intervals for the
 * window of `now` from its stored iCalendar, without a request to iCloud (occurrences enter the window at
 * its far end and leave it 30 days back). Returns the number of events recomputed.
 */
export async function rollHorizon(orm: Orm, now = new Date()): Promise<number> {
  const window = horizon(now);
  let done = 0;
  for (let offset = 0; ; offset += BATCH) {
    const em = orm.fork();
    const events = await em.find(ExternalEvent, { origin: EventOrigin.ICLOUD }, { populate: ['raw', 'calendar.integration'], orderBy: { id: 'asc' }, limit: BATCH, offset });
    if (events.length === 0) return done;
    await em.transactional(async (tx) => {
      for (const event of events) {
        const integration = event.calendar.integration;
        const user = await tx.findOneOrFail(User, integration.user);
        try {
          const parsed = parseCalendarObject(event.raw, { timezone: user.timezone, accountAddresses: [integration.appleId], window });
          await replaceBusy(tx, event, user.id, parsed);
          done++;
        } catch (e) {
          if (!(e instanceof MalformedCalendarObject)) throw e;
        }
      }
    });
  }
}

/** Schedules `rollHorizon` daily (03:17 UTC). Returns a stop function. */
export function startHorizonJob(orm: Orm, logger: Logger): () => Promise<void> {
  const task: ScheduledTask = cron.schedule(
    '17 3 * * *',
    async () => {
      try {
        logger.info({ events: await rollHorizon(orm) }, 'busy-time horizon rolled forward');
      } catch (e) {
        logger.error({ err: e }, 'rolling the busy-time horizon failed');
      }
    },
    { noOverlap: true, name: 'horizon', timezone: 'UTC' },
  );
  return async () => void (await task.destroy());
}
