// Measured as `npm start` runs the server (graphql-js in production mode).
import '../src/production-mode';
import 'reflect-metadata';
import { createDAVClient } from 'tsdav';
import { CalDavClient } from '../src/sync/caldav/caldav.client';
import { readCalendar, readObjects } from '../src/sync/inbound/calendar-reader';
import { horizon } from '../src/sync/horizon';
import { createIcalReader } from '../src/sync/ical/reader.pool';
import type { StoredObject } from '../src/sync/inbound/inbound.planner';
import { radicaleTarget } from '../dev/caldav-targets';
import { Phone, vevent } from '../dev/phone';
import { benchAvailability } from './availability';
import { benchHostile } from './hostile';
import { benchFanout } from './fanout';
import { benchImport } from './import';
import { benchMemory } from './memory';
import { lessIsBetter, runAsMain, writeJsonIfAsked, type BenchResult } from './results';
import { benchSlots } from './slots';
import { median } from './measure';

/**
 * `npm run bench` (`-- --json` also writes bench-results.json, `-- --json=<path>` elsewhere): every benchmark,
 * each against its peer in the same run, on loopback servers, printing its figures and ratios:
 * - the hostile corpus through the worker pool (`hostile.ts`), against reading on the main thread;
 * - the inbound sync against real Radicale with BENCH_EVENTS (500) events, against tsdav's fetchCalendarObjects
 *   (list and fetch everything on each check), then availability from the local index against asking CalDAV
 *   on every request (`availability.ts`);
 * - availableSlots over HTTP at calendar size (`slots.ts`), against the previous method;
 * - the initial import of 4,000 objects into SQLite and PostgreSQL (`import.ts`), and a sync after one change, against tsdav fetching them and vdirsyncer syncing them to a folder;
 * - the server's memory over two thousands of availableSlots after importing 5 x 4,000 objects (`memory.ts`);
 * - the fan-out of sync results to 1,000 subscribers, one instance and two (`fanout.ts`), against 1 subscriber.
 * The two at scale (availability against CalDAV per request with 45,000 objects, 1,000 integrations per
 * reconciler tick) take minutes each: `npm run bench:scale`. BENCHMARKS.md says what each measures and the
 * figures of a run.
 */
const EVENTS = Number(process.env.BENCH_EVENTS ?? 500);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

async function main(): Promise<void> {
  const results: BenchResult[] = [];
  // The hostile corpus first: its RSS figures are those of a fresh process.
  results.push(...(await benchHostile()));
  results.push(...(await benchSync()));
  results.push(...(await benchSlots()));
  results.push(...(await benchImport()));
  results.push(...(await benchMemory()));
  results.push(...(await benchFanout()));
  const path = writeJsonIfAsked(results);
  if (path) console.log(`results written to ${path}`);
}

/** Inbound sync and availability against a real Radicale, each with its peer. */
async function benchSync(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const target = await radicaleTarget();
  const reader = createIcalReader();
  try {
    const account = await target.newAccount();
    const phone = new Phone(target, account);
    const day = (i: number) => new Date(Date.now() + (1 + (i % 300)) * 86400000).toISOString().slice(0, 10);
    for (let i = 0; i < EVENTS; i++) await phone.put('work', vevent(`bench-${i}`, `${day(i)}T09:00:00Z`, `${day(i)}T10:00:00Z`, `Event ${i}`));
    const calendarUrl = phone.calendarUrl('work');
    const ctx = { timezone: 'UTC', accountAddresses: [account.appleId], window: horizon() };
    const client = () => new CalDavClient({ serverUrl: account.serverUrl, username: account.appleId, password: account.appSpecificPassword, timeoutMs: 30000 });

    // Ours: a first full read gives the token and status rows; later reads start from them.
    const first = await readCalendar(client(), { href: calendarUrl, syncToken: null, ctag: null, lastFullSyncAt: null }, new Map());
    const stored = new Map<string, StoredObject>([...(await readObjects(reader, first.objects, ctx)).values()].map((o) => [o.href, { href: o.href, etag: o.etag, contentHash: 'contentHash' in o ? o.contentHash : '' }]));
    const state = { href: calendarUrl, syncToken: first.token, ctag: first.ctag, lastFullSyncAt: new Date() };

    let requests = 0;
    const counting = ((input: Parameters<typeof fetch>[0], init?: RequestInit) => (requests++, fetch(input, init))) as typeof fetch;
    const peer = await createDAVClient({
      serverUrl: account.serverUrl,
      credentials: { username: account.appleId, password: account.appSpecificPassword },
      authMethod: 'Basic',
      defaultAccountType: 'caldav',
      fetch: counting,
    } as Parameters<typeof createDAVClient>[0]);
    const peerRead = async () => {
      requests = 0;
      const objects = await peer.fetchCalendarObjects({ calendar: { url: calendarUrl } });
      if (objects.length < EVENTS) throw new Error(`peer read ${objects.length} of ${EVENTS} events`);
      return requests;
    };
    const oursRead = async () => {
      const c = client();
      await readObjects(reader, (await readCalendar(c, state, stored)).objects, ctx);
      return c.requests;
    };

    const rows: string[] = [];
    const compare = async (label: string) => {
      const p = await median(ROUNDS, peerRead);
      const o = await median(ROUNDS, oursRead);
      rows.push(`${label.padEnd(34)} peer ${p.ms.toFixed(1).padStart(8)} ms ${String(p.result).padStart(3)} req | ours ${o.ms.toFixed(1).padStart(7)} ms ${String(o.result).padStart(2)} req | ${(p.ms / o.ms).toFixed(1)}x faster`);
      results.push(lessIsBetter(`inbound sync on Radicale, ${label}`, 'median time', 'ms', o.ms, p.ms, 'tsdav fetchCalendarObjects'));
      results.push(lessIsBetter(`inbound sync on Radicale, ${label}`, 'requests', 'requests', o.result, p.result, 'tsdav fetchCalendarObjects'));
    };
    await compare(`unchanged calendar (${EVENTS} events)`);
    await phone.put('work', vevent('bench-new', `${day(1)}T12:00:00Z`, `${day(1)}T13:00:00Z`, 'New'));
    await compare('after one change');
    console.log(`Inbound sync on Radicale, median of ${ROUNDS} rounds (peer: tsdav fetchCalendarObjects)`);
    for (const row of rows) console.log(row);
    const availability = await benchAvailability(target, ROUNDS);
    console.log(availability.line);
    results.push(availability.result);
    return results;
  } finally {
    await reader.close();
    await target.stop();
  }
}

runAsMain(module, main);
