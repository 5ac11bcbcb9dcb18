// Measured as `npm start` runs the server (graphql-js in production mode).
import '../src/production-mode';
import 'reflect-metadata';
import { benchReconcilerScale } from './reconciler-scale';
import { runAsMain, writeJsonIfAsked, type BenchResult } from './results';
import { benchSlotsCaldav } from './slots-caldav';

/**
 * `npm run bench:scale` (`-- --json` as `npm run bench`): the benchmarks at scale, minutes each:
 * - availableSlots from the local index against availability by CalDAV per request (`slots-caldav.ts`: 45,000
 *   objects in Radicale, round robin, collective and service calendars, the same slots in every window) and
 *   the throughput of 20 clients;
 * - one reconciler tick over 1,000 connected integrations, unchanged and with 1% changed, on one instance and on
 *   two (`reconciler-scale.ts`), against tsdav listing every calendar in full.
 */
async function main(): Promise<void> {
  const results: BenchResult[] = [];
  results.push(...(await benchSlotsCaldav()));
  results.push(...(await benchReconcilerScale()));
  const path = writeJsonIfAsked(results);
  if (path) console.log(`results written to ${path}`);
}

runAsMain(module, main);
