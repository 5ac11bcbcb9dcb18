import 'reflect-metadata';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseCalendarObject } from '../src/sync/ical/calendar-object';
import { horizon } from '../src/sync/horizon';
import { createIcalReader } from '../src/sync/ical/reader.pool';
import { HOSTILE_CORPUS as CORPUS } from '../dev/hostile-corpus';
import { lessIsBetter, type BenchResult } from './results';

/**
 * `npm run bench:hostile`: the hostile corpus of issue "robust under hostile calendar data", read the way the
 * sync reads it (worker pool) while the event loop delay and RSS are measured, compared in the same run
 * with one read on the main thread of the one object that is costly but valid (the peer: how the server read
 * objects before the pool). Prints the worst event-loop delay, RSS before, at peak and after.
 */
/** Runs the benchmark (see above); prints its figures and returns them. */
export async function benchHostile(): Promise<BenchResult[]> {
  const ctx = { timezone: 'Europe/Berlin', accountAddresses: [], window: horizon() };
  const mb = () => Math.round(process.memoryUsage().rss / 1048576);
  const reader = createIcalReader();
  const before = mb();
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, mb())), 20);
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const started = performance.now();
  const rounds = 5;
  const results = await Promise.all(Array.from({ length: rounds }, () => Object.entries(CORPUS).map(async ([name, ics]) => [name, await reader.read(ics, ctx)] as const)).flat());
  const poolMs = performance.now() - started;
  delay.disable();
  clearInterval(sampler);
  await reader.close();
  await new Promise((r) => setTimeout(r, 500));
  global.gc?.();
  console.log(`Hostile corpus: ${Object.keys(CORPUS).length} objects x ${rounds}, read by the worker pool in ${poolMs.toFixed(0)} ms`);
  for (const [name, r] of results.slice(0, Object.keys(CORPUS).length)) {
    console.log(`  ${name.padEnd(28)} ${'malformed' in r ? `skipped: ${r.malformed}` : `${r.events.reduce((n, e) => n + e.busy.length, 0)} busy interval(s); ${r.events.flatMap((e) => e.warnings).join(' ') || 'no warning'}`}`);
  }
  console.log(`  event loop delay while reading: max ${(delay.max / 1e6).toFixed(1)} ms, p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms`);
  console.log(`  RSS: ${before} MB before, ${peak} MB at peak, ${mb()} MB after`);
  // The peer: the costliest valid object read on the main thread, as before the pool (the loop is blocked throughout).
  const t = performance.now();
  parseCalendarObject(CORPUS['1,900 overrides of one UID'], ctx);
  const mainMs = performance.now() - t;
  console.log(`  one 1,900-override object on the main thread would block the loop ${mainMs.toFixed(0)} ms; worst delay with the pool is ${(mainMs / (delay.max / 1e6)).toFixed(1)}x smaller`);
  return [
    lessIsBetter('hostile corpus through the worker pool', 'worst event-loop delay', 'ms', delay.max / 1e6, mainMs, 'one costly valid object read on the main thread'),
    lessIsBetter('hostile corpus through the worker pool', 'peak RSS', 'MB', peak, null, null),
  ];
}

if (require.main === module) {
  benchHostile().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
