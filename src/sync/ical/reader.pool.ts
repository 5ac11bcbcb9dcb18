import pLimit from 'p-limit';
import { Piscina } from 'piscina';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { BusyContext } from './calendar-object';
import { guardCalendarObject, MalformedCalendarObject } from './guard';
import { fromWire, type ObjectReading, type ReadBatch, type ReadTask, type WireReading } from './reader.worker';

/** An object that overran its budget is read once more with this many times the budget before it is given up. */
const RETRY_FACTOR = 3;
/** A batch of `readAll` holds at most this many objects and characters: a few milliseconds of a worker. */
const BATCH_OBJECTS = 64;
const BATCH_CHARS = 256 * 1024;

/** Reads calendar objects off the event loop: what the sync uses instead of parsing on the main thread. */
export interface IcalReader {
  /** Parses, expands and hashes one object; resolves `{ malformed }` for one it cannot use. Never rejects. */
  read(data: string, ctx: BusyContext): Promise<ObjectReading>;
  /** Reads several objects of one calendar as `read` does, in batches; the readings in the same order. Never rejects. */
  readAll(data: string[], ctx: BusyContext): Promise<ObjectReading[]>;
  close(): Promise<void>;
}

export interface IcalReaderOptions {
  /** Worker threads (default: the cores, at most 4). */
  threads?: number;
  /** CPU time one object may take before its worker is stopped and the object skipped. */
  budgetMs?: number;
  /** Heap one worker may use; an object that needs more is skipped. */
  maxHeapMb?: number;
}

/**
 * The compiled worker. Under ts-jest this module runs from `src/` as TypeScript, which a worker thread
 * cannot load: it takes the build's copy (`npm test` builds first).
 */
function workerFile(): string {
  return __filename.endsWith('.ts') ? join(__dirname, '..', '..', '..', 'dist', 'src', 'sync', 'ical', 'reader.worker.js') : join(__dirname, 'reader.worker.js');
}

/**
 * Returns a reader backed by a piscina pool. One user's hostile object (an RRULE that never ends,
 * thousands of components) costs at most `budgetMs` of one worker and never blocks the event loop that
 * serves every tenant (issue: "no tenant can stall another"). Threads start on demand and stop when idle,
 * so memory used for a large import is given back.
 */
export function createIcalReader(options: IcalReaderOptions = {}): IcalReader {
  const threads = options.threads ?? Math.min(4, Math.max(1, availableParallelism()));
  const budgetMs = options.budgetMs ?? 5000;
  const pool = new Piscina({
    filename: workerFile(),
    minThreads: 0,
    maxThreads: threads,
    idleTimeout: 30000,
    resourceLimits: { maxOldGenerationSizeMb: options.maxHeapMb ?? 128 },
  });
  // Tasks wait here, not in piscina's queue, so that the budget counts running time only.
  const limit = pLimit(threads);
  const context = (ctx: BusyContext) => ({ timezone: ctx.timezone, accountAddresses: ctx.accountAddresses, window: [ctx.window.start.getTime(), ctx.window.end.getTime()] as [number, number] });
  const read = (data: string, ctx: BusyContext): Promise<ObjectReading> =>
    limit(async () => {
      try {
        // Cheap checks on the main thread first: an oversized object is never copied to a worker.
        guardCalendarObject(data);
        const task: ReadTask = { data, ...context(ctx) };
        const run = async (ms: number) => fromWire((await pool.run(task, { signal: AbortSignal.timeout(ms) })) as WireReading);
        // The budget is wall-clock time: a worker that was starting (it loads every time zone) or a machine
        // that is busy can overrun it with a sound object, which would then be remembered as unreadable.
        // One more try, warm and with a longer budget, tells those apart from an object that is the problem.
        return await run(budgetMs).catch((e: Error) => (e.name === 'AbortError' ? run(budgetMs * RETRY_FACTOR) : Promise.reject(e)));
      } catch (e) {
        return failed(e, budgetMs);
      }
    });
  return {
    read,
    readAll: async (data, ctx) => {
      const readings: (ObjectReading | undefined)[] = new Array(data.length);
      const batches: number[][] = [];
      let chars = Infinity;
      for (const [i, text] of data.entries()) {
        try {
          guardCalendarObject(text);
        } catch (e) {
          readings[i] = failed(e, budgetMs);
          continue;
        }
        if (chars + text.length > BATCH_CHARS || batches[batches.length - 1].length >= BATCH_OBJECTS) {
          batches.push([]);
          chars = 0;
        }
        batches[batches.length - 1].push(i);
        chars += text.length;
      }
      const alone: number[] = [];
      await Promise.all(
        batches.map((batch) =>
          limit(async () => {
            try {
              const batchTask: ReadBatch = { data: batch.map((i) => data[i]), ...context(ctx) };
              const wire = (await pool.run(batchTask, { name: 'readObjects', signal: AbortSignal.timeout(budgetMs) })) as WireReading[];
              for (const [k, i] of batch.entries()) readings[i] = fromWire(wire[k]);
            } catch {
              // A batch that overran the budget or the heap holds the object that did: each is read on its own,
              // with its own budget, so that only that one is skipped.
              alone.push(...batch);
            }
          }),
        ),
      );
      await Promise.all(alone.map(async (i) => (readings[i] = await read(data[i], ctx))));
      return readings as ObjectReading[];
    },
    close: () => pool.destroy(),
  };
}

/** Why an object could not be read, as the sync reports it. */
function failed(e: unknown, budgetMs: number): ObjectReading {
  if (e instanceof MalformedCalendarObject) return { malformed: e.message };
  const err = e as Error & { code?: string };
  if (err.name === 'AbortError') return { malformed: `took longer than ${(budgetMs * RETRY_FACTOR) / 1000} s to read` };
  if (err.code === 'ERR_WORKER_OUT_OF_MEMORY') return { malformed: 'needs more memory than one calendar object may use' };
  return { malformed: `cannot be read (${err.message})` };
}
