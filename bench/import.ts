import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createDAVClient } from 'tsdav';
import { radicaleTarget, type CalDavTarget, type TargetAccount } from '../dev/caldav-targets';
import { startPostgres } from '../dev/postgres';
import { CONNECT, dataOf, startTestApp } from '../dev/app';
import { calendarObjects, DAY_MS as DAY } from '../dev/calendar-data';
import { startFaultProxy } from '../dev/fault-proxy';
import type { RadicaleServer } from '../dev/radicale';
import { createVdirsyncerPair, vdirsyncerVersion } from '../dev/vdirsyncer';
import { lessIsBetter, runAsMain, type BenchResult } from './results';

/**
 * The initial import of one account: IMPORT_OBJECTS (4,000) calendar objects in one Radicale collection, written
 * on disk by dev/calendar-data.ts (Europe/Berlin with its VTIMEZONE, one in five a weekly series with an EXDATE
 * and moved occurrences, spread over the sync horizon), read by the server's first sync into SQLite and into
 * PostgreSQL: listing, fetching, parsing and expanding in the worker pool, storing events and busy time. Then a
 * sync with nothing changed, and one after one object changed on the server. The peers, in the same run on the
 * same collection: tsdav's fetchCalendarObjects (list and fetch everything, no parsing or storing), and vdirsyncer
 * (the Debian package) syncing the collection to a local folder, its first sync and one after one change.
 */
const OBJECTS = Number(process.env.IMPORT_OBJECTS ?? 4000);

const VDIRSYNCER = 'vdirsyncer 0.19 (CalDAV to a local folder)';

/**
 * The object each side edits for its one-change sync: a different one per side, so that each sees exactly one
 * change since its own last sync (vdirsyncer's edit happens before either of our imports, ours after each
 * import). Plain events, not series (every fifth object, from 0, is a series).
 */
const CHANGED = { vdirsyncer: 'import-1.ics', SQLite: 'import-2.ics', PostgreSQL: 'import-3.ics' };

/** Appended to the SUMMARY of a changed object: how vdirsyncer's folder shows that the change arrived. */
const CHANGED_MARK = ' (changed)';

/** A time and the CalDAV requests it took. */
interface Cost {
  ms: number;
  requests: number;
}

/** What the peers cost, measured before our imports. */
interface Peers {
  tsdavMs: number;
  /** Null when vdirsyncer is not installed. */
  vdirsyncer: { initial: Cost; oneChange: Cost } | null;
}

/** Runs the benchmark (see above); prints its figures and returns them. */
export async function benchImport(): Promise<BenchResult[]> {
  const target = await radicaleTarget();
  // Radicale is a process of its own: stop it when PostgreSQL does not start, or it outlives the benchmark.
  const postgres = await startPostgres().catch(async (e) => {
    await target.stop();
    throw e;
  });
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
    const peers: Peers = { tsdavMs: peerMs, vdirsyncer: await vdirsyncerPeer(target, account, url) };
    const changeOne = (database: keyof typeof CHANGED) => () => changeObject(target, account, new URL(CHANGED[database], url).href);
    return [
      ...(await importInto('SQLite', undefined, account, peers, changeOne('SQLite'))),
      ...(await importInto('PostgreSQL', postgres.url, account, peers, changeOne('PostgreSQL'))),
    ];
  } finally {
    await target.stop();
    await postgres.stop();
  }
}

/**
 * vdirsyncer's first sync of the collection at `url` into a new folder (discover and sync, each a process of its
 * own, timed with their start), then its sync after one object changed on the server. Null, with a line saying
 * why, when vdirsyncer is not installed.
 */
async function vdirsyncerPeer(target: CalDavTarget & { radicale: RadicaleServer }, account: TargetAccount, url: string): Promise<Peers['vdirsyncer']> {
  const version = await vdirsyncerVersion();
  if (!version) {
    console.log('  peer vdirsyncer skipped: vdirsyncer is not on the PATH (apt-get install vdirsyncer)');
    return null;
  }
  // vdirsyncer reaches Radicale through a proxy that counts its requests (ours and the edits go direct). The proxy
  // holds each answer whole before passing it on, which adds a little to vdirsyncer's times, not to ours.
  const proxy = await startFaultProxy(target.radicale.url);
  const pair = createVdirsyncerPair({ url: new URL(new URL(url).pathname, proxy.url).href, username: account.appleId, password: account.appSpecificPassword });
  try {
    let t = performance.now();
    await pair.discover();
    const discoverRequests = proxy.requests;
    await pair.sync();
    const initial = { ms: performance.now() - t, requests: proxy.requests };
    if (pair.files().length !== OBJECTS) throw new Error(`vdirsyncer wrote ${pair.files().length} of ${OBJECTS} objects to its folder`);

    await changeObject(target, account, new URL(CHANGED.vdirsyncer, url).href);
    const before = proxy.requests;
    t = performance.now();
    await pair.sync();
    const oneChange = { ms: performance.now() - t, requests: proxy.requests - before };
    const changed = pair.files().filter((f) => readFileSync(join(pair.folder, f), 'utf8').includes(CHANGED_MARK)).length;
    if (changed !== 1) throw new Error(`vdirsyncer's folder holds ${changed} changed objects after the one-change sync, not 1`);

    console.log(
      `  peer (vdirsyncer ${version}, CalDAV to a local folder of .ics files: discover and sync, process starts included): ${initial.ms.toFixed(0)} ms, ` +
        `${initial.requests} requests (${discoverRequests} to discover); one change: ${oneChange.ms.toFixed(0)} ms, ${oneChange.requests} requests`,
    );
    return { initial, oneChange };
  } finally {
    pair.remove();
    await proxy.stop();
  }
}

/**
 * Changes the event at `objectUrl` on the server as another client would: its SUMMARY gets CHANGED_MARK and its
 * SEQUENCE goes up; a conditional PUT (If-Match), so that it cannot overwrite a version it did not read.
 */
async function changeObject(target: CalDavTarget, account: TargetAccount, objectUrl: string): Promise<void> {
  const got = await target.request(account, objectUrl, { method: 'GET' });
  const etag = got.headers.get('etag');
  if (got.status !== 200 || !etag) throw new Error(`GET ${objectUrl}: ${got.status}, etag ${etag}`);
  const ics = (await got.text()).replace(/^SUMMARY:(.*)$/gm, `SUMMARY:$1${CHANGED_MARK}`).replace(/^SEQUENCE:(\d+)$/gm, (_, n) => `SEQUENCE:${Number(n) + 1}`);
  const put = await target.request(account, objectUrl, { method: 'PUT', body: ics, headers: { 'content-type': 'text/calendar; charset=utf-8', 'if-match': etag } });
  if (put.status !== 204 && put.status !== 201) throw new Error(`PUT ${objectUrl}: ${put.status} ${await put.text()}`);
}

/**
 * The first sync of `account` by a server on `databaseUrl` (SQLite when undefined), then one with nothing changed,
 * then one after `changeOne` changed one object on the server.
 */
async function importInto(database: keyof typeof CHANGED, databaseUrl: string | undefined, account: TargetAccount, peers: Peers, changeOne: () => Promise<void>): Promise<BenchResult[]> {
  const app = await startTestApp({ caldavUrl: account.serverUrl, databaseUrl, env: { CALDAV_TIMEOUT_MS: '30000' } });
  try {
    const token = app.token('importer');
    const { id, calendars } = dataOf(await app.gql(token, CONNECT, { input: { appleId: account.appleId, appSpecificPassword: account.appSpecificPassword } })).connectICloud;
    const imported = calendars.find((c: { name: string }) => c.name === 'Import');
    dataOf(await app.gql(token, `mutation($ids: [ID!]!) { setConflictCalendars(input: {calendarIds: $ids}) { id } }`, { ids: [imported.id] }));

    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 20);
    const SYNC = `mutation($id: ID!) { syncNow(integrationId: $id) { outcome created updated requests error } }`;
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
    await changeOne();
    t = performance.now();
    const changed = dataOf(await app.gql(token, SYNC, { id })).syncNow;
    const changedMs = performance.now() - t;
    if (changed.outcome !== 'SUCCESS' || changed.updated !== 1) throw new Error(`the sync after one change ended ${JSON.stringify(changed)}`);

    const rate = (OBJECTS / importMs) * 1000;
    const mb = (n: number) => Math.round(n / 1048576);
    const vdirsyncer = peers.vdirsyncer;
    const ratio = (peer: number, ours: number) => `${(peer / ours).toFixed(2)}x`;
    const versus = (peer: Cost, ours: Cost) => `vdirsyncer ${ratio(peer.ms, ours.ms)} the time, ${ratio(peer.requests, ours.requests)} the requests`;
    const initial = { ms: importMs, requests: first.requests };
    const oneChange = { ms: changedMs, requests: changed.requests };
    console.log(
      `  ours into ${database}: ${importMs.toFixed(0)} ms (${rate.toFixed(0)} objects/s, ${first.requests} requests, ${busy} busy intervals in the next 90 days) | peer/ours: ` +
        `tsdav ${ratio(peers.tsdavMs, importMs)} the time${vdirsyncer ? `, ${versus(vdirsyncer.initial, initial)}` : ''}`,
    );
    console.log(`    process RSS ${mb(rssBefore)} MB before, ${mb(rssPeak)} MB at the peak (+${mb(rssPeak - rssBefore)}); then a sync with nothing changed: ${againMs.toFixed(1)} ms, ${again.requests} request(s)`);
    console.log(`    then a sync after one change (${CHANGED[database]} edited): ${changedMs.toFixed(1)} ms, ${changed.requests} request(s)${vdirsyncer ? ` | peer/ours: ${versus(vdirsyncer.oneChange, oneChange)}` : ''}`);
    const importName = `initial import of ${OBJECTS} objects into ${database}`;
    const changeName = `sync after one change, after the import into ${database}`;
    return [
      lessIsBetter(importName, 'time', 'ms', importMs, peers.tsdavMs, 'tsdav fetchCalendarObjects (fetch only)'),
      lessIsBetter(importName, 'objects per second', 'objects/s', rate, null, null),
      lessIsBetter(importName, 'RSS growth', 'MB', mb(rssPeak - rssBefore), null, null),
      lessIsBetter(`sync after the import into ${database}, nothing changed`, 'requests', 'requests', again.requests, null, null),
      ...(vdirsyncer
        ? [lessIsBetter(importName, 'time', 'ms', importMs, vdirsyncer.initial.ms, VDIRSYNCER), lessIsBetter(importName, 'requests', 'requests', first.requests, vdirsyncer.initial.requests, VDIRSYNCER)]
        : []),
      lessIsBetter(changeName, 'time', 'ms', changedMs, vdirsyncer?.oneChange.ms ?? null, vdirsyncer ? VDIRSYNCER : null),
      lessIsBetter(changeName, 'requests', 'requests', changed.requests, vdirsyncer?.oneChange.requests ?? null, vdirsyncer ? VDIRSYNCER : null),
    ];
  } finally {
    await app.close();
  }
}

runAsMain(module, benchImport);
