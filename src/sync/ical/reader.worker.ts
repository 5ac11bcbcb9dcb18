import { MalformedCalendarObject, parseCalendarObject, type ParsedEvent } from './calendar-object';
import { contentHash } from './content-hash';

/** What reading one calendar object gives: its events and content hash, or why it cannot be used. */
export type ObjectReading = { events: ParsedEvent[]; contentHash: string } | { malformed: string };

/**
 * A task and its answer as they cross the thread boundary: times as epoch milliseconds, not `Date`s
 * (a `Date` made in the worker's realm fails `instanceof Date` in another realm, e.g. under jest).
 */
export interface ReadTask {
  data: string;
  timezone: string;
  accountAddresses: string[];
  window: [number, number];
}
type WireEvent = Omit<ParsedEvent, 'start' | 'end' | 'lastModified' | 'busy'> & { start: number | null; end: number | null; lastModified: number | null; busy: [number, number][] };
export type WireReading = { events: WireEvent[]; contentHash: string } | { malformed: string };

const ms = (d: Date | null) => (d ? d.getTime() : null);
const date = (n: number | null) => (n === null ? null : new Date(n));

/** Turns a worker's answer into the reading the sync uses, with `Date`s of this realm. */
export function fromWire(wire: WireReading): ObjectReading {
  if ('malformed' in wire) return wire;
  const events = wire.events.map((e) => ({ ...e, start: date(e.start), end: date(e.end), lastModified: date(e.lastModified), busy: e.busy.map(([s, t]) => ({ start: new Date(s), end: new Date(t) })) }));
  return { events, contentHash: wire.contentHash };
}

/**
 * Reads one calendar object in a worker thread (see `reader.pool.ts`): parse, busy expansion and content
 * hash. Never throws: whatever fails for this object (a bug in ical.js included) makes it `malformed`,
 * so that the sync skips it with a warning and goes on with the others.
 */
export default function readObject(task: ReadTask): WireReading {
  try {
    const ctx = { timezone: task.timezone, accountAddresses: task.accountAddresses, window: { start: new Date(task.window[0]), end: new Date(task.window[1]) } };
    const events = parseCalendarObject(task.data, ctx).map((e) => ({
      ...e,
      start: ms(e.start),
      end: ms(e.end),
      lastModified: ms(e.lastModified),
      busy: e.busy.map((i): [number, number] => [i.start.getTime(), i.end.getTime()]),
    }));
    return { events, contentHash: contentHash(task.data) };
  } catch (e) {
    return { malformed: e instanceof MalformedCalendarObject ? e.message : `cannot be read (${(e as Error).message})` };
  }
}

/** Several objects of one calendar, read with the same context (what `readObjects` takes). */
export interface ReadBatch extends Omit<ReadTask, 'data'> {
  data: string[];
}

/**
 * Reads several objects in one task, in order, each as `readObject` does: one message each way for a
 * batch instead of one per object (an import of 4,000 small objects waited on messages as long as it parsed).
 */
export function readObjects(batch: ReadBatch): WireReading[] {
  return batch.data.map((data) => readObject({ ...batch, data }));
}
