import './production-mode';
import 'reflect-metadata';
import { setFlagsFromString } from 'node:v8';
import { loadConfig } from './config';
import { createLogger } from './logger';
import { startServer } from './server';

/**
 * V8 lets the old generation grow up to four times what survived the last full GC before collecting it again
 * (on a machine with a few GB). A sync keeps its objects across awaits long enough to be promoted, so a
 * reconciler's old generation filled with garbage up to that limit: ~50 MB live, ~180 MB before each full GC,
 * RSS 344 MB peak at 1,000 integrations (`bench/reconciler-scale.ts`). At most double: 238 to 254 MB peak in
 * three runs; CPU per sync the same (two instances side by side under the same load, one with V8's own
 * choice: 42.8 vs 41.3 ms and 24.4 vs 24.8 ms); the import and query server of `bench/memory.ts` peaked at
 * 319 MB instead of 349, CPU 17.4 s instead of 20.5. At most 1.5 times saved 17 MB more for 10% more CPU.
 * The cost falls on the API instead: `availableSlots` over a large index takes about a fifth more CPU (more full
 * GCs; `bench/slots-caldav.ts` with SLOTS_CALDAV_NODE_ARGS=--heap-growing-percent=0), so an instance that only
 * serves the API may start with that flag. The heap limit is unchanged (a large import cannot run out of heap
 * because of this; it only collects more often). V8 reads the flag at every full GC, so it can be set here after start: `npm start` and the
 * benchmarks' server processes both run this file. A --heap-growing-percent given to node wins.
 */
const HEAP_GROWING_PERCENT = 100;
if (!process.execArgv.some((a) => /^--heap[-_]growing[-_]percent/.test(a))) setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);

/** Entry point of `npm start`: configuration from the environment, embedded defaults otherwise. */
async function main(): Promise<void> {
  const logger = createLogger();
  const config = loadConfig();
  for (const warning of config.warnings) logger.warn(warning);
  const server = await startServer(config, logger);
  const stop = async (signal: string) => {
    logger.info({ signal }, 'shutting down');
    const finished = await server.close();
    logger.info({ finished }, 'stopped');
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((e) => {
  console.error(`Cannot start: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
});
