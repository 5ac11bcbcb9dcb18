import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CalendarIntegration } from '../src/entities/calendar-integration.entity';
import { SyncRun } from '../src/entities/sync-run.entity';
import { rollHorizon } from '../src/jobs/horizon.job';
import { claimLease, releaseLease } from '../src/sync/lease';
import { faultyRadicaleTarget, radicaleTarget, type CalDavTarget } from '../dev/caldav-targets';
import { CONNECT, dataOf, startTestApp, type TestApp } from '../dev/app';
import { startPostgres, type PostgresServer } from '../dev/postgres';
import { Phone, vevent } from '../dev/phone';
import { dayAt, syncFixture } from './harness/sync-fixture';

describe('the reconciler', () => {
  let target: CalDavTarget;
  let pg: PostgresServer;
  let dataDir: string;
  const apps: TestApp[] = [];

  beforeAll(async () => {
    [target, pg] = await Promise.all([radicaleTarget(), startPostgres()]);
    dataDir = mkdtempSync(join(tmpdir(), 'crm-reconcile-'));
  });
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close()));
    await Promise.all([target?.stop(), pg?.stop()]);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('syncs each due integration once across two instances on one PostgreSQL, then waits for the interval', async () => {
    const accounts = await Promise.all([1, 2, 3].map(() => target.newAccount()));
    // Both start at once on an empty database: migrations must not race.
    const started = await Promise.allSettled([0, 1].map(() => startTestApp({ caldavUrl: accounts[0].serverUrl, databaseUrl: pg.url, dataDir })));
    for (const s of started) if (s.status === 'fulfilled') apps.push(s.value);
    expect(started.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled']);
    const [a, b] = apps;
    for (const [i, account] of accounts.entries()) {
      const token = a.token(`user-${i}`);
      const { calendars } = dataOf(await a.gql(token, CONNECT, { input: { appleId: account.appleId, appSpecificPassword: account.appSpecificPassword } })).connectICloud;
      dataOf(await a.gql(token, `mutation($id: ID!) { setPrimaryCalendar(input: {calendarId: $id}) { id } }`, { id: calendars[0].id }));
      await new Phone(target, account).put('home', vevent(`e${i}`, dayAt(1, 9), dayAt(1, 10), `Event ${i}`));
    }
    const [byA, byB] = await Promise.all([a.server.reconciler.tick(), b.server.reconciler.tick()]);
    expect(byA + byB).toBe(3);
    const em = a.server.orm.fork();
    expect(await em.count(SyncRun, {})).toBe(3);
    expect(await em.count(SyncRun, { created: 1 })).toBe(3);
    const integrations = await em.find(CalendarIntegration, {}, { populate: ['leaseOwner'] });
    expect(integrations.every((i) => i.leaseOwner === null && i.nextSyncAt! > new Date(Date.now() + 100 * 1000))).toBe(true);
    expect(await a.server.reconciler.tick()).toBe(0);
  });

  it('catches up in one scheduled tick with more due integrations than one batch', async () => {
    const accounts = await Promise.all([1, 2, 3, 4, 5].map(() => target.newAccount()));
    // A batch is twice the concurrency: 2 here, so 5 due integrations take three batches.
    const app = await startTestApp({ caldavUrl: accounts[0].serverUrl, env: { SYNC_CONCURRENCY: '1' } });
    apps.push(app);
    for (const [i, account] of accounts.entries()) dataOf(await app.gql(app.token(`batch-${i}`), CONNECT, { input: { appleId: account.appleId, appSpecificPassword: account.appSpecificPassword } }));
    expect(await app.server.reconciler.catchUp()).toBe(5);
    expect(await app.server.orm.fork().count(SyncRun, {})).toBe(5);
    expect(await app.server.reconciler.catchUp()).toBe(0);
  });

  it('keeps the lease of a run slower than the lease: another instance does not start the same integration', async () => {
    const slow = await faultyRadicaleTarget();
    try {
      const account = await slow.newAccount();
      // Each request waits 2 s: the CalDAV timeout (3 s in tests) left a loaded machine 1 s, and the run failed.
      const env = { SYNC_LEASE_SECONDS: '5', CALDAV_TIMEOUT_MS: '10000' };
      const [a, b] = await Promise.all([0, 1].map(() => startTestApp({ caldavUrl: account.serverUrl, databaseUrl: pg.url, dataDir, env })));
      apps.push(a, b);
      const token = a.token('slow-user');
      const { id, calendars } = dataOf(await a.gql(token, CONNECT, { input: { appleId: account.appleId, appSpecificPassword: account.appSpecificPassword } })).connectICloud;
      dataOf(await a.gql(token, `mutation($ids: [ID!]!) { setConflictCalendars(input: {calendarIds: $ids}) { id } }`, { ids: calendars.map((c: { id: string }) => c.id) }));
      const phone = new Phone(slow, account);
      for (const slug of ['home', 'work']) await phone.put(slug, vevent(`slow-${slug}`, dayAt(1, 9), dayAt(1, 10), 'Slow'));
      // Every request takes 2 s: the first run (a listing and a fetch per calendar) outlasts the 5 s lease.
      slow.proxy.delay(2000);
      const first = a.server.reconciler.tick();
      await new Promise((r) => setTimeout(r, 6500));
      expect(await b.server.reconciler.tick()).toBe(0);
      expect(await first).toBe(1);
      const runs = await a.server.orm.fork().find(SyncRun, { integration: id });
      expect(runs.map((r) => [r.outcome, r.error])).toEqual([['SUCCESS', null]]);
      expect(runs[0].finishedAt!.getTime() - runs[0].startedAt.getTime()).toBeGreaterThan(6500);
    } finally {
      await slow.stop();
    }
  });

  it('takes over an integration whose lease a crashed process left behind, but not a live lease', async () => {
    const f = await syncFixture(target);
    apps.push(f.app);
    const em = f.app.server.orm.fork();
    await em.nativeUpdate(CalendarIntegration, { id: f.integrationId }, { leaseOwner: 'live-process', leaseUntil: new Date(Date.now() + 60000), nextSyncAt: new Date(0) });
    expect(await f.app.server.reconciler.tick()).toBe(0);
    await em.nativeUpdate(CalendarIntegration, { id: f.integrationId }, { leaseOwner: 'crashed-process', leaseUntil: new Date(Date.now() - 1000) });
    expect(await f.app.server.reconciler.tick()).toBe(1);
    expect(await em.count(SyncRun, { integration: f.integrationId })).toBe(1);
  });

  it('never writes a lease back from an entity loaded while the lease was held', async () => {
    const f = await syncFixture(target);
    apps.push(f.app);
    const { orm } = f.app.server;
    expect(await claimLease(orm.fork(), CalendarIntegration, f.integrationId, 'runner', 300)).toBe(true);
    const em = orm.fork();
    const loaded = await em.findOneOrFail(CalendarIntegration, f.integrationId);
    await releaseLease(orm.fork(), CalendarIntegration, f.integrationId, 'runner');
    loaded.statusMessage = 'changed while the lease was held';
    await em.flush();
    expect(await claimLease(orm.fork(), CalendarIntegration, f.integrationId, 'next', 300)).toBe(true);
  });

  it('does not claim integrations that need reconnecting or are disconnected', async () => {
    const f = await syncFixture(target);
    apps.push(f.app);
    await f.app.server.orm.fork().nativeUpdate(CalendarIntegration, { id: f.integrationId }, { status: 'NEEDS_RECONNECT' as never, nextSyncAt: new Date(0) });
    expect(await f.app.server.reconciler.tick()).toBe(0);
  });

  it('rolls the busy-time horizon forward without asking iCloud', async () => {
    const f = await syncFixture(target);
    apps.push(f.app);
    await f.phone.put('work', vevent('far', dayAt(380, 9), dayAt(380, 10), 'Far ahead'));
    await f.phone.put('work', vevent('soon', dayAt(2, 9), dayAt(2, 10), 'Soon'));
    await f.syncNow();
    expect((await f.blocked(new Date(Date.now() - 40 * 86400000), new Date(Date.now() + 50 * 86400000))).map((b) => b.title)).toEqual(['Soon']);
    expect(await rollHorizon(f.app.server.orm, f.app.server.services.ical, f.app.server.services.events, new Date(Date.now() + 40 * 86400000))).toEqual({ recomputed: 2, skipped: [] });
    const titles = async (from: number, to: number) =>
      (await f.blocked(new Date(Date.now() + from * 86400000), new Date(Date.now() + to * 86400000))).map((b) => b.title);
    expect(await titles(370, 390)).toEqual(['Far ahead']);
    // 40 days on, "Soon" lies more than 30 days back: it has left the window.
    expect(await titles(-1, 30)).toEqual([]);
  });

  it('moves all-day busy time with the user\'s time zone, from the local copy', async () => {
    const f = await syncFixture(target);
    apps.push(f.app);
    const date = dayAt(3, 0).slice(0, 10).replace(/-/g, '');
    const next = dayAt(4, 0).slice(0, 10).replace(/-/g, '');
    const allDay = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Test//EN', 'BEGIN:VEVENT', 'UID:holiday', 'DTSTAMP:20260101T000000Z', `DTSTART;VALUE=DATE:${date}`, `DTEND;VALUE=DATE:${next}`, 'SUMMARY:Day off', 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n');
    await f.phone.put('work', allDay);
    await f.syncNow();
    expect((await f.blocked())[0]).toMatchObject({ startsAt: dayAt(3, 0).replace('Z', '.000Z'), endsAt: dayAt(4, 0).replace('Z', '.000Z') });
    dataOf(await f.app.gql(f.token, `mutation { setTimezone(timezone: "Asia/Tokyo") { timezone } }`));
    expect((await f.blocked())[0]).toMatchObject({ startsAt: dayAt(2, 15).replace('Z', '.000Z'), endsAt: dayAt(3, 15).replace('Z', '.000Z') });
  });
});
