import { radicaleTarget, type CalDavTarget } from '../dev/caldav-targets';
import { dataOf, startTestApp } from '../dev/app';
import { at, crmFixture, nextWeekday, type CrmFixture } from '../dev/crm-fixture';
import { startRedis, type RedisServer } from '../dev/redis';
import { vevent } from '../dev/phone';
import { wsClient } from './harness/ws-client';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildServer, startServerProcess } from '../dev/server-process';
import { signToken } from '../src/auth/jwt';

const METRICS_TOKEN = 'metrics-secret-for-tests';
const OPEN = [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '08:00', end: '18:00' }));

/** One sample of a scrape, e.g. value(text, 'crm_calendar_sync_runs_total', { outcome: 'SUCCESS' }); 0 when absent. */
function value(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((l) => {
    if (!l.startsWith(`${name}{`) && !l.startsWith(`${name} `)) return false;
    const inside = /\{([^}]*)\}/.exec(l)?.[1].split(',') ?? [];
    return wanted.every((w) => inside.includes(w));
  });
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('operations: health, readiness and metrics', () => {
  let target: CalDavTarget;
  let f: CrmFixture;
  let base: string;
  beforeAll(async () => {
    target = await radicaleTarget();
    f = await crmFixture(target, ['sam'], { env: { METRICS_TOKEN } });
    base = f.app.url.replace(/\/graphql$/, '');
  });
  afterAll(async () => {
    await f?.app.close();
    await target?.stop();
  });

  const scrape = async () => {
    const res = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    return res.text();
  };

  it('answers /healthz, and /readyz once the database has every migration', async () => {
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ ok: true });
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ database: 'ok' });
  });

  it('refuses /metrics without the bearer token set in METRICS_TOKEN', async () => {
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    expect((await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
  });

  it('counts sync runs, CalDAV requests, GraphQL operations, the outbox, integrations and open subscriptions', async () => {
    const before = await scrape();
    for (const name of ['process_cpu_seconds_total', 'crm_calendar_sync_run_duration_seconds_bucket', 'crm_calendar_graphql_duration_seconds_bucket']) expect(before).toContain(name);
    const sam = f.users.sam;
    const ws = wsClient(f.app.url, sam.token);
    try {
      const sub = ws.subscribe('subscription { syncResults { id outcome } }');
      await new Promise((r) => setTimeout(r, 200));
      const { id: calendarId } = await f.createCalendar({ name: 'Consult', type: 'SERVICE', timezone: 'UTC', slotDurationMinutes: 60, openHours: OPEN, teamMembers: [{ userId: 'sam' }] });
      const booked = await f.app.gql(f.admin, `mutation Book($i: BookAppointmentInput!) { bookAppointment(input: $i) { id } }`, { i: { calendarId, startsAt: at(nextWeekday(3, 2), 9), contact: { name: 'Metrics' } } });
      dataOf(booked);
      await f.pushed();
      dataOf(await f.app.gql(sam.token, `mutation SyncNow($id: ID!) { syncNow(integrationId: $id) { outcome } }`, { id: sam.integrationId }));
      await sub.next();
      const after = await scrape();
      expect(value(after, 'crm_calendar_sync_runs_total', { outcome: 'SUCCESS' })).toBeGreaterThan(value(before, 'crm_calendar_sync_runs_total', { outcome: 'SUCCESS' }));
      expect(value(after, 'crm_calendar_sync_run_duration_seconds_count')).toBeGreaterThan(value(before, 'crm_calendar_sync_run_duration_seconds_count'));
      expect(value(after, 'crm_calendar_caldav_requests_total', { method: 'PUT', status: '201' })).toBe(value(before, 'crm_calendar_caldav_requests_total', { method: 'PUT', status: '201' }) + 1);
      expect(value(after, 'crm_calendar_caldav_requests_total', { method: 'REPORT', status: '207' })).toBeGreaterThan(value(before, 'crm_calendar_caldav_requests_total', { method: 'REPORT', status: '207' }));
      expect(value(after, 'crm_calendar_graphql_operations_total', { operation: 'Book', outcome: 'ok' })).toBe(1);
      expect(value(after, 'crm_calendar_graphql_operations_total', { operation: 'SyncNow', outcome: 'ok' })).toBe(1);
      expect(value(after, 'crm_calendar_outbox_depth')).toBe(0);
      expect(value(after, 'crm_calendar_integrations', { status: 'CONNECTED' })).toBe(1);
      expect(value(after, 'crm_calendar_subscriptions_open')).toBe(1);
      // A refused operation is counted with its error code.
      await f.app.gql(sam.token, `query Missing($id: ID!) { appointment(id: $id) { id } }`, { id: '00000000-0000-0000-0000-000000000000' });
      expect(value(await scrape(), 'crm_calendar_graphql_operations_total', { operation: 'Missing', outcome: 'NOT_FOUND' })).toBe(1);
    } finally {
      await ws.client.dispose();
    }
  });
});

describe('structured logs', () => {
  let target: CalDavTarget;
  let f: CrmFixture;
  beforeAll(async () => {
    target = await radicaleTarget();
    f = await crmFixture(target, ['sam']);
  });
  afterAll(async () => {
    await f?.app.close();
    await target?.stop();
  });

  it('log every GraphQL request once with its request id (the caller\'s when sane), operation, user, tenant, outcome and duration', async () => {
    const ask = (requestId: string) =>
      fetch(f.app.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${f.users.sam.token}`, 'x-request-id': requestId }, body: JSON.stringify({ query: 'query Who { viewer { id } }' }) });
    const answered = await ask('req-42.abc');
    expect(answered.headers.get('x-request-id')).toBe('req-42.abc');
    const replaced = (await ask('bad id with spaces')).headers.get('x-request-id');
    expect(replaced).toMatch(/^[0-9a-f-]{36}$/);
    const lines = f.app.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === 'graphql request' && l.operation === 'Who');
    expect(lines).toEqual([
      expect.objectContaining({ requestId: 'req-42.abc', userId: 'sam', tenantId: 'tenant-a', outcome: 'ok', ms: expect.any(Number), level: 30 }),
      expect.objectContaining({ requestId: replaced, outcome: 'ok' }),
    ]);
  });

  it('carry the run and integration ids of a sync run, and never an app-specific password or a token, through connect, sync and booking', async () => {
    const sam = f.users.sam;
    await sam.phone.put(sam.account.primary.slug, vevent('log-1', '2030-01-07T09:00:00Z', '2030-01-07T10:00:00Z', 'Logged'));
    const run = dataOf(await f.app.gql(sam.token, `mutation($id: ID!) { syncNow(integrationId: $id) { id created } }`, { id: sam.integrationId })).syncNow;
    const { id: calendarId } = await f.createCalendar({ name: 'Logs', type: 'SERVICE', timezone: 'UTC', slotDurationMinutes: 60, openHours: OPEN, teamMembers: [{ userId: 'sam' }] });
    dataOf(await f.book({ calendarId, startsAt: at(nextWeekday(3, 4), 9), contact: { name: 'Log' } }));
    await f.pushed();
    const logs = f.app.logs.map((l) => JSON.parse(l));
    expect(logs.find((l) => l.msg === 'sync run finished' && l.runId === run.id)).toEqual(expect.objectContaining({ integrationId: sam.integrationId, created: 1 }));
    const everything = f.app.logs.join('\n');
    expect(everything).not.toContain(sam.account.appSpecificPassword);
    expect(everything).not.toContain(sam.token);
    expect(everything).not.toContain(f.admin);
  });

  it('leave one line per booking change, per push of a copy and per conflict warning, with ids and never the contact', async () => {
    const sam = f.users.sam;
    const { id: calendarId } = await f.createCalendar({ name: 'Audit', type: 'SERVICE', timezone: 'UTC', slotDurationMinutes: 60, openHours: OPEN, teamMembers: [{ userId: 'sam' }] });
    const day = nextWeekday(3, 5);
    const contact = { name: 'Zelda Private', email: 'zelda@private.example', phone: '+49 170 5550123' };
    const booked = dataOf(await f.book({ calendarId, startsAt: at(day, 9), contact })).bookAppointment;
    await f.pushed();
    const moved = at(day, 11);
    dataOf(await f.app.gql(f.admin, `mutation($i: RescheduleAppointmentInput!) { rescheduleAppointment(input: $i) { id } }`, { i: { id: booked.id, startsAt: moved } }));
    await f.pushed();
    // An event added "on the phone" over the appointment: the next sync raises a DOUBLE_BOOKING warning.
    await sam.phone.put(sam.account.primary.slug, vevent('audit-overlap', moved.toISOString(), at(day, 11, 30).toISOString(), 'Overlapping call'));
    const run = dataOf(await f.app.gql(sam.token, `mutation($id: ID!) { syncNow(integrationId: $id) { id warnings } }`, { id: sam.integrationId })).syncNow;
    dataOf(await f.app.gql(f.admin, `mutation($id: ID!) { cancelAppointment(id: $id) { id } }`, { id: booked.id }));
    await f.pushed();

    const logs = f.app.logs.map((l) => JSON.parse(l));
    const about = (msg: string) => logs.filter((l) => l.msg === msg && (l.appointmentId === booked.id || l.syncKey === `appt:${booked.id}`));
    const change = { appointmentId: booked.id, calendarId, tenantId: 'tenant-a', userId: 'boss', level: 30 };
    expect(about('appointment booked')).toEqual([expect.objectContaining({ ...change, startsAt: at(day, 9).toISOString() })]);
    expect(about('appointment rescheduled')).toEqual([expect.objectContaining({ ...change, startsAt: moved.toISOString(), previousStartsAt: at(day, 9).toISOString() })]);
    expect(about('appointment cancelled')).toEqual([expect.objectContaining(change)]);
    const push = { syncKey: `appt:${booked.id}`, userId: 'sam', tenantId: 'tenant-a', outcome: 'done', attempt: 1, level: 30 };
    expect(about('push of a copy to iCloud done').map((l) => l.action)).toEqual(['create', 'update', 'delete']);
    for (const line of about('push of a copy to iCloud done')) expect(line).toEqual(expect.objectContaining(push));
    expect(about('conflict warning raised')).toEqual([
      expect.objectContaining({ kind: 'DOUBLE_BOOKING', userId: 'sam', tenantId: 'tenant-a', runId: run.id, integrationId: sam.integrationId, warningId: expect.any(String), level: 30 }),
    ]);
    const everything = f.app.logs.join('\n');
    for (const detail of Object.values(contact)) expect(everything).not.toContain(detail);
  });
});

describe('readiness with Redis', () => {
  let redis: RedisServer;
  let target: CalDavTarget;
  beforeAll(async () => {
    [redis, target] = await Promise.all([startRedis(), radicaleTarget()]);
  });
  afterAll(async () => {
    await redis?.stop();
    await target?.stop();
  });

  it('is ready while Redis answers and answers 503 naming Redis when it does not', async () => {
    const account = await target.newAccount();
    const app = await startTestApp({ caldavUrl: account.serverUrl, env: { REDIS_URL: redis.url } });
    try {
      const base = app.url.replace(/\/graphql$/, '');
      const ready = await fetch(`${base}/readyz`);
      expect([ready.status, await ready.json()]).toEqual([200, { database: 'ok', redis: 'ok' }]);
      await redis.stop();
      const down = await fetch(`${base}/readyz`);
      expect([down.status, await down.json()]).toEqual([503, { database: 'ok', redis: 'unreachable' }]);
    } finally {
      await app.close();
    }
  });
});

describe('graceful shutdown of a real server process', () => {
  let target: CalDavTarget;
  beforeAll(async () => {
    buildServer();
    target = await radicaleTarget();
  });
  afterAll(async () => {
    await target?.stop();
  });

  it('on SIGTERM closes subscriptions with 1001 and a reason, finishes its work and exits 0 within the bound', async () => {
    const account = await target.newAccount();
    const secret = 'shutdown-test-secret';
    const dataDir = mkdtempSync(join(tmpdir(), 'crm-shutdown-'));
    // NODE_ENV as `npm start` has it: jest's NODE_ENV=test hid a handler of Apollo's that killed the process first.
    const server = await startServerProcess({ DATA_DIR: dataDir, AUTH_JWT_SECRET: secret, ICLOUD_CALDAV_URL: account.serverUrl, SYNC_CRON: '* * * * * *', SHUTDOWN_TIMEOUT_SECONDS: '10', NODE_ENV: 'production' });
    const token = signToken({ sub: 'ann', tenantId: 'tenant-a', role: 'user' }, secret);
    const ws = wsClient(server.url, token);
    try {
      ws.subscribe('subscription { syncResults { id } }');
      await new Promise((r) => setTimeout(r, 300));
      const started = Date.now();
      const exited = new Promise<number | null>((r) => server.proc.child.once('exit', (code) => r(code)));
      server.proc.child.kill('SIGTERM');
      expect(await ws.closed).toEqual({ code: 1001, reason: 'The server is shutting down: reconnect.' });
      expect(await exited).toBe(0);
      expect(Date.now() - started).toBeLessThan(15000);
      expect(server.logs().find((l) => l.msg === 'stopped')).toEqual(expect.objectContaining({ finished: true }));
    } finally {
      await ws.client.dispose();
      await server.proc.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

