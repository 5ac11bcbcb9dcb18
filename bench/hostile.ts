import 'reflect-metadata';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseCalendarObject } from '../src/sync/ical-busy';
import { horizon } from '../src/sync/horizon';
import { createIcalReader } from '../src/sync/ical.pool';

/**
 * `npm run bench:hostile`: the hostile corpus of issue "robust under hostile calendar data", read the way the
 * sync reads it (worker pool) while the event loop delay and RSS are measured, compared in the same run
 * with one read on the main thread of the one object that is costly but valid (the peer: how the server read
 * objects before the pool). Prints the worst event-loop delay, RSS before, at peak and after.
 */
const ev = (uid: string, ...lines: string[]) => ['BEGIN:VEVENT', `UID:${uid}`, 'DTSTAMP:20261101T000000Z', `SUMMARY:${uid}`, ...lines, 'END:VEVENT'];
const cal = (...events: string[][]) => ['BEGIN:VCALENDAR', 'VERSION:2.0', ...events.flat(), 'END:VCALENDAR', ''].join('\r\n');
const CORPUS: Record<string, string> = {
  'MINUTELY, no end': cal(ev('m', 'DTSTART:20261120T080000Z', 'DURATION:PT5M', 'RRULE:FREQ=MINUTELY')),
  'SECONDLY, no end': cal(ev('s', 'DTSTART:20000101T000000Z', 'DURATION:PT1S', 'RRULE:FREQ=SECONDLY')),
  'DAILY from year 0000': cal(ev('y', 'DTSTART:00000101T090000Z', 'DURATION:PT30M', 'RRULE:FREQ=DAILY')),
  'MINUTELY;COUNT=100000': cal(ev('c', 'DTSTART:20261110T000000Z', 'DURATION:PT1M', 'RRULE:FREQ=MINUTELY;COUNT=100000')),
  'empty calendar-data': '',
  '20,000 nested components': ['BEGIN:VCALENDAR', ...Array(20000).fill('BEGIN:X'), ...Array(20000).fill('END:X'), 'END:VCALENDAR'].join('\r\n'),
  '5,000 VEVENTs': cal(...Array.from({ length: 5000 }, (_, i) => ev(`v${i}`, 'DTSTART:20261201T090000Z', 'DTEND:20261201T100000Z'))),
  '1,900 overrides of one UID': cal(
    ev('o', 'DTSTART:20200101T090000Z', 'DTEND:20200101T091500Z', 'RRULE:FREQ=DAILY'),
    ...Array.from({ length: 1900 }, (_, i) => ev('o', `RECURRENCE-ID:${new Date(Date.UTC(2020, 0, 1 + i, 9)).toISOString().replace(/[-:]|\.\d+/g, '')}`, `DTSTART:${new Date(Date.UTC(2020, 0, 1 + i, 10)).toISOString().replace(/[-:]|\.\d+/g, '')}`, 'DURATION:PT15M')),
  ),
};

async function main(): Promise<void> {
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
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
