import type { EntityManager } from '@mikro-orm/core';
import { sortBusy, type SortedBusy } from '../availability/availability.engine';
import type { Logger } from '../logger';
import type { EventBus } from '../pubsub';
import { readBusy } from './busy-scope';

const DAY_MS = 86400000;

/** How the index is bounded: entries are read again after `ttlMs`, and at most `maxUsers` are kept (least recently used go first). */
export interface BusyTimeIndexOptions {
  ttlMs: number;
  maxUsers: number;
}

interface Entry {
  busy: SortedBusy;
  loadedAt: number;
}

/** A read under way for some users; `stale` users were invalidated meanwhile, so their result is used once but not kept. */
interface Load {
  result: Promise<Map<string, SortedBusy>>;
  stale: Set<string>;
}

/**
 * Each user's iCloud busy time (the calendars checked for conflicts, accounts not disconnected; see
 * `busyScope`) held in memory, sorted once, so that a booking page reads no busy row from the database.
 *
 * It stays correct with several instances and across restarts because it is only a cache of the database:
 * every write that changes a user's busy time publishes `BUSY_CHANGED` on the event bus (in process, or
 * through Redis to every instance) after its commit, and the entry is dropped. A read that was under way when
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
   * The busy time of each of `userIds` (internal ids), from memory when it is there and fresh, otherwise read
   * with `em` in one query for all the missing users. Throws what the database throws.
   */
  async of(em: EntityManager, userIds: string[], now = Date.now()): Promise<Map<string, SortedBusy>> {
    const out = new Map<string, SortedBusy>();
    const missing: string[] = [];
    const waiting: Promise<void>[] = [];
    for (const id of userIds) {
      const entry = this.entries.get(id);
      if (entry && now - entry.loadedAt < this.options.ttlMs) {
        // Least recently used first in the map's order: a hit moves to the end.
        this.entries.delete(id);
        this.entries.set(id, entry);
        out.set(id, entry.busy);
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

  private load(em: EntityManager, userIds: string[], now: number): Promise<Map<string, SortedBusy>> {
    const stale = new Set<string>();
    const result = (async () => {
      const intervals = new Map<string, { start: number; end: number }[]>(userIds.map((id) => [id, []]));
      await readBusy(em, userIds, new Date(now - DAY_MS), undefined, (userId, start, end) => intervals.get(userId)!.push({ start: start.getTime(), end: end.getTime() }));
      return new Map([...intervals].map(([id, list]) => [id, sortBusy(list)]));
    })();
    const load: Load = { result, stale };
    for (const id of userIds) this.loads.set(id, load);
    const settle = () => {
      for (const id of userIds) if (this.loads.get(id) === load) this.loads.delete(id);
    };
    return result.then(
      (busy) => {
        settle();
        for (const [id, sorted] of busy) if (!stale.has(id)) this.keep(id, { busy: sorted, loadedAt: now });
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
