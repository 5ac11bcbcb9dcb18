import './production-mode';
import 'reflect-metadata';
import { setFlagsFromString } from 'node:v8';
import { loadConfig } from './config';
import { createLogger } from './logger';
import { startServer } from './server';

/**
 * V8 flags set at start, each unless the same flag is given to node (which wins). V8 reads both as it runs, so
 * they can be set here after start: `npm start` and the benchmarks' server processes both run this file.
 *
 * --heap-growing-percent=100: V8 lets the old generation grow up to four times what survived the last full GC
 * before collecting it again (on a machine with a few GB). A sync keeps its objects across awaits long enough to
 * be promoted, so a reconciler's old generation filled with garbage up to that limit: ~50 MB live, ~180 MB
 * before each full GC, RSS 344 MB peak at 1,000 integrations (`bench/reconciler-scale.ts`). At most double: 238
 * to 254 MB peak in three runs; CPU per sync the same (two instances side by side under the same load, one with
 * V8's own choice: 42.8 vs 41.3 ms and 24.4 vs 24.8 ms); the import and query server of `bench/memory.ts` peaked
 * at 319 MB instead of 349, CPU 17.4 s instead of 20.5. At most 1.5 times saved 17 MB more for 10% more CPU.
 * The cost falls on the API instead: `availableSlots` over a large index takes about a fifth more CPU (more full
 * GCs; `bench/slots-caldav.ts` with SLOTS_CALDAV_NODE_ARGS=--heap-growing-percent=0), so an instance that only
 * serves the API may start with that flag. The heap limit is unchanged (a large import cannot run out of heap
 * because of this; it only collects more often).
 *
 * --no-allocation-site-pretenuring: V8 allocates the objects of a code site straight into the old generation
 * once most of them were seen to survive a young collection. A page of slots is built over a few milliseconds,
 * so a collection during one finds all of its slots alive, and V8 then pretenured every later page's slots:
 * old-generation garbage that kept young objects alive in turn until the next full GC (as did Apollo's gateway
 * request context, see scripts/patch-dependencies.mjs: together each young collection promoted about 2 MB and
 * took 5 to 12 ms, the p99 of a 25-member page). Without it, building the slots of a page in a loop promoted
 * 0.1 MB per collection instead of 4.5; over HTTP, in three runs of 1,500 25-member pages against three with it,
 * CPU per page was 5.0 to 5.7 ms instead of 6.1 to 7.0 and p99 12.6 to 15.6 ms instead of 17.3 to 19.8.
 */
const V8_FLAGS: [name: string, flag: string][] = [
  ['heap-growing-percent', '--heap-growing-percent=100'],
  ['allocation-site-pretenuring', '--no-allocation-site-pretenuring'],
];
for (const [name, flag] of V8_FLAGS) {
  const given = new RegExp(`^--(no-)?${name.replace(/-/g, '[-_]')}(=|$)`);
  if (!process.execArgv.some((a) => given.test(a))) setFlagsFromString(flag);
}

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
