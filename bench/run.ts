import 'reflect-metadata';
import { createDAVClient } from 'tsdav';
import { CalDavClient } from '../src/sync/caldav/caldav.client';
import { readCalendar } from '../src/sync/inbound/calendar-reader';
import { horizon } from '../src/sync/horizon';
import { createIcalReader } from '../src/sync/ical/reader.pool';
import type { StoredObject } from '../src/sync/inbound/inbound.planner';
import { radicaleTarget } from '../dev/caldav-targets';
import { Phone, vevent } from '../dev/phone';
import { benchAvailability } from './availability';
import { median } from './measure';

/**
 * `npm run bench`: the inbound sync against real Radicale with 500 events, compared in the same run with
 * the peer a typical integration uses: tsdav's fetchCalendarObjects (list + fetch everything each check),
 * then availability from the local index against asking CalDAV per request. Prints times and ratios.
 */
const EVENTS = Number(process.env.BENCH_EVENTS ?? 500);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);


async function main(): Promise<void> {
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
    const first = await readCalendar(client(), { href: calendarUrl, syncToken: null, ctag: null, lastFullSyncAt: null }, new Map(), ctx, reader);
    const stored = new Map<string, StoredObject>([...first.fetched.values()].map((o) => [o.href, { href: o.href, etag: o.etag, contentHash: 'contentHash' in o ? o.contentHash : '' }]));
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
      await readCalendar(c, state, stored, ctx, reader);
      return c.requests;
    };

    const rows: string[] = [];
    const compare = async (label: string) => {
      const p = await median(ROUNDS, peerRead);
      const o = await median(ROUNDS, oursRead);
      rows.push(`${label.padEnd(34)} peer ${p.ms.toFixed(1).padStart(8)} ms ${String(p.result).padStart(3)} req | ours ${o.ms.toFixed(1).padStart(7)} ms ${String(o.result).padStart(2)} req | ${(p.ms / o.ms).toFixed(1)}x faster`);
    };
    await compare(`unchanged calendar (${EVENTS} events)`);
    await phone.put('work', vevent('bench-new', `${day(1)}T12:00:00Z`, `${day(1)}T13:00:00Z`, 'New'));
    await compare('after one change');
    console.log(`Inbound sync on Radicale, median of ${ROUNDS} rounds (peer: tsdav fetchCalendarObjects)`);
    for (const row of rows) console.log(row);
    console.log(await benchAvailability(target, ROUNDS));
  } finally {
    await reader.close();
    await target.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
