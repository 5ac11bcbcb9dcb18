import { Agent } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDAVClient } from 'tsdav';
import { signToken } from '../src/auth/jwt';
import { radicaleTarget, type TargetAccount } from '../dev/caldav-targets';
import { calendarObjects, DAY_MS } from '../dev/calendar-data';
import { CONNECT } from '../dev/app';
import { postJson } from '../dev/http';
import { rssMb } from '../dev/load';
import { startServerProcess, buildServer, type ServerProcess } from '../dev/server-process';
import { lessIsBetter, runAsMain, type BenchResult } from './results';

/**
 * `npm run build --silent && node dist/bench/memory.js`: whether the server keeps memory it should give back.
 * MEMORY_ACCOUNTS (5) accounts, each with one calendar of MEMORY_OBJECTS (4,000) objects (dev/calendar-data.ts:
 * Europe/Berlin, weekly series with EXDATEs and moved occurrences), are imported by a server process as
 * `npm start` runs it (SQLite); the five users are the members of a round-robin calendar. Then MEMORY_QUERIES
 * (1,000) `availableSlots` requests over 30-day windows spread over the next year, and as many again: the
 * server's RSS after the second thousand against after the first (the baseline of the same run) must stay
 * within 10% (the "no leak"). Radicale indexes one collection; the others are copies of it, indexed.
 */
const ACCOUNTS = Number(process.env.MEMORY_ACCOUNTS ?? 5);
const OBJECTS = Number(process.env.MEMORY_OBJECTS ?? 4000);
const QUERIES = Number(process.env.MEMORY_QUERIES ?? 1000);
const SECRET = 'memory-bench-secret';

/** Runs the benchmark (see above); prints its figures and returns them. */
export async function benchMemory(): Promise<BenchResult[]> {
  buildServer();
  const target = await radicaleTarget();
  const dataDir = mkdtempSync(join(tmpdir(), 'crm-memory-'));
  let server: ServerProcess | undefined;
  const agent = new Agent({ keepAlive: true, maxSockets: 4, timeout: 4000 });
  try {
    const accounts: TargetAccount[] = [];
    for (let i = 0; i < ACCOUNTS; i++) accounts.push(await target.newAccount());
    const first = accounts[0];
    const path = target.radicale.createCollectionOnDisk(first.appleId, 'import', { name: 'Import', components: ['VEVENT'] }, calendarObjects({ count: OBJECTS, seed: 5, name: 'memory' }));
    // Radicale indexes a collection on its first read (about 7 ms an object): once, then the copies are served at once.
    const dav = await createDAVClient({ serverUrl: first.serverUrl, credentials: { username: first.appleId, password: first.appSpecificPassword }, authMethod: 'Basic', defaultAccountType: 'caldav' });
    await dav.fetchCalendarObjects({ calendar: { url: new URL(path, first.serverUrl).href } });
    for (const a of accounts.slice(1)) target.radicale.copyCollectionOnDisk(first.appleId, a.appleId, 'import');

    server = await startServerProcess({ DATA_DIR: dataDir, AUTH_JWT_SECRET: SECRET, ICLOUD_CALDAV_URL: first.serverUrl, SYNC_CRON: '', SYNC_NOW_MIN_INTERVAL_SECONDS: '0', CALDAV_TIMEOUT_MS: '60000' });
    const url = server.url.replace('//localhost:', '//127.0.0.1:');
    const post = async (token: string, query: string, variables: Record<string, unknown>) => {
      const answer = JSON.parse((await postJson(agent, url, token, JSON.stringify({ query, variables }))).text);
      if (answer.errors?.length) throw new Error(JSON.stringify(answer.errors));
      return answer.data;
    };

    const rssStart = rssMb(server.pid);
    const subs: string[] = [];
    let t = performance.now();
    for (const [i, account] of accounts.entries()) {
      const sub = `member-${i + 1}`;
      subs.push(sub);
      const token = signToken({ sub, tenantId: 'tenant-a', role: 'user' }, SECRET);
      const { id, calendars } = (await post(token, CONNECT, { input: { appleId: account.appleId, appSpecificPassword: account.appSpecificPassword } })).connectICloud;
      const imported = calendars.find((c: { name: string }) => c.name === 'Import');
      await post(token, `mutation($ids: [ID!]!) { setConflictCalendars(input: {calendarIds: $ids}) { id } }`, { ids: [imported.id] });
      const run = (await post(token, `mutation($id: ID!) { syncNow(integrationId: $id) { outcome created } }`, { id })).syncNow;
      if (run.outcome !== 'SUCCESS' || run.created < OBJECTS) throw new Error(`the import of account ${i + 1} ended ${JSON.stringify(run)}`);
    }
    const importSeconds = (performance.now() - t) / 1000;
    const rssImported = rssMb(server.pid);

    const admin = signToken({ sub: 'boss', tenantId: 'tenant-a', role: 'admin' }, SECRET);
    const { id: calendarId } = (
      await post(admin, `mutation($i: CreateCrmCalendarInput!) { createCrmCalendar(input: $i) { id } }`, {
        i: {
          name: 'Consultations', type: 'ROUND_ROBIN', roundRobinMode: 'EQUAL_DISTRIBUTION', timezone: 'Europe/Berlin', slotDurationMinutes: 30, bookingWindowDays: 365,
          openHours: [1, 2, 3, 4, 5].map((weekday) => ({ weekday, start: '09:00', end: '17:00' })),
          teamMembers: subs.map((userId) => ({ userId })),
        },
      })
    ).createCrmCalendar;
    const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
    const SLOTS = `query($c: ID!, $f: DateTimeISO!, $t: DateTimeISO!) { availableSlots(calendarId: $c, from: $f, to: $t) { startsAt availableUserIds } }`;
    const queries = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const from = today + (1 + (i % 330)) * DAY_MS;
        await post(admin, SLOTS, { c: calendarId, f: new Date(from).toISOString(), t: new Date(from + 30 * DAY_MS).toISOString() });
      }
    };
    t = performance.now();
    await queries(QUERIES);
    const firstMs = (performance.now() - t) / QUERIES;
    const rssFirst = rssMb(server.pid);
    t = performance.now();
    await queries(QUERIES);
    const secondMs = (performance.now() - t) / QUERIES;
    const rssSecond = rssMb(server.pid);
    const growth = ((rssSecond - rssFirst) / rssFirst) * 100;

    console.log(`Server memory (SQLite, ${ACCOUNTS} accounts x ${OBJECTS} objects, ${ACCOUNTS}-member round robin, availableSlots over 30 days)`);
    console.log(`  RSS ${rssStart} MB at start, ${rssImported} MB after importing ${ACCOUNTS * OBJECTS} objects (${importSeconds.toFixed(1)} s)`);
    console.log(`  after ${QUERIES} queries ${rssFirst} MB (${firstMs.toFixed(1)} ms each), after ${QUERIES} more ${rssSecond} MB (${secondMs.toFixed(1)} ms each): ${growth >= 0 ? '+' : ''}${growth.toFixed(1)}% (target: within 10%)`);
    return [
      lessIsBetter(`server RSS after ${QUERIES} more availableSlots (${ACCOUNTS} x ${OBJECTS} objects imported)`, 'RSS', 'MB', rssSecond, rssFirst, `the same server after the first ${QUERIES}`),
      lessIsBetter(`server RSS after importing ${ACCOUNTS} x ${OBJECTS} objects`, 'RSS', 'MB', rssImported, null, null),
    ];
  } finally {
    agent.destroy();
    await server?.proc.stop();
    await target.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

runAsMain(module, benchMemory);
