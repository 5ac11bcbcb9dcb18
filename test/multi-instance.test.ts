import { MikroORM } from '@mikro-orm/core';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signToken } from '../src/auth/jwt';
import { CalendarIntegration } from '../src/entities/calendar-integration.entity';
import { SyncRun } from '../src/entities/sync-run.entity';
import { ormOptions } from '../src/orm';
import { icloudTarget, type CalDavTarget, type TargetAccount } from '../dev/caldav-targets';
import { CONNECT } from '../dev/app';
import type { ICloudEmulator } from '../dev/icloud-emulator';
import { startPostgres, type PostgresServer } from '../dev/postgres';
import { startRedis, type RedisServer } from '../dev/redis';
import { buildServer, startServerProcess, type ServerProcess } from '../dev/server-process';
import { Phone, vevent } from '../dev/phone';
import { wsClient, type WsTestClient } from './harness/ws-client';

const SECRET = 'multi-instance-' + randomBytes(8).toString('hex');
const INTERVAL_SECONDS = 3;

/**
 * Three server processes on one PostgreSQL and one Redis: A and C run the reconciler, B only serves
 * subscribers. Each integration is synced once per interval, B's subscribers see runs executed elsewhere,
 * and a killed instance's work is finished by another once its lease expires.
 */
describe('several instances on one PostgreSQL and one Redis', () => {
  let target: CalDavTarget & { emulator: ICloudEmulator };
  let pg: PostgresServer;
  let redis: RedisServer;
  let orm: MikroORM;
  let dataDir: string;
  const servers: Record<'a' | 'b' | 'c', ServerProcess | undefined> = { a: undefined, b: undefined, c: undefined };
  let subscriber: WsTestClient;
  const accounts: TargetAccount[] = [];
  const integrationIds: string[] = [];
  let credentialsKey = '';
  let env: (cron: string) => Record<string, string> = () => ({});

  beforeAll(async () => {
    buildServer();
    [target, pg, redis] = await Promise.all([icloudTarget(), startPostgres(), startRedis()]);
    dataDir = mkdtempSync(join(tmpdir(), 'crm-multi-'));
    credentialsKey = randomBytes(32).toString('base64');
    env = (cron: string) => ({
      DATABASE_URL: pg.url,
      REDIS_URL: redis.url,
      AUTH_JWT_SECRET: SECRET,
      CREDENTIALS_KEY: credentialsKey,
      ICLOUD_CALDAV_URL: target.emulator.url,
      DATA_DIR: dataDir,
      SYNC_CRON: cron,
      SYNC_INTERVAL_SECONDS: String(INTERVAL_SECONDS),
      SYNC_LEASE_SECONDS: '5',
      LOG_LEVEL: 'debug',
    });
    [servers.a, servers.b, servers.c] = await Promise.all([startServerProcess(env('* * * * * *')), startServerProcess(env('')), startServerProcess(env('* * * * * *'))]);
    orm = await MikroORM.init(ormOptions(pg.url));
  }, 120000);

  afterAll(async () => {
    await subscriber?.client.dispose();
    await Promise.all(Object.values(servers).map((s) => s?.proc.stop()));
    await orm?.close(true);
    await Promise.all([target?.stop(), pg?.stop(), redis?.stop()]);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const token = (sub: string, role: 'user' | 'support' = 'user') => signToken({ sub, tenantId: 'tenant-a', role }, SECRET);
  async function gql(server: ServerProcess, auth: string, query: string, variables?: Record<string, unknown>) {
    const res = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${auth}` }, body: JSON.stringify({ query, variables }) });
    const body = (await res.json()) as { data?: any; errors?: unknown[] };
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    return body.data;
  }
  const runsExecutedBy = (s: ServerProcess) => s.logs().filter((l) => l.msg === 'sync run finished').map((l) => String(l.runId));

  it('syncs each integration once per interval across instances and streams every run and warning to a subscriber on a third', async () => {
    subscriber = wsClient(servers.b!.url, token('sue', 'support'));
    const stream = subscriber.subscribe(`subscription { syncResults { id integrationId outcome } }`);
    const warnings = subscriber.subscribe(`subscription { conflictWarnings { kind userId message } }`);
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < 3; i++) {
      const account = await target.newAccount();
      accounts.push(account);
      const auth = token(`user-${i}`);
      const { connectICloud } = await gql(servers.a!, auth, CONNECT, { input: { appleId: account.appleId, appSpecificPassword: account.appSpecificPassword } });
      integrationIds.push(connectICloud.id);
      await gql(servers.a!, auth, `mutation($id: ID!) { setPrimaryCalendar(input: {calendarId: $id}) { id } }`, { id: connectICloud.calendars.find((c: { name: string }) => c.name === 'Work').id });
    }
    // A booking pushed by A, then an iPhone event on top of it: the warning of whichever instance syncs reaches B.
    const admin = signToken({ sub: 'boss', tenantId: 'tenant-a', role: 'admin' }, SECRET);
    const allDay = [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '00:00', end: '24:00' }));
    const { createCrmCalendar } = await gql(servers.a!, admin, `mutation($i: CreateCrmCalendarInput!) { createCrmCalendar(input: $i) { id } }`, {
      i: { name: 'Consult', type: 'SERVICE', timezone: 'UTC', slotDurationMinutes: 60, openHours: allDay, teamMembers: [{ userId: 'user-0' }] },
    });
    const startsAt = new Date(Math.ceil(Date.now() / 86400000) * 86400000 + 86400000 + 10 * 3600000);
    await gql(servers.a!, admin, `mutation($i: BookAppointmentInput!) { bookAppointment(input: $i) { id } }`, { i: { calendarId: createCrmCalendar.id, startsAt, contact: { name: 'Ann' }, title: 'Consult Ann' } });
    const phone = new Phone(target, accounts[0]);
    const iso = (ms: number) => new Date(ms).toISOString().replace('.000', '');
    await phone.put('work', vevent('clash', iso(startsAt.getTime() + 1800000), iso(startsAt.getTime() + 5400000), 'Clash'));
    await new Promise((r) => setTimeout(r, (INTERVAL_SECONDS * 3 + 1) * 1000));
    expect((await warnings.next(5000)).data.conflictWarnings).toEqual({ kind: 'DOUBLE_BOOKING', userId: 'user-0', message: expect.stringMatching(/"Clash".*"Consult Ann"/) });

    const runs = await orm.em.fork().find(SyncRun, {}, { orderBy: { startedAt: 'asc' } });
    for (const id of integrationIds) {
      const own = runs.filter((r) => r.integration.id === id);
      expect(own.length).toBeGreaterThanOrEqual(2);
      for (let i = 1; i < own.length; i++) {
        // Never twice in one interval, never overlapping.
        expect(own[i].startedAt.getTime() - own[i - 1].finishedAt!.getTime()).toBeGreaterThanOrEqual(INTERVAL_SECONDS * 1000 - 50);
      }
    }
    const [byA, byC] = [runsExecutedBy(servers.a!), runsExecutedBy(servers.c!)];
    expect(byA.length + byC.length).toBe(runs.length);
    expect(new Set([...byA, ...byC]).size).toBe(runs.length);
    // B runs no reconciler: every run it streams was executed by another instance.
    expect(runs.length).toBeGreaterThanOrEqual(6);
    await new Promise((r) => setTimeout(r, 500)); // the last runs' events are still crossing Redis
    const received = new Set(stream.results.map((r) => r.data.syncResults.id));
    for (const id of [...byA, ...byC]) expect(received.has(id)).toBe(true);
  }, 60000);

  it('stops offering a slot on an instance that runs no reconciler as soon as another instance syncs an iPhone event over it, and offers it again once the event is deleted', async () => {
    // B holds user-1's busy time in memory after the first query; only the BUSY_CHANGED event from A's sync run
    // (through Redis) makes it read it again before its 60-s expiry.
    const admin = signToken({ sub: 'boss', tenantId: 'tenant-a', role: 'admin' }, SECRET);
    const allDay = [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '00:00', end: '24:00' }));
    const { createCrmCalendar } = await gql(servers.a!, admin, `mutation($i: CreateCrmCalendarInput!) { createCrmCalendar(input: $i) { id } }`, {
      i: { name: 'Intro', type: 'SERVICE', timezone: 'UTC', slotDurationMinutes: 60, openHours: allDay, teamMembers: [{ userId: 'user-1' }] },
    });
    const from = new Date(Math.ceil(Date.now() / 86400000) * 86400000 + 2 * 86400000 + 10 * 3600000);
    const to = new Date(from.getTime() + 2 * 3600000);
    const offered = async () =>
      ((await gql(servers.b!, admin, `query($c: ID!, $f: DateTimeISO!, $t: DateTimeISO!) { availableSlots(calendarId: $c, from: $f, to: $t) { startsAt } }`, { c: createCrmCalendar.id, f: from, t: to })).availableSlots as { startsAt: string }[]).map(
        (s) => s.startsAt,
      );
    const waitFor = async (expected: string[]) => {
      const started = Date.now();
      let seen = await offered();
      while (JSON.stringify(seen) !== JSON.stringify(expected) && Date.now() - started < 20000) {
        await new Promise((r) => setTimeout(r, 200));
        seen = await offered();
      }
      expect(seen).toEqual(expected);
      return Date.now() - started;
    };
    const ten = from.toISOString();
    const eleven = new Date(from.getTime() + 3600000).toISOString();
    expect(await offered()).toEqual([ten, eleven]);
    const phone = new Phone(target, accounts[1]);
    const iso = (ms: number) => new Date(ms).toISOString().replace('.000', '');
    const href = await phone.put('work', vevent('dentist', iso(from.getTime()), iso(from.getTime() + 3600000), 'Dentist'));
    // Well inside the index's 60-s expiry: the sync interval is 3 s.
    expect(await waitFor([eleven])).toBeLessThan(20000);
    await phone.delete(href);
    expect(await waitFor([ten, eleven])).toBeLessThan(20000);
  }, 60000);

  it('finishes, after the lease expires, what a killed instance left mid-run', async () => {
    // Leave A as the only reconciler, so that it is the one caught mid-run.
    await servers.c!.proc.stop('SIGTERM');
    servers.c = undefined;
    target.emulator.delay(1500);
    const em = orm.em.fork();
    const deadline = Date.now() + 20000;
    let held: CalendarIntegration | null = null;
    while (!held && Date.now() < deadline) {
      held = await em.fork().findOne(CalendarIntegration, { leaseOwner: { $like: `${servers.a!.pid}-%` } }, { populate: ['leaseUntil'] });
      if (!held) await new Promise((r) => setTimeout(r, 100));
    }
    expect(held).not.toBeNull();
    const killedAt = new Date();
    await servers.a!.proc.stop('SIGKILL');
    servers.a = undefined;
    target.emulator.delay(0);
    // Another instance comes up (as after a deploy) and must finish what A left.
    const survivor = await startServerProcess(env('* * * * * *'));
    servers.c = survivor;

    const finished = async () => em.fork().findOne(SyncRun, { integration: held!.id, startedAt: { $gt: killedAt }, finishedAt: { $ne: null } });
    const until = Date.now() + 25000;
    let run: SyncRun | null = null;
    while (!run && Date.now() < until) {
      run = await finished();
      if (!run) await new Promise((r) => setTimeout(r, 250));
    }
    expect(run).not.toBeNull();
    expect(run!.startedAt.getTime()).toBeGreaterThanOrEqual(held!.leaseUntil!.getTime() - 50); // the dead lease had to expire first
    // The survivor logs the run after committing it: its line may reach stdout a moment after the row is visible.
    for (const end = Date.now() + 5000; !runsExecutedBy(survivor).includes(run!.id) && Date.now() < end; ) await new Promise((r) => setTimeout(r, 100));
    expect(runsExecutedBy(survivor)).toContain(run!.id);
    // The killed instance's run (if it was stored) is closed as interrupted, not left open; the survivor may be mid-run on others.
    expect(await em.fork().count(SyncRun, { finishedAt: null, startedAt: { $lt: run!.startedAt } })).toBe(0);
  }, 60000);
});
