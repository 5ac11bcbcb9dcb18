import 'reflect-metadata';
import { createDAVClient } from 'tsdav';
import { radicaleTarget, type TargetAccount } from '../dev/caldav-targets';
import { startPostgres } from '../dev/postgres';
import { CONNECT, dataOf, startTestApp } from '../dev/app';
import { calendarObjects, DAY_MS as DAY } from '../dev/calendar-data';
import { lessIsBetter, runAsMain, type BenchResult } from './results';

/**
 * The initial import of one account: IMPORT_OBJECTS (4,000) calendar objects in one Radicale collection, written
 * on disk by dev/calendar-data.ts (Europe/Berlin with its VTIMEZONE, one in five a weekly series with an EXDATE
 * and moved occurrences, spread over the sync horizon), read by the server's first sync into SQLite and into
 * PostgreSQL: listing, fetching, parsing and expanding in the worker pool, storing events and busy time. The
 * peer, in the same run on the same collection, is tsdav's fetchCalendarObjects (list and fetch everything, no
 * parsing or storing). Then a sync with nothing changed.
 */
const OBJECTS = Number(process.env.IMPORT_OBJECTS ?? 4000);

/** Runs the benchmark (see above); prints its figures and returns them. */
export async function benchImport(): Promise<BenchResult[]> {
  const target = await radicaleTarget();
  const postgres = await startPostgres();
  try {
    const account = await target.newAccount();
    const path = target.radicale.createCollectionOnDisk(account.appleId, 'import', { name: 'Import', components: ['VEVENT'] }, calendarObjects({ count: OBJECTS, seed: 11, name: 'import' }));
    const dav = await createDAVClient({ serverUrl: account.serverUrl, credentials: { username: account.appleId, password: account.appSpecificPassword }, authMethod: 'Basic', defaultAccountType: 'caldav' });
    const url = new URL(path, account.serverUrl).href;
    // Radicale indexes a collection written on disk when it is first read (about 30 s for 4,000 files) and builds
    // its sync-collection state on the first sync-collection (5 s more); iCloud has both ready. Neither side pays
    // for that: one listing and one sync-collection first, unmeasured.
    const t0 = performance.now();
    await dav.fetchCalendarObjects({ calendar: { url } });
    await dav.syncCollection({ url, props: { 'd:getetag': {} }, syncLevel: 1, syncToken: '' });
    console.log(`Initial import of ${OBJECTS} objects from Radicale (one account, Europe/Berlin, 20% weekly series); Radicale indexed them in ${((performance.now() - t0) / 1000).toFixed(1)} s, not counted`);
    const t = performance.now();
    const fetched = await dav.fetchCalendarObjects({ calendar: { url } });
    const peerMs = performance.now() - t;
    if (fetched.length !== OBJECTS) throw new Error(`the peer fetched ${fetched.length} of ${OBJECTS} objects`);
    console.log(`  peer (tsdav fetchCalendarObjects: fetch only, no parsing or storing): ${peerMs.toFixed(0)} ms`);
    return [...(await importInto('SQLite', undefined, account, peerMs)), ...(await importInto('PostgreSQL', postgres.url, account, peerMs))];
  } finally {
    await target.stop();
    await postgres.stop();
  }
}

/** The first sync of `account` by a server on `databaseUrl` (SQLite when undefined), then one with nothing changed. */
async function importInto(database: string, databaseUrl: string | undefined, account: TargetAccount, peerMs: number): Promise<BenchResult[]> {
  const app = await startTestApp({ caldavUrl: account.serverUrl, databaseUrl, env: { CALDAV_TIMEOUT_MS: '30000' } });
  try {
    const token = app.token('importer');
    const { id, calendars } = dataOf(await app.gql(token, CONNECT, { input: { appleId: account.appleId, appSpecificPassword: account.appSpecificPassword } })).connectICloud;
    const imported = calendars.find((c: { name: string }) => c.name === 'Import');
    dataOf(await app.gql(token, `mutation($ids: [ID!]!) { setConflictCalendars(input: {calendarIds: $ids}) { id } }`, { ids: [imported.id] }));

    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 20);
    const SYNC = `mutation($id: ID!) { syncNow(integrationId: $id) { outcome created requests error } }`;
    let t = performance.now();
    const first = dataOf(await app.gql(token, SYNC, { id })).syncNow;
    const importMs = performance.now() - t;
    clearInterval(sampler);
    if (first.outcome !== 'SUCCESS' || first.created !== OBJECTS) throw new Error(`the import ended ${JSON.stringify(first)}`);
    const from = new Date(Math.floor(Date.now() / DAY) * DAY);
    const window = { from: from.toISOString(), to: new Date(from.getTime() + 90 * DAY).toISOString() };
    const busy = dataOf(await app.gql(token, `query($from: DateTimeISO!, $to: DateTimeISO!) { blockedTimes(from: $from, to: $to) { startsAt } }`, window)).blockedTimes.length;
    t = performance.now();
    const again = dataOf(await app.gql(token, SYNC, { id })).syncNow;
    const againMs = performance.now() - t;

    const rate = (OBJECTS / importMs) * 1000;
    const mb = (n: number) => Math.round(n / 1048576);
    console.log(`  ours into ${database}: ${importMs.toFixed(0)} ms (${rate.toFixed(0)} objects/s, ${first.requests} requests, ${busy} busy intervals in the next 90 days) | ${(peerMs / importMs).toFixed(2)}x the peer's time`);
    console.log(`    process RSS ${mb(rssBefore)} MB before, ${mb(rssPeak)} MB at the peak (+${mb(rssPeak - rssBefore)}); then a sync with nothing changed: ${againMs.toFixed(1)} ms, ${again.requests} request(s)`);
    return [
      lessIsBetter(`initial import of ${OBJECTS} objects into ${database}`, 'time', 'ms', importMs, peerMs, 'tsdav fetchCalendarObjects (fetch only)'),
      lessIsBetter(`initial import of ${OBJECTS} objects into ${database}`, 'objects per second', 'objects/s', rate, null, null),
      lessIsBetter(`initial import of ${OBJECTS} objects into ${database}`, 'RSS growth', 'MB', mb(rssPeak - rssBefore), null, null),
      lessIsBetter(`sync after the import into ${database}, nothing changed`, 'requests', 'requests', again.requests, null, null),
    ];
  } finally {
    await app.close();
  }
}

runAsMain(module, benchImport);
