import type { EntityManager, FilterQuery } from '@mikro-orm/core';
import { BusyInterval } from '../entities/busy-interval.entity';
import { EventOrigin, ExternalEvent } from '../entities/external-event.entity';
import { User } from '../entities/user.entity';
import type { Interval, ParsedEvent } from './ical/calendar-object';
import type { IcalReader } from './ical/reader.pool';

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
 * changes (all-day and floating events move with it). `changed` gets the users of each batch once it is
 * committed (to publish `BUSY_CHANGED`). Returns how many events were recomputed, and the hrefs of those that
 * no longer parse (their busy rows are left as they were).
 */
export async function recomputeBusy(
  fork: () => EntityManager,
  reader: IcalReader,
  window: Interval,
  changed: (userIds: string[]) => void,
  where: FilterQuery<ExternalEvent> = {},
): Promise<{ recomputed: number; skipped: string[] }> {
  let done = 0;
  const skipped: string[] = [];
  for (let offset = 0; ; offset += BATCH) {
    const em = fork();
    const events = await em.find(ExternalEvent, { ...(where as object), origin: EventOrigin.ICLOUD, unreadable: null }, { populate: ['raw', 'calendar.integration'], orderBy: { id: 'asc' }, limit: BATCH, offset });
    if (events.length === 0) return { recomputed: done, skipped };
    const users = new Map((await em.find(User, { id: { $in: [...new Set(events.map((e) => e.calendar.integration.user.id))] } })).map((u) => [u.id, u]));
    const readings = await Promise.all(
      events.map((event) => {
        const { user, appleId } = event.calendar.integration;
        return reader.read(event.raw, { timezone: users.get(user.id)!.timezone, accountAddresses: [appleId], window });
      }),
    );
    await em.transactional(async (tx) => {
      for (const [n, event] of events.entries()) {
        const reading = readings[n];
        if ('malformed' in reading) {
          skipped.push(event.href);
          continue;
        }
        await replaceBusy(tx, event, users.get(event.calendar.integration.user.id)!.id, reading.events);
        done++;
      }
    });
    changed([...users.keys()]);
  }
}
