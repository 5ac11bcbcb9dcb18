import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signToken } from '../src/auth/jwt';
import { CONNECT, dataOf, startTestApp, type GraphQLResponse, type TestApp } from '../dev/app';
import { faultyRadicaleTarget, type CalDavTarget, type TargetAccount } from '../dev/caldav-targets';
import { nextWeekday, type CrmUser } from '../dev/crm-fixture';
import type { FaultProxy } from '../dev/fault-proxy';
import { prng } from '../dev/fault-proxy';
import { checkInvariants, type AppointmentModel } from '../dev/fault-scenario';
import type { RadicaleServer } from '../dev/radicale';
import { Phone, vevent } from '../dev/phone';
import { buildServer, startServerProcess, type ServerProcess } from '../dev/server-process';

const SECRET = 'crash-' + randomBytes(8).toString('hex');
const OPEN = [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '08:00', end: '20:00' }));
const KILLS = 20;

/**
 * The server is killed with SIGKILL at random moments while it drains the outbox and syncs (every second),
 * 20 times, and started again on the same SQLite file. After it settles, nothing is lost or doubled.
 */
describe('crashes lose nothing', () => {
  let target: CalDavTarget & { proxy: FaultProxy; radicale: RadicaleServer };
  let dataDir: string;
  let server: ServerProcess | undefined;
  let clean: TestApp | undefined;

  beforeAll(async () => {
    buildServer();
    target = await faultyRadicaleTarget();
    dataDir = mkdtempSync(join(tmpdir(), 'crm-crash-'));
  }, 120000);
  afterAll(async () => {
    await server?.proc.stop();
    await clean?.close();
    await target?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it(`settles with every invariant holding after ${KILLS} kills during pushes and syncs`, async () => {
    const random = prng(7);
    const account: TargetAccount = await target.newAccount();
    const env = {
      DATA_DIR: dataDir,
      AUTH_JWT_SECRET: SECRET,
      ICLOUD_CALDAV_URL: account.serverUrl,
      SYNC_CRON: '* * * * * *',
      SYNC_INTERVAL_SECONDS: '1',
      SYNC_LEASE_SECONDS: '5',
      SYNC_NOW_MIN_INTERVAL_SECONDS: '0',
      // Objects stored two per transaction: kills also land between the batches of one calendar.
      SYNC_BATCH_OBJECTS: '2',
      CALDAV_TIMEOUT_MS: '3000',
      LOG_LEVEL: 'info',
    };
    server = await startServerProcess(env);
    const gql = async (token: string, query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse> => {
      const res = await fetch(server!.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query, variables }) });
      return (await res.json()) as GraphQLResponse;
    };
    const admin = signToken({ sub: 'boss', tenantId: 'tenant-a', role: 'admin' }, SECRET);
    const token = signToken({ sub: 'sam', tenantId: 'tenant-a', role: 'user' }, SECRET);
    const { id: integrationId, calendars } = dataOf(await gql(token, CONNECT, { input: { appleId: account.appleId, appSpecificPassword: account.appSpecificPassword } })).connectICloud;
    const primary = calendars.find((c: { name: string }) => c.name === account.primary.name);
    dataOf(await gql(token, `mutation($id: ID!) { setPrimaryCalendar(input: {calendarId: $id}) { id } }`, { id: primary.id }));
    dataOf(await gql(token, `mutation($ids: [ID!]!) { setConflictCalendars(input: {calendarIds: $ids}) { id } }`, { ids: [primary.id] }));
    const { id: calendarId } = dataOf(await gql(admin, `mutation($i: CreateCrmCalendarInput!) { createCrmCalendar(input: $i) { id } }`, {
      i: { name: 'Consult', type: 'SERVICE', timezone: 'UTC', slotDurationMinutes: 60, openHours: OPEN, teamMembers: [{ userId: 'sam' }] },
    })).createCrmCalendar;
    const sam: CrmUser = { sub: 'sam', token, account, phone: new Phone(target, account), integrationId };
    const model: AppointmentModel = new Map();
    const slot = () => new Date(nextWeekday(2 + Math.floor(random() * 5), 1 + Math.floor(random() * 7)).getTime() + (8 + Math.floor(random() * 11)) * 3600000);
    const booked = () => [...model].filter(([, a]) => a.status === 'BOOKED').map(([id]) => id);
    // Every CalDAV request takes a while, so that kills land in the middle of pushes and syncs.
    target.proxy.delay(40);

    for (let kill = 0; kill < KILLS; kill++) {
      for (let op = 0; op < 3; op++) {
        const choice = random();
        if (choice < 0.5 || booked().length === 0) {
          const title = `Crash ${kill}.${op}`;
          const res = await gql(admin, `mutation($i: BookAppointmentInput!) { bookAppointment(input: $i) { id startsAt } }`, { i: { calendarId, startsAt: slot(), contact: { name: title }, title } });
          if (!res.errors) model.set(res.data!.bookAppointment.id, { title, startsAt: res.data!.bookAppointment.startsAt, status: 'BOOKED' });
        } else if (choice < 0.75) {
          const id = booked()[Math.floor(random() * booked().length)];
          const res = await gql(admin, `mutation($i: RescheduleAppointmentInput!) { rescheduleAppointment(input: $i) { startsAt } }`, { i: { id, startsAt: slot() } });
          if (!res.errors) model.get(id)!.startsAt = res.data!.rescheduleAppointment.startsAt;
        } else if (choice < 0.9) {
          const id = booked()[Math.floor(random() * booked().length)];
          if (!(await gql(admin, `mutation($id: ID!) { cancelAppointment(id: $id) { status } }`, { id })).errors) model.get(id)!.status = 'CANCELLED';
        } else {
          const start = slot();
          await sam.phone.put(account.primary.slug, vevent(`phone-${kill}-${op}`, start.toISOString().replace('.000', ''), new Date(start.getTime() + 1800000).toISOString().replace('.000', ''), `Phone ${kill}`));
        }
      }
      await new Promise((r) => setTimeout(r, Math.floor(random() * 600)));
      await server.proc.stop('SIGKILL');
      server = await startServerProcess(env);
    }
    target.proxy.delay(0);

    // Settled: every booked appointment synced, no push waiting (dead leases expire, the outbox job retries every 15 s).
    const deadline = Date.now() + 60000;
    const pending = async () => {
      const states = await Promise.all(booked().map(async (id) => dataOf(await gql(admin, `query($id: ID!) { appointment(id: $id) { syncState } }`, { id })).appointment.syncState));
      return states.filter((s) => s !== 'SYNCED').length;
    };
    while ((await pending()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1000));
    await new Promise((r) => setTimeout(r, 16000)); // one more outbox round for cancellations
    dataOf(await gql(token, `mutation($id: ID!) { syncNow(integrationId: $id) { id } }`, { id: integrationId }));

    clean = await startTestApp({ caldavUrl: target.radicale.url });
    const violations = await checkInvariants({ gql, admin, users: { sam } }, clean, model);
    console.log(`${KILLS} kills, ${model.size} appointments, violations: ${violations.length}`);
    expect(violations).toEqual([]);
  }, 240000);
});
