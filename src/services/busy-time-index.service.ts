import type { EntityManager } from '@mikro-orm/core';
import { sortBusy, type SortedBusy } from '../availability/availability.engine';
import type { Logger } from '../logger';
import type { EventBus } from '../pubsub';
import { RECENT_DAYS, readAppointmentBlocks, readBusy, readRecentBookings, type RecentBooking } from './busy-scope';
import { reads } from './plain-rows';

const DAY_MS = 86400000;

/** How the index is bounded: entries are read again after `ttlMs`, and at most `maxUsers` are kept (least recently used go first). */
export interface BusyTimeIndexOptions {
  ttlMs: number;
  maxUsers: number;
}

/** What blocks one user, as the index holds it. */
export interface IndexedUser {
  /** iCloud busy time (the calendars checked for conflicts). */
  icloud: SortedBusy;
  /** The same and the blocks of the user's active CRM appointments, on any calendar (buffers included). */
  all: SortedBusy;
  /** The user's appointments still booked, created in the last `RECENT_DAYS` (and a day more). */
  booked: RecentBooking[];
}

interface Entry {
  user: IndexedUser;
  loadedAt: number;
}

/** A read under way for some users; `stale` users were invalidated meanwhile, so their result is used once but not kept. */
interface Load {
  result: Promise<Map<string, IndexedUser>>;
  stale: Set<string>;
}


/**
 * What blocks each user, held in memory and sorted once, so that a booking page reads nothing from the
 * database: iCloud busy time (the calendars checked for conflicts, accounts not disconnected; see `busyScope`),
 * the blocks of the user's CRM appointments, and their recent appointments (a round robin's ranking).
 *
 * It stays correct with several instances and across restarts because it is only a cache of the database:
 * every write that changes a user's busy time or appointments publishes `BUSY_CHANGED` on the event bus (in
 * process, or through Redis to every instance) after its commit, and the entry is dropped. A read that was under way when
 * the event came is answered but not kept (it may have read before the commit). Entries also expire after
 * `ttlMs`, which bounds how long an event lost by Redis (a reconnect) or by a crash between commit and publish
 * can leave an instance behind. Bookings never rely on it: they check the database inside their transaction.
 * Only intervals ending after the day before the read are kept: availability never asks for the past.
 */
export class BusyTimeIndex {
  private readonly entries = new Map<string, Entry>();
  private readonly loads = new Map<string, Load>();
  private readonly subscription: AsyncIterator<unknown>;

  constructor(
    events: EventBus,
    logger: Logger,
    private readonly options: BusyTimeIndexOptions,
  ) {
    const changes = events.subscribe('BUSY_CHANGED')[Symbol.asyncIterator]();
    this.subscription = changes;
    void (async () => {
      for (let next = await changes.next(); !next.done; next = await changes.next()) this.invalidate(next.value.userIds);
    })().catch((e: unknown) => {
      // Without events, entries still expire after `ttlMs`: stale for that long at most, and said so.
      logger.error({ err: e }, 'busy-time index: no more BUSY_CHANGED events; entries now only expire');
    });
  }

  /**
   * What blocks each of `userIds` (internal ids), from memory when it is there and fresh, otherwise read with
   * `em` in three queries for all the missing users. Throws what the database throws.
   */
  async of(em: EntityManager, userIds: string[], now = Date.now()): Promise<Map<string, IndexedUser>> {
    const out = new Map<string, IndexedUser>();
    const missing: string[] = [];
    const waiting: Promise<void>[] = [];
    for (const id of userIds) {
      const entry = this.entries.get(id);
      if (entry && now - entry.loadedAt < this.options.ttlMs) {
        // Least recently used first in the map's order: a hit moves to the end.
        this.entries.delete(id);
        this.entries.set(id, entry);
        out.set(id, entry.user);
        continue;
      }
      const load = this.loads.get(id);
      if (load) waiting.push(load.result.then((busy) => void out.set(id, busy.get(id)!)));
      else missing.push(id);
    }
    if (missing.length) waiting.push(this.load(em, missing, now).then((busy) => missing.forEach((id) => out.set(id, busy.get(id)!))));
    await Promise.all(waiting);
    return out;
  }

  /** Forgets the busy time of `userIds` (internal ids), or of everyone when null. */
  invalidate(userIds: string[] | null): void {
    for (const id of userIds ?? [...this.entries.keys()]) this.entries.delete(id);
    for (const [id, load] of this.loads) if (userIds === null || userIds.includes(id)) load.stale.add(id);
  }

  /** How many users are held (for tests and metrics). */
  get size(): number {
    return this.entries.size;
  }

  /** Stops listening to the event bus. */
  async close(): Promise<void> {
    await this.subscription.return?.();
  }

  private load(em: EntityManager, userIds: string[], now: number): Promise<Map<string, IndexedUser>> {
    const stale = new Set<string>();
    const result = (async () => {
      const icloud = new Map<string, { start: number; end: number }[]>(userIds.map((id) => [id, []]));
      const appointments = new Map<string, { start: number; end: number }[]>(userIds.map((id) => [id, []]));
      const booked = new Map<string, IndexedUser['booked']>(userIds.map((id) => [id, []]));
      const since = new Date(now - DAY_MS);
      await reads(em, [
        () => readBusy(em, userIds, since, undefined, (userId, start, end) => icloud.get(userId)!.push({ start: start.getTime(), end: end.getTime() })),
        () => readAppointmentBlocks(em, userIds, since, undefined, (b) => appointments.get(b.userId)!.push({ start: b.start.getTime(), end: b.end.getTime() })),
        // A day more than the ranking looks back: an entry is read later than it was loaded (at most `ttlMs`).
        () => readRecentBookings(em, userIds, new Date(now - (RECENT_DAYS + 1) * DAY_MS), (userId, booking) => booked.get(userId)!.push(booking)),
      ] as const);
      return new Map(userIds.map((id) => [id, { icloud: sortBusy(icloud.get(id)!), all: sortBusy([...icloud.get(id)!, ...appointments.get(id)!]), booked: booked.get(id)! }]));
    })();
    const load: Load = { result, stale };
    for (const id of userIds) this.loads.set(id, load);
    const settle = () => {
      for (const id of userIds) if (this.loads.get(id) === load) this.loads.delete(id);
    };
    return result.then(
      (busy) => {
        settle();
        for (const [id, user] of busy) if (!stale.has(id)) this.keep(id, { user, loadedAt: now });
        return busy;
      },
      (e: unknown) => {
        settle();
        throw e;
      },
    );
  }

  private keep(id: string, entry: Entry): void {
    this.entries.delete(id);
    this.entries.set(id, entry);
    while (this.entries.size > this.options.maxUsers) this.entries.delete(this.entries.keys().next().value as string);
  }
}
