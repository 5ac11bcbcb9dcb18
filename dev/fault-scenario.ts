import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONNECT, dataOf, startTestApp, type GraphQLResponse, type TestApp } from './app';
import { faultyRadicaleTarget } from './caldav-targets';
import { crmFixture, eventsInPrimary, nextWeekday, type CrmFixture, type CrmUser } from './crm-fixture';
import { prng, type Fault } from './fault-proxy';
import { vevent } from './phone';
import { OutboxEntry } from '../src/entities/outbox-entry.entity';

/** Every fault the proxy can inject, with and without Retry-After: what a scenario draws from. */
export const ALL_FAULTS: Fault[] = [
  ...[401, 403, 404, 409, 412, 500, 507].map((status) => ({ kind: 'status' as const, status })),
  ...[429, 503].flatMap((status) => [{ kind: 'status' as const, status }, { kind: 'status' as const, status, retryAfterSeconds: 1 }]),
  { kind: 'innerError', status: 500 },
  { kind: 'innerError', status: 412 },
  { kind: 'reset' },
  { kind: 'timeout' },
  { kind: 'lostAnswer' },
  { kind: 'truncate' },
  { kind: 'malformedXml' },
  { kind: 'malformedICalendar' },
  { kind: 'invalidSyncToken' },
];

export interface ScenarioResult {
  seed: number;
  operations: number;
  faults: Record<string, number>;
  violations: string[];
}

const OPEN = [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '08:00', end: '20:00' }));
const USERS = ['sam', 'tom'];
const ISO = (d: Date) => d.toISOString();

/**
 * Books, reschedules and cancels appointments of two users, lets their iPhones add and delete events, and
 * syncs, all through a proxy that injects random faults (deterministic for `seed`), against a real
 * Radicale. Then the faults stop and the system settles (outbox retried, integrations synced, a revoked
 * connection reconnected, as the user would). Returns the invariants that do not hold:
 * every booked appointment exists exactly once in its member's calendar with its times, none cancelled
 * does, no appointment is lost or changed, no EDIT_CONFLICT no one caused, busy time equals what a clean
 * full sync computes.
 */
export async function runFaultScenario(options: { seed: number; operations: number; rate: number; faults?: Fault[] }): Promise<ScenarioResult> {
  const random = prng(options.seed);
  const pickOf = <T>(items: T[]): T => items[Math.floor(random() * items.length)];
  const target = await faultyRadicaleTarget();
  let f: CrmFixture | undefined;
  let clean: TestApp | undefined;
  const cleanDir = mkdtempSync(join(tmpdir(), 'crm-clean-'));
  try {
    f = await crmFixture(target, USERS, { env: { CALDAV_TIMEOUT_MS: '800' } });
    const fx = f;
    const { id: calendarId } = await fx.createCalendar({ name: 'Consult', type: 'SERVICE', timezone: 'UTC', slotDurationMinutes: 60, openHours: OPEN, teamMembers: USERS.map((userId) => ({ userId })) });
    const model: AppointmentModel = new Map();
    const phoneEvents: { sub: string; href: string }[] = [];
    const slot = () => new Date(nextWeekday(2 + Math.floor(random() * 5), 1 + Math.floor(random() * 7)).getTime() + (8 + Math.floor(random() * 11)) * 3600000);
    const gql = (query: string, variables: Record<string, unknown>) => fx.app.gql(fx.admin, query, variables);
    const booked = () => [...model].filter(([, a]) => a.status === 'BOOKED').map(([id]) => id);

    target.proxy.random(options.rate, options.seed, options.faults ?? ALL_FAULTS);
    for (let n = 0; n < options.operations; n++) {
      const op = pickOf(['book', 'book', 'reschedule', 'cancel', 'iphoneAdd', 'iphoneDelete', 'sync', 'drain']);
      if (op === 'book') {
        const title = `Op ${n}`;
        const res = await fx.book({ calendarId, startsAt: slot(), contact: { name: title }, title });
        if (!res.errors) model.set(res.data!.bookAppointment.id, { title, startsAt: res.data!.bookAppointment.startsAt, status: 'BOOKED' });
      } else if (op === 'reschedule' && booked().length) {
        const id = pickOf(booked());
        const res = await gql(`mutation($i: RescheduleAppointmentInput!) { rescheduleAppointment(input: $i) { startsAt } }`, { i: { id, startsAt: slot() } });
        if (!res.errors) model.get(id)!.startsAt = res.data!.rescheduleAppointment.startsAt;
      } else if (op === 'cancel' && booked().length) {
        const id = pickOf(booked());
        if (!(await gql(`mutation($id: ID!) { cancelAppointment(id: $id) { status } }`, { id })).errors) model.get(id)!.status = 'CANCELLED';
      } else if (op === 'iphoneAdd') {
        const sub = pickOf(USERS);
        const start = slot();
        const href = await fx.users[sub].phone.put(fx.users[sub].account.primary.slug, vevent(`phone-${n}`, ISO(start).replace('.000', ''), ISO(new Date(start.getTime() + 1800000)).replace('.000', ''), `Phone ${n}`));
        phoneEvents.push({ sub, href });
      } else if (op === 'iphoneDelete' && phoneEvents.length) {
        const { sub, href } = phoneEvents.splice(Math.floor(random() * phoneEvents.length), 1)[0];
        await fx.users[sub].phone.delete(href);
      } else if (op === 'sync') {
        const sub = pickOf(USERS);
        await fx.app.gql(fx.users[sub].token, `mutation($id: ID!) { syncNow(integrationId: $id) { id } }`, { id: fx.users[sub].integrationId });
      } else if (op === 'drain') {
        await settleOutbox(fx);
      }
    }
    const faults = { ...target.proxy.injected };
    target.proxy.random(0, 0, []);
    await settle(fx);
    clean = await startTestApp({ caldavUrl: target.radicale.url, dataDir: cleanDir });
    const violations = await checkInvariants({ gql: fx.app.gql, admin: fx.admin, users: fx.users }, clean, model);
    return { seed: options.seed, operations: options.operations, faults, violations };
  } finally {
    await f?.app.close();
    await clean?.close();
    await target.stop();
    rmSync(cleanDir, { recursive: true, force: true });
  }
}

async function settleOutbox(f: CrmFixture): Promise<void> {
  await f.app.server.orm.fork().nativeUpdate(OutboxEntry, {}, { nextAttemptAt: new Date(0), leaseUntil: null });
  f.app.server.services.outbox.kick();
  await f.pushed();
}

/** What the system does on its own once iCloud behaves, plus what the user does when told to (reconnect). */
async function settle(f: CrmFixture): Promise<void> {
  for (let round = 0; round < 4; round++) {
    for (const sub of USERS) {
      const user = f.users[sub];
      const [integration] = dataOf(await f.app.gql(user.token, `{ calendarIntegrations { status } }`)).calendarIntegrations;
      if (integration.status === 'NEEDS_RECONNECT') dataOf(await f.app.gql(user.token, CONNECT, { input: { appleId: user.account.appleId, appSpecificPassword: user.account.appSpecificPassword } }));
    }
    await settleOutbox(f);
    for (const sub of USERS) await f.app.gql(f.users[sub].token, `mutation($id: ID!) { syncNow(integrationId: $id) { id } }`, { id: f.users[sub].integrationId });
  }
}

/** What the invariants are checked against: the API of the server under test and the users' phones. */
export interface Deployment {
  gql(token: string, query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse>;
  admin: string;
  users: Record<string, CrmUser>;
}

/** What the test believes each appointment is, by id: the API answered these operations. */
export type AppointmentModel = Map<string, { title: string; startsAt: string; status: 'BOOKED' | 'CANCELLED' }>;

/**
 * The invariants after faults (or crashes) stop and the system settled; returns what does not hold. `clean`
 * is a fresh app on its own database that syncs each account once from scratch (the reference busy time).
 */
export async function checkInvariants(f: Deployment, clean: TestApp, model: AppointmentModel): Promise<string[]> {
  const subs = Object.keys(f.users);
  const violations: string[] = [];
  const from = new Date(Date.now() - 86400000);
  const to = new Date(Date.now() + 20 * 86400000);
  const icloud = Object.fromEntries(await Promise.all(subs.map(async (sub) => [sub, await eventsInPrimary(f.users[sub])] as const)));
  for (const [id, expected] of model) {
    const got = dataOf(await f.gql(f.admin, `query($id: ID!) { appointment(id: $id) { title startsAt endsAt status syncState assignedUserIds } }`, { id })).appointment;
    if (!got) {
      violations.push(`appointment ${expected.title} is lost`);
      continue;
    }
    if (got.status !== expected.status || got.startsAt !== expected.startsAt) violations.push(`appointment ${expected.title} is ${got.status} at ${got.startsAt}, expected ${expected.status} at ${expected.startsAt}`);
    const copies = icloud[got.assignedUserIds[0]].filter((e) => e.summary === expected.title);
    if (expected.status === 'BOOKED') {
      if (copies.length !== 1) violations.push(`${expected.title} has ${copies.length} copies in iCloud, expected 1`);
      else if (copies[0].start !== got.startsAt || copies[0].end !== got.endsAt) violations.push(`${expected.title} is at ${copies[0].start} in iCloud, ${got.startsAt} in the CRM`);
      if (got.syncState !== 'SYNCED') violations.push(`${expected.title} is ${got.syncState}`);
    } else if (copies.length) violations.push(`cancelled ${expected.title} still has ${copies.length} copies in iCloud`);
  }
  for (const sub of subs) {
    const warnings = dataOf(await f.gql(f.users[sub].token, `{ conflictWarnings(resolved: false) { kind message } }`)).conflictWarnings as { kind: string; message: string }[];
    for (const w of warnings.filter((x) => x.kind === 'EDIT_CONFLICT')) violations.push(`EDIT_CONFLICT no one caused for ${sub}: ${w.message}`);
    violations.push(...(await busyDiffers(f, clean, sub, from, to)));
  }
  return violations;
}

/** Busy time of `sub` in the app under test against a clean full sync of the same account by a fresh app. */
async function busyDiffers(f: Deployment, clean: TestApp, sub: string, from: Date, to: Date): Promise<string[]> {
  const user = f.users[sub];
  const token = clean.token(sub);
  const { id, calendars } = dataOf(await clean.gql(token, CONNECT, { input: { appleId: user.account.appleId, appSpecificPassword: user.account.appSpecificPassword } })).connectICloud;
  const primary = calendars.find((c: { name: string }) => c.name === user.account.primary.name);
  dataOf(await clean.gql(token, `mutation($ids: [ID!]!) { setConflictCalendars(input: {calendarIds: $ids}) { id } }`, { ids: [primary.id] }));
  dataOf(await clean.gql(token, `mutation($id: ID!) { syncNow(integrationId: $id) { id } }`, { id }));
  const busy = async (gql: Deployment['gql'], t: string) =>
    (dataOf(await gql(t, `query($f: DateTimeISO!, $t: DateTimeISO!) { blockedTimes(from: $f, to: $t) { startsAt endsAt title } }`, { f: from, t: to })).blockedTimes as object[]).map((b) => JSON.stringify(b)).sort();
  const [ours, expected] = [await busy(f.gql, user.token), await busy(clean.gql, token)];
  return JSON.stringify(ours) === JSON.stringify(expected) ? [] : [`busy time of ${sub} differs from a clean full sync: ${JSON.stringify(ours)} vs ${JSON.stringify(expected)}`];
}
