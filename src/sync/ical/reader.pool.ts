import pLimit from 'p-limit';
import { Piscina } from 'piscina';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { BusyContext } from './calendar-object';
import { guardCalendarObject, MalformedCalendarObject } from './guard';
import { fromWire, type ObjectReading, type ReadTask, type WireReading } from './reader.worker';

/** An object that overran its budget is read once more with this many times the budget before it is given up. */
const RETRY_FACTOR = 3;

/** Reads calendar objects off the event loop: what the sync uses instead of parsing on the main thread. */
export interface IcalReader {
  /** Parses, expands and hashes one object; resolves `{ malformed }` for one it cannot use. Never rejects. */
  read(data: string, ctx: BusyContext): Promise<ObjectReading>;
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
  return {
    read: (data, ctx) =>
      limit(async () => {
        try {
          // Cheap checks on the main thread first: an oversized object is never copied to a worker.
          guardCalendarObject(data);
          const task: ReadTask = { data, timezone: ctx.timezone, accountAddresses: ctx.accountAddresses, window: [ctx.window.start.getTime(), ctx.window.end.getTime()] };
          const run = async (ms: number) => fromWire((await pool.run(task, { signal: AbortSignal.timeout(ms) })) as WireReading);
          // The budget is wall-clock time: a worker that was starting (it loads every time zone) or a machine
          // that is busy can overrun it with a sound object, which would then be remembered as unreadable.
          // One more try, warm and with a longer budget, tells those apart from an object that is the problem.
          return await run(budgetMs).catch((e: Error) => (e.name === 'AbortError' ? run(budgetMs * RETRY_FACTOR) : Promise.reject(e)));
        } catch (e) {
          if (e instanceof MalformedCalendarObject) return { malformed: e.message };
          const err = e as Error & { code?: string };
          if (err.name === 'AbortError') return { malformed: `took longer than ${(budgetMs * RETRY_FACTOR) / 1000} s to read` };
          if (err.code === 'ERR_WORKER_OUT_OF_MEMORY') return { malformed: 'needs more memory than one calendar object may use' };
          return { malformed: `cannot be read (${err.message})` };
        }
      }),
    close: () => pool.destroy(),
  };
}
