import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { signToken } from '../src/auth/jwt';
import { WS_LIMITS } from '../src/ws-policy';
import { icloudTarget, radicaleTarget, type CalDavTarget } from './caldav-targets';
import { prng } from './fault-proxy';
import { Phone, vevent } from './phone';
import { freePort } from './ports';
import { startServerProcess, type ServerProcess } from './server-process';

export interface LoadOptions {
  seconds: number;
  /** GraphQL requests per second over HTTP, sent at this rate whatever the latency (open loop). */
  rps: number;
  /** Subscriptions held open over graphql-ws during the load. */
  subscriptions: number;
  log?: (line: string) => void;
  /** CRM users who connect an account and are members of the round-robin calendar (default 10). */
  users?: number;
  /** Radicale directly (default), or the iCloud emulation in front of it (one more proxy in this process). */
  caldav?: 'radicale' | 'icloud';
  /** Wait after the last answer, subscriptions still open, before the end figures (default 5). */
  settleSeconds?: number;
  seed?: number;
  /** Extra environment of the server process (e.g. `SYNC_CRON: ''` to see the API without the reconciler). */
  serverEnv?: Record<string, string>;
  /** Extra arguments of the server's node, e.g. `['--cpu-prof', '--cpu-prof-dir', dir]`. */
  serverNodeArgs?: string[];
}

export interface Latency { count: number; p50: number; p95: number; p99: number; max: number }

export interface LoadFigures {
  /** Seconds over which the requests were sent. */
  seconds: number;
  targetRps: number;
  achievedRps: number;
  requests: { sent: number; answered: number; byOperation: Record<string, number> };
  /** Non-200 statuses, GraphQL errors, network errors, WebSocket errors and unexpected closes, the phone's failures. */
  errors: { count: number; first: string[] };
  /** Milliseconds from the moment a request was due (open loop) to its whole answer. */
  latency: { overall: Latency; byOperation: Record<string, Latency> };
  /** Worst delay of this process in sending a request after it was due (a busy load generator shows here). */
  maxSendLagMs: number;
  subscriptions: { opened: number; openAtEnd: number; events: number; syncResultEvents: number; sockets: number };
  /** Runs the reconciler (or syncNow) finished during the load; (subscription, run) deliveries missing to syncResults subscribers. */
  syncRuns: { finished: number; missedDeliveries: number };
  /** `unanswered`: mutations whose outcome is unknown (no answer); `live`: bookings known to be booked, `visibleAfterwards` of them as planned. */
  bookings: { booked: number; rescheduled: number; cancelled: number; unanswered: number; live: number; visibleAfterwards: number; problems: string[]; syncStates: Record<string, number> };
  /** Server process: VmRSS in MB, CPU from the first request to the last answer (100 = one core, all threads). */
  server: { rssAfterWarmupMb: number; rssPeakMb: number; rssEndMb: number; cpuPercent: number };
  loadGeneratorCpuPercent: number;
}

export interface Actor { sub: string; token: string; admin: boolean; integrationId?: string }
interface GqlAnswer { status: number; body: { data?: any; errors?: { message: string; extensions?: { code?: string } }[] } }
type Fail = (message: string) => void;

const SLOT_MINUTES = 30;
const SLOTS_PER_DAY = 24; // 08:00-20:00 UTC, every day
const BOOKING_DAYS = 14;
const DAY = 86400000;

export const OPERATIONS = {
  availableSlots: `query($c: ID!, $f: DateTimeISO!, $t: DateTimeISO!) { availableSlots(calendarId: $c, from: $f, to: $t, timezone: "Europe/Berlin") { startsAt endsAt startsAtLocal availableUserIds seatsLeft } }`,
  appointments: `query($f: DateTimeISO!, $t: DateTimeISO!, $u: ID) { appointments(from: $f, to: $t, userId: $u) { id startsAt endsAt status assignedUserIds syncState contact { name } } }`,
  blockedTimes: `query($f: DateTimeISO!, $t: DateTimeISO!, $u: ID) { blockedTimes(from: $f, to: $t, userId: $u) { startsAt endsAt calendarId title } }`,
  calendarIntegrations: `{ calendarIntegrations { id status statusMessage lastSyncedAt calendars { id name isPrimary checkForConflicts } recentSyncRuns { id outcome finishedAt } } }`,
  viewer: `{ viewer { id tenantId role timezone } }`,
  crmCalendars: `{ crmCalendars { id name type teamMembers { userId priority } } }`,
  conflictWarnings: `{ conflictWarnings(resolved: false) { id kind message } }`,
  syncRuns: `query($i: ID!) { syncRuns(integrationId: $i, limit: 5) { id outcome requests finishedAt } }`,
  bookAppointment: `mutation($i: BookAppointmentInput!) { bookAppointment(input: $i) { id startsAt status assignedUserIds syncState } }`,
  rescheduleAppointment: `mutation($i: RescheduleAppointmentInput!) { rescheduleAppointment(input: $i) { id startsAt status } }`,
  cancelAppointment: `mutation($id: ID!) { cancelAppointment(id: $id) { id status } }`,
  syncNow: `mutation($i: ID!) { syncNow(integrationId: $i) { id outcome } }`,
};
export type Operation = keyof typeof OPERATIONS;
/** The mix, in percent: 85 queries, 15 mutations. */
const MIX: [Operation, number][] = [
  ['availableSlots', 24], ['appointments', 14], ['blockedTimes', 12], ['calendarIntegrations', 10], ['viewer', 8],
  ['crmCalendars', 5], ['conflictWarnings', 6], ['syncRuns', 6],
  ['bookAppointment', 9], ['rescheduleAppointment', 3], ['cancelAppointment', 2], ['syncNow', 1],
];
const SUBSCRIPTIONS = [
  { field: 'syncResults', query: 'subscription { syncResults { id integrationId outcome finishedAt } }', own: false },
  { field: 'syncResults', query: 'subscription($i: ID) { syncResults(integrationId: $i) { id integrationId outcome } }', own: true },
  { field: 'conflictWarnings', query: 'subscription { conflictWarnings { id kind userId message } }', own: false },
  { field: 'integrationStatusChanged', query: 'subscription { integrationStatusChanged { id status statusMessage } }', own: false },
];
const SUBS_PER_SOCKET = 10;
/** A request without a whole answer this long after it was sent counts as an error. */
const ANSWER_TIMEOUT_MS = 60000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function percentiles(values: number[]): Latency {
  const a = [...values].sort((x, y) => x - y);
  const at = (q: number) => (a.length ? Math.round(a[Math.min(a.length - 1, Math.ceil(q * a.length) - 1)] * 10) / 10 : 0);
  return { count: a.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: at(1) };
}

/** Resident memory of a process in MB (VmRSS). */
export function rssMb(pid: number): number {
  const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Math.round(Number(kb) / 102.4) / 10;
}

/** CPU seconds (user + system, all threads) of a process so far. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** What the load runs against: a CalDAV server, the API server process, CRM users and their calendar. */
export interface LoadEnvironment {
  url: string;
  pid: number;
  server: ServerProcess;
  users: Actor[];
  admin: Actor;
  /** The round-robin calendar every user is a member of, open 08:00-20:00 UTC every day. */
  calendarId: string;
  phones: Phone[];
  /** UTC midnight that starts the plan (tomorrow). */
  day0: number;
  gql(token: string, query: string, variables?: Record<string, unknown>): Promise<GqlAnswer>;
  /** Like `gql`, throwing on any error. */
  must(token: string, query: string, variables?: Record<string, unknown>): Promise<any>;
  stop(): Promise<void>;
}

/**
 * Starts the CalDAV server, the API server as its own process (SQLite in a temporary folder, the
 * reconciler ticking every 2 s and syncing each account every 5 s), CRM users who connect accounts with a
 * few events of their own (outside open hours) and a round-robin calendar with them all.
 */
export async function startLoadEnvironment(options: Pick<LoadOptions, 'users' | 'caldav' | 'serverEnv' | 'serverNodeArgs'> = {}): Promise<LoadEnvironment> {
  const secret = 'load-' + randomBytes(12).toString('hex');
  const dataDir = mkdtempSync(join(tmpdir(), 'crm-load-'));
  // Idle connections are dropped after 4 s, before the server's 5-s keep-alive timeout closes them under a
  // request being sent (an ECONNRESET of the client's making; browsers retry those silently).
  const agent = new Agent({ keepAlive: true, maxSockets: 512, timeout: 4000 });
  let target: CalDavTarget | undefined;
  let server: ServerProcess | undefined;
  const stop = async () => {
    agent.destroy();
    await server?.proc.stop();
    await target?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    target = options.caldav === 'icloud' ? await icloudTarget() : await radicaleTarget();
    const accounts = await target.newAccounts(options.users ?? 10);
    const phones = accounts.map((a) => new Phone(target!, a));
    const day0 = Math.ceil(Date.now() / DAY) * DAY;
    const at = (day: number, hour: number) => new Date(day0 + day * DAY + hour * 3600000).toISOString();
    for (const [u, phone] of phones.entries()) {
      for (let d = 0; d < 3; d++) await phone.put('work', vevent(`seed-${u}-${d}`, at(d, 5), at(d, 6), `Gym ${d}`));
      await phone.put('home', vevent(`seed-${u}-weekly`, at(0, 21), at(0, 22), 'Choir', ['RRULE:FREQ=WEEKLY;COUNT=10']));
    }
    server = await startServerProcess(
      {
        PORT: String(await freePort()),
        DATA_DIR: dataDir,
        DATABASE_URL: join(dataDir, 'load.sqlite'),
        REDIS_URL: '',
        AUTH_JWT_SECRET: secret,
        CREDENTIALS_KEY: randomBytes(32).toString('base64'),
        ICLOUD_CALDAV_URL: accounts[0].serverUrl,
        SYNC_CRON: '*/2 * * * * *',
        SYNC_INTERVAL_SECONDS: '5',
        SYNC_NOW_MIN_INTERVAL_SECONDS: '0',
        LOG_LEVEL: 'debug',
        ...options.serverEnv,
      },
      options.serverNodeArgs,
    );
    const url = server.url.replace('//localhost:', '//127.0.0.1:');
    const gql = (token: string, query: string, variables?: Record<string, unknown>) => post(agent, url, token, { query, variables });
    const must = async (token: string, query: string, variables?: Record<string, unknown>) => {
      const { status, body } = await gql(token, query, variables);
      if (status !== 200 || body.errors?.length) throw new Error(`setup request failed (${status}): ${JSON.stringify(body.errors ?? body)}`);
      return body.data;
    };
    const users: Actor[] = [];
    for (const [i, account] of accounts.entries()) {
      const sub = `agent-${i + 1}`;
      const token = signToken({ sub, tenantId: 'tenant-load', role: 'user' }, secret);
      const { id, calendars } = (await must(token, `mutation($i: ConnectICloudInput!) { connectICloud(input: $i) { id calendars { id name } } }`, {
        i: { appleId: account.appleId, appSpecificPassword: account.appSpecificPassword },
      })).connectICloud;
      const named = (name: string) => calendars.find((c: { name: string }) => c.name === name).id;
      await must(token, `mutation($id: ID!) { setPrimaryCalendar(input: {calendarId: $id}) { id } }`, { id: named(account.primary.name) });
      await must(token, `mutation($ids: [ID!]!) { setConflictCalendars(input: {calendarIds: $ids}) { id } }`, { ids: [named(account.primary.name), named('Calendar')] });
      // Slots are bookable as planned once the account's busy time is indexed.
      await must(token, OPERATIONS.syncNow, { i: id });
      users.push({ sub, token, admin: false, integrationId: id });
    }
    const admin: Actor = { sub: 'load-admin', token: signToken({ sub: 'load-admin', tenantId: 'tenant-load', role: 'admin' }, secret), admin: true };
    const { id: calendarId } = (await must(admin.token, `mutation($i: CreateCrmCalendarInput!) { createCrmCalendar(input: $i) { id } }`, {
      i: {
        name: 'Consultations', type: 'ROUND_ROBIN', roundRobinMode: 'EQUAL_DISTRIBUTION', timezone: 'UTC', slotDurationMinutes: SLOT_MINUTES,
        openHours: [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '08:00', end: '20:00' })),
        teamMembers: users.map((u) => ({ userId: u.sub })),
      },
    })).createCrmCalendar;
    return { url, pid: server.pid, server, users, admin, calendarId, phones, day0, gql, must, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

interface Subscriber { actor: Actor; field: string; integrationId?: string; open: boolean; runs: Set<string> }

/**
 * Opens `count` subscriptions, SUBS_PER_SOCKET per socket, the sockets spread over the users and the admin
 * within the server's per-user limits, a mix of every Subscription field. Any error or end before `close` fails.
 */
async function openSubscriptions(env: LoadEnvironment, count: number, fail: Fail) {
  const actors = [...env.users, env.admin];
  const socketCount = Math.ceil(count / SUBS_PER_SOCKET);
  const socketsPerActor = Math.ceil(socketCount / actors.length);
  if (socketsPerActor > WS_LIMITS.socketsPerUser || socketsPerActor * SUBS_PER_SOCKET > WS_LIMITS.subscriptionsPerUser || SUBS_PER_SOCKET > WS_LIMITS.subscriptionsPerSocket) {
    throw new Error(`${count} subscriptions exceed the per-user limits for ${actors.length} users`);
  }
  const subs: Subscriber[] = [];
  const clients: Client[] = [];
  let closing = false;
  let events = 0;
  for (let s = 0; s < socketCount; s++) {
    const actor = actors[s % actors.length];
    let connected!: () => void;
    const ready = new Promise<void>((r) => (connected = r));
    const client = createClient({
      url: env.url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${actor.token}` },
      retryAttempts: 0,
      lazy: false,
      onNonLazyError: (e) => fail(`websocket ${s} of ${actor.sub}: ${(e as Error).message ?? JSON.stringify(e)}`),
      on: {
        connected: () => connected(),
        closed: (e) => void (closing || fail(`websocket ${s} of ${actor.sub} closed: ${(e as { code?: number }).code} ${(e as { reason?: string }).reason ?? ''}`)),
      },
    });
    clients.push(client);
    await ready;
    for (let i = s; i < count; i += socketCount) {
      const kind = SUBSCRIPTIONS[Math.floor(i / socketCount) % SUBSCRIPTIONS.length];
      const integrationId = kind.own ? (actor.integrationId ?? env.users[s % env.users.length].integrationId) : undefined;
      const sub: Subscriber = { actor, field: kind.field, integrationId, open: true, runs: new Set() };
      subs.push(sub);
      const ended = (why: string) => {
        if (!closing) fail(`subscription ${kind.field} of ${actor.sub} ${why}`);
        sub.open = false;
      };
      client.subscribe<any>(
        { query: kind.query, variables: integrationId ? { i: integrationId } : {} },
        {
          next: (r) => {
            events++;
            if (r.errors?.length) fail(`subscription ${kind.field} of ${actor.sub}: ${r.errors[0].message}`);
            else if (kind.field === 'syncResults') sub.runs.add(r.data.syncResults.id);
          },
          error: (e) => ended(`ended with an error: ${(e as Error).message ?? JSON.stringify(e)}`),
          complete: () => ended('completed'),
        },
      );
    }
  }
  // graphql-ws does not acknowledge a subscription: give the server a moment to register them all.
  await sleep(1000);
  return {
    subs,
    sockets: clients.length,
    events: () => events,
    close: async () => {
      closing = true;
      await Promise.all(clients.map((c) => c.dispose()));
    },
  };
}

/** A request to send; `refused` when the server answered with an error, `lost` when no answer came (outcome unknown). */
interface PlannedRequest { op: Operation; actor: Actor; variables?: Record<string, unknown>; done?: (data: any) => void; refused?: () => void; lost?: () => void }

/** Where a booking of the plan stands: its slot and status, or the states it may be in after a request without an answer. */
interface PlannedBooking { slot: number; status: 'BOOKED' | 'CANCELLED'; busy: boolean; possible?: { slot: number; status: 'BOOKED' | 'CANCELLED' }[] }

/**
 * The mix of requests, and the booking plan behind its mutations: each slot takes as many bookings as the
 * calendar has members (nobody is busy in open hours), a slot is reserved when a request is sent and given
 * back when a refusal, a move or a cancellation comes back. So every booking the plan sends should succeed.
 * A mutation without an answer may or may not have happened: its slots stay reserved and its booking is left alone.
 */
function requestPlanner(env: LoadEnvironment, random: () => number) {
  const pick = <T>(items: T[]) => items[Math.floor(random() * items.length)];
  const slotTime = (slot: number) => new Date(env.day0 + DAY + Math.floor(slot / SLOTS_PER_DAY) * DAY + (8 * 60 + (slot % SLOTS_PER_DAY) * SLOT_MINUTES) * 60000);
  const taken = new Array<number>(BOOKING_DAYS * SLOTS_PER_DAY).fill(0);
  const reserve = () => {
    const first = Math.floor(random() * taken.length);
    for (let k = 0; k < taken.length; k++) {
      const slot = (first + k) % taken.length;
      if (taken[slot] < env.users.length) return taken[slot]++, slot;
    }
    return undefined;
  };
  const bookings = new Map<string, PlannedBooking>();
  const counts = { booked: 0, rescheduled: 0, cancelled: 0, unanswered: 0 };
  const range = () => {
    const from = new Date(env.day0 + Math.floor(random() * 3) * DAY);
    return { f: from.toISOString(), t: new Date(from.getTime() + (7 + Math.floor(random() * 8)) * DAY).toISOString() };
  };

  const book = (actor: Actor): PlannedRequest | undefined => {
    const slot = reserve();
    if (slot === undefined) return undefined;
    const n = counts.booked + 1;
    return {
      op: 'bookAppointment',
      actor,
      variables: { i: { calendarId: env.calendarId, startsAt: slotTime(slot).toISOString(), contact: { name: `Lead ${n}`, email: `lead${n}@example.com` } } },
      done: (data) => (bookings.set(data.bookAppointment.id, { slot, status: 'BOOKED', busy: false }), counts.booked++),
      refused: () => void taken[slot]--,
      lost: () => void counts.unanswered++,
    };
  };
  const change = (op: 'rescheduleAppointment' | 'cancelAppointment', actor: Actor): PlannedRequest | undefined => {
    const idle = [...bookings].filter(([, b]) => b.status === 'BOOKED' && !b.busy);
    if (!idle.length) return book(actor);
    const [id, b] = pick(idle);
    const to = op === 'rescheduleAppointment' ? reserve() : undefined;
    if (op === 'rescheduleAppointment' && to === undefined) return undefined;
    b.busy = true;
    const settle = (move: boolean) => {
      b.busy = false;
      if (!move) return void (to !== undefined && taken[to]--);
      taken[b.slot]--;
      if (to === undefined) return void ((b.status = 'CANCELLED'), counts.cancelled++);
      b.slot = to;
      counts.rescheduled++;
    };
    const lost = () => {
      counts.unanswered++;
      b.possible = [{ slot: b.slot, status: 'BOOKED' }, to === undefined ? { slot: b.slot, status: 'CANCELLED' } : { slot: to, status: 'BOOKED' }];
    };
    const variables = to === undefined ? { id } : { i: { id, startsAt: slotTime(to).toISOString() } };
    return { op, actor, variables, done: () => settle(true), refused: () => settle(false), lost };
  };

  const next = (): PlannedRequest => {
    const op = choose(random() * 100);
    const user = pick(env.users);
    const anyone = random() < 0.25 ? env.admin : user;
    const subject = anyone.admin ? { u: user.sub } : {};
    switch (op) {
      case 'bookAppointment': return book(anyone) ?? { op: 'viewer', actor: anyone };
      case 'rescheduleAppointment': case 'cancelAppointment': return change(op, anyone) ?? { op: 'viewer', actor: anyone };
      case 'availableSlots': return { op, actor: anyone, variables: { c: env.calendarId, ...range() } };
      case 'appointments': case 'blockedTimes': return { op, actor: anyone, variables: { ...range(), ...subject } };
      case 'syncRuns': case 'syncNow': return { op, actor: user, variables: { i: user.integrationId } };
      case 'conflictWarnings': case 'calendarIntegrations': return { op, actor: user };
      default: return { op, actor: anyone };
    }
  };
  return { next, bookings, counts, slotTime };
}

/** The operation at `r` (0..100) of the mix. */
function choose(r: number): Operation {
  for (const [op, weight] of MIX) {
    if (r < weight) return op;
    r -= weight;
  }
  return MIX[MIX.length - 1][0];
}

/** Calls `fire(due)` for request i at due = start + i / rps, whatever is still waiting for an answer; resolves with the seconds it took. */
function openLoop(seconds: number, rps: number, fire: (due: number) => void): Promise<number> {
  const total = Math.round(seconds * rps);
  const start = performance.now();
  let i = 0;
  return new Promise((resolve) => {
    const tick = () => {
      const now = performance.now();
      for (; i < total && start + (i * 1000) / rps <= now; i++) fire(start + (i * 1000) / rps);
      if (i >= total) return resolve((performance.now() - start) / 1000);
      setTimeout(tick, Math.min(5, Math.max(0, start + (i * 1000) / rps - now)));
    };
    tick();
  });
}

/**
 * Runs the load against a fresh environment and stops everything at the end: opens `subscriptions`
 * subscriptions, sends `rps` mixed GraphQL requests per second for `seconds` while the phones keep changing
 * events, lets things settle with the subscriptions open, then checks deliveries and bookings. Errors are
 * counted, never thrown (a failing setup throws).
 */
export async function runLoad(options: LoadOptions): Promise<LoadFigures> {
  const log = options.log ?? (() => {});
  const random = prng(options.seed ?? 1);
  const errors = { count: 0, first: [] as string[] };
  const fail: Fail = (message) => {
    errors.count++;
    if (errors.first.length < 10) errors.first.push(message.slice(0, 400));
  };
  const env = await startLoadEnvironment(options);
  let subscriptions: Awaited<ReturnType<typeof openSubscriptions>> | undefined;
  let phoneTimer: NodeJS.Timeout | undefined;
  let sampler: NodeJS.Timeout | undefined;
  try {
    log(`set up: ${env.users.length} users with connected accounts, a round-robin calendar, server pid ${env.pid} at ${env.url}`);
    subscriptions = await openSubscriptions(env, options.subscriptions, fail);
    log(`${subscriptions.subs.length} subscriptions open on ${subscriptions.sockets} sockets`);
    const planner = requestPlanner(env, random);
    const latencies = new Map<Operation, number[]>();
    const byOperation: Record<string, number> = {};
    const inFlight = new Set<Promise<void>>();
    let answered = 0;
    let maxSendLagMs = 0;
    const fire = (due: number) => {
      const { op, actor, variables, done, refused, lost } = planner.next();
      byOperation[op] = (byOperation[op] ?? 0) + 1;
      maxSendLagMs = Math.max(maxSendLagMs, performance.now() - due);
      const p = env
        .gql(actor.token, OPERATIONS[op], variables)
        .then(({ status, body }) => {
          answered++;
          if (!latencies.has(op)) latencies.set(op, []);
          latencies.get(op)!.push(performance.now() - due);
          const error = status !== 200 ? `HTTP ${status}` : body.errors?.length ? `${body.errors[0].extensions?.code}: ${body.errors[0].message}` : undefined;
          if (!error) return done?.(body.data);
          refused?.();
          fail(`${op} as ${actor.sub} ${JSON.stringify(variables ?? {})}: ${error}`);
        })
        .catch((e: Error) => (lost?.(), fail(`${op}: ${e.message}`)))
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
    };
    phoneTimer = phoneActivity(env, random, fail);

    // Server memory every second from the first request to the end of settling; progress every 10 s.
    const warmupMs = Math.min(10, Math.max(2, options.seconds / 6)) * 1000;
    const rss = { afterWarmup: 0, peak: rssMb(env.pid) };
    const cpuBefore = { server: cpuSeconds(env.pid), self: process.cpuUsage() };
    const loadStart = Date.now();
    const started = performance.now();
    let ticks = 0;
    sampler = setInterval(() => {
      const now = rssMb(env.pid);
      const elapsed = performance.now() - started;
      rss.peak = Math.max(rss.peak, now);
      if (!rss.afterWarmup && elapsed >= warmupMs) rss.afterWarmup = now;
      if (++ticks % 10 === 0) log(`t=${Math.round(elapsed / 1000)}s sent ${Object.values(byOperation).reduce((a, b) => a + b, 0)} answered ${answered} in flight ${inFlight.size} errors ${errors.count} rss ${now} MB`);
    }, 1000);
    const sendSeconds = await openLoop(options.seconds, options.rps, fire);
    // Every request ends: answered, failed, or destroyed ANSWER_TIMEOUT_MS after it was sent.
    await Promise.all([...inFlight]);
    const loadEnd = Date.now();
    clearInterval(phoneTimer);
    const busySeconds = (performance.now() - started) / 1000;
    const serverCpu = ((cpuSeconds(env.pid) - cpuBefore.server) / busySeconds) * 100;
    const selfCpu = process.cpuUsage(cpuBefore.self);
    rss.afterWarmup ||= rssMb(env.pid);
    log(`requests sent in ${sendSeconds.toFixed(1)} s, answered after ${busySeconds.toFixed(1)} s; settling ${options.settleSeconds ?? 5} s`);

    // Settle with the subscriptions still open, then count what arrived and check the bookings.
    await sleep((options.settleSeconds ?? 5) * 1000);
    clearInterval(sampler);
    const rssEnd = rssMb(env.pid);
    const runs = env.server.logs().filter((l) => l.msg === 'sync run finished' && Number(l.time) >= loadStart && Number(l.time) <= loadEnd);
    const openAtEnd = subscriptions.subs.filter((s) => s.open).length;
    const sent = Object.values(byOperation).reduce((a, b) => a + b, 0);
    return {
      seconds: Math.round(sendSeconds * 10) / 10,
      targetRps: options.rps,
      achievedRps: Math.round((sent / sendSeconds) * 10) / 10,
      requests: { sent, answered, byOperation },
      errors,
      latency: { overall: percentiles([...latencies.values()].flat()), byOperation: Object.fromEntries([...latencies].map(([op, v]) => [op, percentiles(v)])) },
      maxSendLagMs: Math.round(maxSendLagMs),
      subscriptions: { opened: subscriptions.subs.length, openAtEnd, events: subscriptions.events(), syncResultEvents: subscriptions.subs.reduce((n, s) => n + s.runs.size, 0), sockets: subscriptions.sockets },
      syncRuns: { finished: runs.length, missedDeliveries: missedDeliveries(env, runs, subscriptions.subs) },
      bookings: await checkBookings(env, planner),
      server: { rssAfterWarmupMb: rss.afterWarmup, rssPeakMb: Math.max(rss.peak, rssEnd), rssEndMb: rssEnd, cpuPercent: Math.round(serverCpu) },
      loadGeneratorCpuPercent: Math.round(((selfCpu.user + selfCpu.system) / 1e6 / busySeconds) * 100),
    };
  } finally {
    clearInterval(phoneTimer);
    clearInterval(sampler);
    await subscriptions?.close();
    await env.stop();
  }
}

/** Every second, one user's phone adds an event (06:00-07:00 UTC, outside open hours) or deletes one, so that syncs have work. */
function phoneActivity(env: LoadEnvironment, random: () => number, fail: Fail): NodeJS.Timeout {
  const made: { phone: Phone; url: string }[] = [];
  let busy = false;
  return setInterval(() => {
    if (busy) return;
    busy = true;
    const phone = env.phones[Math.floor(random() * env.phones.length)];
    const day = env.day0 + (1 + (made.length % 10)) * DAY;
    const change =
      made.length > 5 && random() < 0.3
        ? (({ phone: owner, url }) => owner.delete(url))(made.splice(Math.floor(random() * made.length), 1)[0])
        : phone.put('work', vevent(`phone-${randomBytes(6).toString('hex')}`, new Date(day + 6 * 3600000).toISOString(), new Date(day + 7 * 3600000).toISOString(), 'Call')).then((url) => void made.push({ phone, url }));
    change.catch((e: Error) => fail(`phone: ${e.message}`)).finally(() => (busy = false));
  }, 1000);
}

/** (syncResults subscription, run) pairs where the subscriber may see the run and asked for it, but did not get it. */
function missedDeliveries(env: LoadEnvironment, runs: Record<string, unknown>[], subs: Subscriber[]): number {
  const owner = new Map(env.users.map((u) => [u.integrationId!, u.sub]));
  let missed = 0;
  for (const run of runs) {
    const integrationId = String(run.integrationId);
    for (const s of subs) {
      const wanted = s.field === 'syncResults' && (s.actor.admin || s.actor.sub === owner.get(integrationId)) && (!s.integrationId || s.integrationId === integrationId);
      if (wanted && !s.runs.has(String(run.runId))) missed++;
    }
  }
  return missed;
}

/**
 * Reads every user's appointments as the admin: each live booking at its last slot, each cancelled one
 * cancelled or gone, one touched by a mutation without an answer in one of the states it may be in.
 */
async function checkBookings(env: LoadEnvironment, planner: ReturnType<typeof requestPlanner>): Promise<LoadFigures['bookings']> {
  const seen = new Map<string, { startsAt: string; status: string; syncState: string }>();
  const window = { f: new Date(env.day0).toISOString(), t: new Date(env.day0 + (BOOKING_DAYS + 2) * DAY).toISOString() };
  for (const u of env.users) for (const a of (await env.must(env.admin.token, OPERATIONS.appointments, { ...window, u: u.sub })).appointments) seen.set(a.id, a);
  const problems: string[] = [];
  const syncStates: Record<string, number> = {};
  let live = 0;
  let visible = 0;
  for (const [id, b] of planner.bookings) {
    const found = seen.get(id);
    const shows = (p: { slot: number; status: string }) =>
      p.status === 'CANCELLED' ? !found || found.status === 'CANCELLED' : found?.status === 'BOOKED' && new Date(found.startsAt).getTime() === planner.slotTime(p.slot).getTime();
    const possible = b.possible ?? [{ slot: b.slot, status: b.status }];
    if (!possible.some(shows)) {
      const expected = possible.map((p) => `${p.status} at ${planner.slotTime(p.slot).toISOString()}`).join(' or ');
      problems.push(`${id} should be ${expected} but shows ${found ? `${found.status} at ${found.startsAt}` : 'nowhere'}`);
    }
    if (b.possible || b.status === 'CANCELLED') continue;
    live++;
    if (shows(b)) visible++;
    if (found) syncStates[found.syncState] = (syncStates[found.syncState] ?? 0) + 1;
  }
  return { ...planner.counts, live, visibleAfterwards: visible, problems: problems.slice(0, 10), syncStates };
}

/**
 * POSTs a GraphQL operation over a kept-alive connection; resolves with the status and the parsed body.
 * Rejects when there is no whole answer ANSWER_TIMEOUT_MS after the call (a liveness bound, not a performance target).
 */
function post(agent: Agent, url: string, token: string, payload: unknown): Promise<GqlAnswer> {
  const body = JSON.stringify(payload);
  return new Promise((resolve, reject) => {
    const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${token}` };
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${ANSWER_TIMEOUT_MS / 1000} s`)), ANSWER_TIMEOUT_MS);
    const req = request(url, { method: 'POST', agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
        } catch {
          resolve({ status: res.statusCode ?? 0, body: { errors: [{ message: `not JSON: ${text.slice(0, 200)}` }] } });
        }
      });
    });
    req.on('error', reject);
    req.on('close', () => clearTimeout(timer));
    req.end(body);
  });
}
