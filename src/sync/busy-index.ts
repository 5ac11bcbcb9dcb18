import type { EntityManager, FilterQuery } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';
import { EventOrigin, ExternalEvent } from '../entities/external-event.entity';
import { User } from '../entities/user.entity';
import type { Interval, ParsedEvent } from './ical/calendar-object';
import type { IcalReader } from './ical/reader.pool';
import { insertRows, placeholders, plainWrite } from '../services/plain-rows';

/** Events per DELETE of their busy rows. */
const CLEAR_EVENTS = 256;
const BUSY_COLUMNS = ['id', 'user_id', 'calendar_id', 'event_id', 'starts_at', 'ends_at', 'title'];

/**
 * The busy rows of stored events, replaced in bulk: `replace` collects, `write` runs a few multi-row
 * statements in the caller's transaction. An import of 4,000 objects (20,000 rows) through the unit of
 * work cost seconds of CPU and hundreds of MB of snapshots; plain statements cost a fraction of that.
 * Only events created in iCloud block time through this index: CRM appointments block time on their own.
 */
export class BusyRows {
  private readonly cleared: string[] = [];
  private readonly rows: unknown[][] = [];

  /** Replaces the rows of `event` with the intervals of its parsed events (`fresh`: it has none stored yet). */
  replace(event: ExternalEvent, userId: string, parsed: ParsedEvent[], fresh: boolean): void {
    if (!fresh) this.cleared.push(event.id);
    if (event.origin !== EventOrigin.ICLOUD) return;
    for (const e of parsed) {
      for (const b of e.busy) this.rows.push([randomUUID(), userId, event.calendar.id, event.id, b.start, b.end, e.summary ?? null]);
    }
  }

  /** Deletes and inserts what was collected, in `em`'s transaction (the events the rows point to must be stored). */
  async write(em: EntityManager): Promise<void> {
    for (let i = 0; i < this.cleared.length; i += CLEAR_EVENTS) {
      const ids = this.cleared.slice(i, i + CLEAR_EVENTS);
      await plainWrite(em, `delete from busy_interval where event_id in (${placeholders(ids.length)})`, ids);
    }
    await insertRows(em, 'busy_interval', BUSY_COLUMNS, this.rows);
    this.cleared.length = 0;
    this.rows.length = 0;
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
      const busy = new BusyRows();
      for (const [n, event] of events.entries()) {
        const reading = readings[n];
        if ('malformed' in reading) {
          skipped.push(event.href);
          continue;
        }
        busy.replace(event, users.get(event.calendar.integration.user.id)!.id, reading.events, false);
        done++;
      }
      await busy.write(tx);
    });
    changed([...users.keys()]);
  }
}
