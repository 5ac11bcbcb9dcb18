import type { EntityManager, FilterQuery } from '@mikro-orm/core';
import { BusyInterval } from '../entities/busy-interval.entity';
import { EventOrigin, ExternalEvent } from '../entities/external-event.entity';
import { User } from '../entities/user.entity';
import { MalformedCalendarObject, parseCalendarObject, type Interval } from './ical-busy';
import type { ParsedEvent } from './ical-busy';

/**
 * Replaces the busy rows of one stored event with the intervals of its parsed events. Only events
 * created in iCloud block time through this index: CRM appointments block time on their own.
 */
export async function replaceBusy(em: EntityManager, event: ExternalEvent, userId: string, parsed: ParsedEvent[]): Promise<void> {
  await em.nativeDelete(BusyInterval, { event });
  if (event.origin !== EventOrigin.ICLOUD) return;
  for (const e of parsed) {
    for (const b of e.busy) em.create(BusyInterval, { userId, calendar: event.calendar, event, startsAt: b.start, endsAt: b.end, title: e.summary });
  }
}

const BATCH = 200;

/**
 * Recomputes the busy rows of stored iCloud events (all, or those matching `where`) for `window`, from the
 * stored iCalendar: no request to iCloud. Used when the horizon rolls forward and when a user's zone
 * changes (all-day and floating events move with it). Returns how many events were recomputed, and the hrefs
 * of those that no longer parse (their busy rows are left as they were).
 */
export async function recomputeBusy(fork: () => EntityManager, window: Interval, where: FilterQuery<ExternalEvent> = {}): Promise<{ recomputed: number; skipped: string[] }> {
  let done = 0;
  const skipped: string[] = [];
  for (let offset = 0; ; offset += BATCH) {
    const em = fork();
    const events = await em.find(ExternalEvent, { ...(where as object), origin: EventOrigin.ICLOUD }, { populate: ['raw', 'calendar.integration'], orderBy: { id: 'asc' }, limit: BATCH, offset });
    if (events.length === 0) return { recomputed: done, skipped };
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
          skipped.push(event.href);
        }
      }
    });
  }
}
