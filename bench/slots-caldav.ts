import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDAVClient } from 'tsdav';
import { computeAvailability, type Block } from '../src/availability/availability.engine';
import { candidateSlots } from '../src/availability/slots';
import { signToken } from '../src/auth/jwt';
import { CrmCalendarType, MemberPriority, RoundRobinMode, type OpenHours } from '../src/entities/crm-calendar.entity';
import { parseCalendarObject, type ParsedEvent } from '../src/sync/ical/calendar-object';
import { calendarObjects, DAY_MS } from '../dev/calendar-data';
import { postJson } from '../dev/http';
import { lightClient, type LightClientJob } from '../dev/light-client';
import { freePort } from '../dev/ports';
import { launchHttpDaemon } from '../dev/process';
import { startRadicale, type RadicaleServer } from '../dev/radicale';
import { startServerProcess, type ServerProcess } from '../dev/server-process';
import { cpuSeconds } from '../dev/load';
import { lessIsBetter, runAsMain, type BenchResult } from './results';

/**
 * `node scripts/build-if-stale.mjs && node dist/bench/slots-caldav.js`: availableSlots for 30 days from the
 * server as `npm start` runs it (its own process, SQLite, over HTTP with keep-alive connections), its iCloud
 * busy time imported over CalDAV from a real Radicale, against the way a popular open-source scheduler does it
 * for Apple calendars: on every request a time-range REPORT to each conflict calendar through tsdav's
 * fetchCalendarObjects (the calendars queried in parallel), expansion with ical.js (`parseCalendarObject`),
 * then the same slot rule (`candidateSlots` + `computeAvailability`).
 *
 * Data (deterministic, `dev/calendar-data.ts`): SLOTS_CALDAV_MEMBERS (5) members x 2 calendars x
 * SLOTS_CALDAV_EVENTS (2,000) objects, and SLOTS_CALDAV_LARGE_MEMBERS (25) x 2 x SLOTS_CALDAV_LARGE_EVENTS
 * (500): Europe/Berlin with VTIMEZONE, one in five a weekly series with an EXDATE and moved occurrences,
 * starting over three years back to one year ahead (a long-time iCloud user; most of it is history), "Work"
 * on weekdays 08:00-18:00, "Home" any day 07:00-22:00. Written on disk (`createCollectionOnDisk`), then
 * indexed by SLOTS_CALDAV_RADICALES (2) more Radicale processes on the same storage before anything is timed
 * (items parsed and cached, sync-collection state built, as iCloud has both ready): the server talks to the
 * first Radicale, the peer to the others (spread over them), all reading that cache. Each member connects with
 * connectICloud, checks both calendars for conflicts and imports with syncNow; an admin creates a ROUND_ROBIN, a
 * COLLECTIVE and a SERVICE calendar of each team (Europe/Berlin, Monday to Friday 09:00-17:00, 30-minute slots,
 * members HIGH, MEDIUM, LOW priority in turn).
 *
 * For each calendar: ours and the peer must give the same slots (start and the set of available members) in
 * SLOTS_CALDAV_WINDOWS (6) consecutive 30-day windows from tomorrow, or the run fails naming the first
 * difference and the events around it. Then SLOTS_CALDAV_ROUNDS (1,000) sequential availableSlots of the next 30
 * days after 20 untimed: p50, p99 and the server's CPU per request (a p99 of 200 requests was their second
 * slowest, which one full GC decided). Every timed request is sent by a light client in a thread of its own
 * (`dev/light-client.ts`: this process's heap and collections are not the server's latency); the peer's time
 * is one request per window (the REPORTs and the expansion, shared by the three calendars of a team, plus each
 * calendar's slot rule). Then throughput:
 * SLOTS_CALDAV_CLIENTS (20) concurrent clients for SLOTS_CALDAV_SECONDS (10) on the first round-robin calendar:
 * first as closed loops (each sends its next request when the last is answered: the most the server sustains; the
 * mean latency there is CLIENTS / throughput), then at SLOTS_CALDAV_RATE (300) requests per second between them,
 * each client on a schedule, latencies counted from when a request was due (the p99 the target names).
 * SLOTS_CALDAV_NODE_ARGS adds Node flags to the server. SLOTS_CALDAV_CPU_PROF=1 runs the server with --cpu-prof (into /tmp/slots-prof)
 * and prints where its main thread's CPU went during the sequential requests, per request: by case and stage,
 * then by file, by function and the server's own functions inclusive, from the samples taken in those phases.
 */
const TEAMS = [
  { key: 'a', members: Number(process.env.SLOTS_CALDAV_MEMBERS ?? 5), events: Number(process.env.SLOTS_CALDAV_EVENTS ?? 2000) },
  { key: 'b', members: Number(process.env.SLOTS_CALDAV_LARGE_MEMBERS ?? 25), events: Number(process.env.SLOTS_CALDAV_LARGE_EVENTS ?? 500) },
].filter((t) => t.members > 0);
const WINDOWS = Number(process.env.SLOTS_CALDAV_WINDOWS ?? 6);
const ROUNDS = Number(process.env.SLOTS_CALDAV_ROUNDS ?? 1000);
const CLIENTS = Number(process.env.SLOTS_CALDAV_CLIENTS ?? 20);
const SECONDS = Number(process.env.SLOTS_CALDAV_SECONDS ?? 10);
const RATE = Number(process.env.SLOTS_CALDAV_RATE ?? 300);
const RADICALES = Math.max(1, Number(process.env.SLOTS_CALDAV_RADICALES ?? 2));
const CPU_PROF = process.env.SLOTS_CALDAV_CPU_PROF === '1';
/** More Node flags for the server (e.g. `--heap-growing-percent=0` for V8's own heap growth, `--trace-gc`). */
const NODE_ARGS = (process.env.SLOTS_CALDAV_NODE_ARGS ?? '').split(' ').filter(Boolean);
const HISTORY_DAYS = 1095;
const TYPES = [CrmCalendarType.ROUND_ROBIN, CrmCalendarType.COLLECTIVE, CrmCalendarType.SERVICE];
const PRIORITIES = [MemberPriority.HIGH, MemberPriority.MEDIUM, MemberPriority.LOW];
const PEER_NAME = 'tsdav time-range REPORT per calendar + ical.js expansion per request';
const TARGET = { p50: 5, p99: 15, ratio: 100, rps: 300, loadP99: 50 };

interface Member {
  sub: string;
  appleId: string;
  password: string;
  /** Calendar URLs on Radicale (work, home), and the objects written there by file name. */
  calendars: { name: string; url: string; objects: Record<string, string> }[];
}

interface Team {
  key: string;
  events: number;
  members: Member[];
}

/** A calendar as the server stored it (read back from createCrmCalendar): all the peer's slot rule needs. */
interface Rules {
  id: string;
  type: CrmCalendarType;
  timezone: string;
  openHours: OpenHours[];
  slotDurationMinutes: number;
  slotIntervalMinutes: number;
  bufferBeforeMinutes: number;
  bufferAfterMinutes: number;
  seatsPerSlot: number;
  roundRobinMode: RoundRobinMode;
  minNoticeMinutes: number;
  bookingWindowDays: number;
  teamMembers: { userId: string; priority: MemberPriority }[];
}

/** One slot for comparison: its start and the set of free members (CRM ids, sorted). */
interface Compared {
  startsAt: string;
  ids: string[];
}

const percentile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
const ms = (n: number) => `${n.toFixed(1)} ms`;
const micros = () => Number(process.hrtime.bigint() / 1000n);

/**
 * More Radicale processes on the storage of `main` (started by `startRadicale`), each on a port of its own: Radicale parses items on one core (about 6 ms per Apple-style object, most of
 * it comparing VTIMEZONEs), and processes share its item cache on disk. They index the data in parallel and
 * answer the peer; the server talks to `main`, which then reads the cache.
 */
async function moreRadicales(main: RadicaleServer, n: number): Promise<{ urls: string[]; stop(): Promise<void> }> {
  const hosts = `hosts = 127.0.0.1:${new URL(main.url).port}\n`;
  const dir = main.dir;
  const config = readFileSync(join(dir, 'config'), 'utf8');
  const started: { url: string; stop(): Promise<void> }[] = [];
  const stop = async () => void (await Promise.all(started.map((s) => s.stop())));
  try {
    for (let i = 0; i < n; i++) {
      const own = mkdtempSync(join(tmpdir(), 'radicale-more-'));
      const port = await freePort();
      writeFileSync(join(own, 'config'), config.replace(hosts, `hosts = 127.0.0.1:${port}\n`));
      started.push(await launchHttpDaemon('Radicale', 'radicale', '/usr/bin/radicale', ['-C', join(own, 'config')], `http://127.0.0.1:${port}`, own));
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { urls: started.map((s) => s.url), stop };
}

/** Runs `tasks` with `workers` workers; `task(item, worker)` gets the worker's index. */
async function pool<T>(items: T[], workers: number, task: (item: T, worker: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(workers, items.length) }, async (_, w) => {
    while (next < items.length) await task(items[next++], w);
  }));
}

/** Makes Radicale parse and cache every item of a collection and build its sync-collection state, as iCloud has both ready. */
async function index(baseUrl: string, member: Member, path: string): Promise<void> {
  const headers = { authorization: 'Basic ' + Buffer.from(`${member.appleId}:${member.password}`).toString('base64'), depth: '1', 'content-type': 'application/xml; charset=utf-8' };
  const bodies = [
    '<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"/></C:comp-filter></C:filter></C:calendar-query>',
    '<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:"><D:sync-token/><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>',
  ];
  for (const body of bodies) {
    const res = await fetch(baseUrl + path, { method: 'REPORT', headers, body });
    const text = await res.text();
    if (res.status !== 207) throw new Error(`indexing ${path} failed: ${res.status} ${text.slice(0, 300)}`);
  }
}

/** POSTs to the server over keep-alive connections for the set-up and the comparison (the timed loops run in `lightClient`). */
function client(url: string, agent: Agent) {
  const post = async (token: string, body: string) => (await postJson(agent, url, token, body)).text;
  const gql = async <T = any>(token: string, query: string, variables: Record<string, unknown> = {}): Promise<T> => {
    const answer = JSON.parse(await post(token, JSON.stringify({ query, variables })));
    if (answer.errors?.length) throw new Error('GraphQL errors: ' + JSON.stringify(answer.errors));
    return answer.data as T;
  };
  return { post, gql };
}

const SLOTS_QUERY = 'query($c: ID!, $f: DateTimeISO!, $t: DateTimeISO!) { availableSlots(calendarId: $c, from: $f, to: $t) { startsAt endsAt startsAtLocal availableUserIds seatsLeft } }';
const slotsBody = (calendarId: string, from: Date, to: Date) => JSON.stringify({ query: SLOTS_QUERY, variables: { c: calendarId, f: from.toISOString(), t: to.toISOString() } });

function oursCompared(text: string): Compared[] {
  const answer = JSON.parse(text);
  if (!answer.data?.availableSlots) throw new Error(`availableSlots failed: ${text.slice(0, 300)}`);
  return (answer.data.availableSlots as { startsAt: string; availableUserIds: string[] }[]).map((s) => ({ startsAt: new Date(s.startsAt).toISOString(), ids: [...s.availableUserIds].sort() }));
}

/** The peer's busy time of a team for [from, to): every conflict calendar asked in parallel, each object expanded. */
async function peerBusy(team: Team, davs: Map<string, Awaited<ReturnType<typeof createDAVClient>>>, radicaleUrls: string[], from: Date, to: Date) {
  const busy = new Map<string, { block: Block; event: ParsedEvent; url: string }[]>(team.members.map((m) => [m.sub, []]));
  let n = 0;
  await Promise.all(
    team.members.flatMap((m) =>
      m.calendars.map(async (c) => {
        // Spread over the Radicale processes (iCloud answers calendars in parallel; one Radicale process uses one core).
        const url = radicaleUrls[n++ % radicaleUrls.length] + c.url;
        const objects = await davs.get(m.sub)!.fetchCalendarObjects({ calendar: { url }, timeRange: { start: from.toISOString(), end: to.toISOString() } });
        for (const o of objects) {
          for (const event of parseCalendarObject(o.data, { timezone: 'Europe/Berlin', accountAddresses: [], window: { start: from, end: to } })) {
            for (const b of event.busy) busy.get(m.sub)!.push({ block: { start: b.start, end: b.end }, event, url: o.url });
          }
        }
      }),
    ),
  );
  return busy;
}

/** The same slot rule as the server's: open-hour candidates within notice and booking window, then who is free. */
function peerSlots(rules: Rules, busy: Map<string, { block: Block }[]>, from: Date, to: Date, now: Date): Compared[] {
  const earliest = new Date(Math.max(from.getTime(), now.getTime() + rules.minNoticeMinutes * 60000));
  const latest = new Date(Math.min(to.getTime(), now.getTime() + rules.bookingWindowDays * DAY_MS));
  if (earliest >= latest) return [];
  const slots = candidateSlots(rules, earliest, latest);
  const blocks = new Map([...busy].map(([sub, list]) => [sub, list.map((b) => b.block)]));
  const members = rules.teamMembers.map((m) => ({ userId: m.userId, priority: m.priority, recentCount: 0 }));
  return computeAvailability({ calendar: rules, members, slots, blocks, seatsTaken: new Map() })
    .filter((s) => s.assignTo.length > 0)
    .map((s) => ({ startsAt: s.start.toISOString(), ids: [...s.availableUserIds].sort() }));
}

/** The first slot where the two differ, or null when they are equal. */
function firstDifference(ours: Compared[], peer: Compared[]): { startsAt: string; ours: string[] | null; peer: string[] | null } | null {
  const o = new Map(ours.map((s) => [s.startsAt, s.ids]));
  const p = new Map(peer.map((s) => [s.startsAt, s.ids]));
  const starts = [...new Set([...o.keys(), ...p.keys()])].sort();
  for (const startsAt of starts) {
    const a = o.get(startsAt) ?? null;
    const b = p.get(startsAt) ?? null;
    if (JSON.stringify(a) !== JSON.stringify(b)) return { startsAt, ours: a, peer: b };
  }
  return null;
}

/** What `job` measured in a light client, latencies sorted, and the share of a core the server `pid` used meanwhile. */
async function underLoad(pid: number, job: LightClientJob): Promise<{ latencies: number[]; seconds: number; serverCpu: number }> {
  const cpu0 = cpuMsOf(pid);
  const t0 = performance.now();
  const { latencies, seconds } = await lightClient(job);
  return { latencies: latencies.sort((a, b) => a - b), seconds, serverCpu: (cpuMsOf(pid) - cpu0) / (performance.now() - t0) };
}

/** CPU time (user + system) of a process so far, in ms. */
const cpuMsOf = (pid: number) => cpuSeconds(pid) * 1000;

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

type Frame = CpuProfile['nodes'][number]['callFrame'];

/**
 * What a sample was doing for the request, from its stack (leaf first): the first stage whose test matches
 * one of its frames, in this order.
 */
const STAGES: [string, (f: Frame) => boolean][] = [
  ['garbage collection', (f) => f.functionName === '(garbage collector)'],
  ['SQL (libsql, knex, plain rows)', (f) => /node_modules\/(libsql|@libsql|knex|tarn)\/|\/dist\/src\/services\/plain-rows\.js/.test(f.url)],
  ['JSON.stringify of the answer (Apollo)', (f) => f.functionName === 'prettyJSONStringify'],
  ['socket writes', (f) => ['writev', 'writeString', 'writeBuffer', 'writeUtf8String', 'writeLatin1String'].includes(f.functionName) || /node:(_http_outgoing|net|internal\/stream_base_commons)/.test(f.url)],
  ['candidateSlots', (f) => f.functionName === 'candidateSlots'],
  ['computeAvailability', (f) => f.url.includes('/dist/src/availability/availability.engine.js')],
  ['busy-time index', (f) => f.url.includes('busy-time-index.service.js')],
  ['slots to API (formatLocal, ids)', (f) => f.url.includes('/dist/src/availability/zoned-time.js') || (f.functionName === 'availableSlots' && f.url.includes('availability.service.js'))],
  ['GraphQL execution and scalars', (f) => f.functionName.startsWith('Query__') || /ResolverHandler$/.test(f.functionName) || /node_modules\/(graphql|graphql-jit|type-graphql|graphql-scalars|class-validator)\//.test(f.url) || f.url.includes('/dist/src/schema.js')],
  ['Apollo request pipeline', (f) => f.url.includes('node_modules/@apollo/')],
  ['HTTP, auth and context', (f) => /node:_http|node_modules\/(express|body-parser|raw-body|jsonwebtoken|pino)/.test(f.url) || /\/dist\/src\/(graphql-http|server|context|auth)/.test(f.url)],
  ['MikroORM fork', (f) => f.url.includes('@mikro-orm')],
];

/** Self time of the server's main thread inside `phases` (µs of the monotonic clock), per request: top functions and files. */
function profileReport(dir: string, pid: number, phases: { name: string; from: number; to: number; requests: number }[]): string[] {
  const file = readdirSync(dir).find((f) => f.includes(`.${pid}.0.`) && f.endsWith('.cpuprofile'));
  if (!file) return [`  no profile of process ${pid} in ${dir}`];
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const inclusive = new Map<string, number>();
  const requests = phases.reduce((n, p) => n + p.requests, 0);
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  const perPhase = phases.map(() => ({ total: 0, byFile: new Map<string, number>(), byStage: new Map<string, number>() }));
  const add = (map: Map<string, number>, key: string, us: number) => map.set(key, (map.get(key) ?? 0) + us);
  const fileOf = (url: string) => {
    const path = url.replace(/^file:\/\//, '');
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
    if (pkg) return `node_modules/${pkg[1]}`;
    if (path.startsWith('node:')) return path;
    const own = /dist\/(.*)$/.exec(path);
    return own ? own[1] : path;
  };
  let t = profile.startTime;
  let total = 0;
  let sampled = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i];
    const us = profile.timeDeltas[i + 1] ?? 0;
    const phase = phases.findIndex((p) => t >= p.from && t < p.to);
    if (phase < 0) continue;
    sampled += us;
    const frame = byId.get(profile.samples[i])!.callFrame;
    if (frame.functionName === '(idle)') continue;
    total += us;
    // Frames without a script: V8's own ((garbage collector), (program)), code graphql-jit compiled, native functions.
    const where = frame.url ? fileOf(frame.url) : frame.functionName.startsWith('(') ? frame.functionName : frame.functionName.startsWith('Query__') ? '(code graphql-jit compiled)' : '(native code)';
    add(byFunction, `${frame.functionName || '(anonymous)'} ${where}${frame.url ? `:${frame.lineNumber + 1}` : ''}`, us);
    add(byFile, where, us);
    perPhase[phase].total += us;
    add(perPhase[phase].byFile, where, us);
    const stack: Frame[] = [];
    for (let id: number | undefined = profile.samples[i]; id !== undefined; id = parent.get(id)) stack.push(byId.get(id)!.callFrame);
    add(perPhase[phase].byStage, STAGES.find(([, test]) => stack.some(test))?.[0] ?? 'other', us);
    // Inclusive time of the server's own functions: each once per sample, wherever it is on the stack.
    const seen = new Set<string>();
    for (let id: number | undefined = profile.samples[i]; id !== undefined; id = parent.get(id)) {
      const f = byId.get(id)!.callFrame;
      if (!f.url.includes('/dist/src/')) continue;
      const key = `${f.functionName || '(anonymous)'} ${fileOf(f.url)}:${f.lineNumber + 1}`;
      if (!seen.has(key)) add(inclusive, key, us), seen.add(key);
    }
  }
  const top = (map: Map<string, number>, n: number) =>
    [...map].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, us]) => `    ${(us / 1000 / requests).toFixed(3).padStart(7)} ms  ${((us / total) * 100).toFixed(1).padStart(5)}%  ${k}`);
  const perCase = phases.map((p, n) => {
    const files = [...perPhase[n].byFile].sort((a, b) => b[1] - a[1]).slice(0, 6);
    const stages = [...perPhase[n].byStage].sort((a, b) => b[1] - a[1]);
    return (
      `    ${p.name}: ${(perPhase[n].total / 1000 / p.requests).toFixed(2)} ms\n      by stage: ${stages.map(([k, us]) => `${k} ${(us / 1000 / p.requests).toFixed(2)}`).join(', ')}` +
      `\n      top files: ${files.map(([k, us]) => `${k} ${(us / 1000 / p.requests).toFixed(2)}`).join(', ')}`
    );
  });
  return [
    '  server main-thread CPU per request by case (ms; each sample counted once, in the first stage its stack matches):',
    ...perCase,
    `  server CPU profile (${file}): ${(total / 1000 / requests).toFixed(2)} ms of main-thread CPU per request over ${requests} sequential requests ` +
      `(samples cover ${(sampled / 1000).toFixed(0)} of the phases' ${(phases.reduce((n, p) => n + p.to - p.from, 0) / 1000).toFixed(0)} ms; idle left out)`,
    '  by file or package (self time per request):',
    ...top(byFile, 15),
    '  by function (self time per request):',
    ...top(byFunction, 25),
    "  the server's own functions (src/), inclusive time per request:",
    ...top(inclusive, 20),
  ];
}

/** Runs the benchmark (see the top of this file); prints its figures and returns them. */
export async function benchSlotsCaldav(): Promise<BenchResult[]> {
  const started = performance.now();
  const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
  const secret = randomBytes(24).toString('hex');
  const dataDir = mkdtempSync(join(tmpdir(), 'slots-caldav-'));
  const profDir = '/tmp/slots-prof';
  const agent = new Agent({ keepAlive: true, maxSockets: Math.max(CLIENTS, 4), timeout: 4000 });
  const radicale = await startRadicale();
  let more: { urls: string[]; stop(): Promise<void> } | undefined;
  let server: ServerProcess | undefined;
  const results: BenchResult[] = [];
  try {
    more = await moreRadicales(radicale, RADICALES);
    const radicaleUrls = more.urls;

    // The data, written on disk, then indexed by every Radicale process in parallel.
    const teams: Team[] = TEAMS.map((t) => ({
      key: t.key,
      events: t.events,
      members: Array.from({ length: t.members }, (_, i) => {
        const sub = `${t.key}-member-${i + 1}`;
        const appleId = `${sub}@icloud.example`;
        // The form of an app-specific password (abcd-efgh-ijkl-mnop).
        const password = Array.from({ length: 4 }, (_, g) => Array.from({ length: 4 }, (_, c) => String.fromCharCode(97 + ((i * 7 + g * 5 + c * 3 + t.key.charCodeAt(0)) % 26))).join('')).join('-');
        radicale.addUser(appleId, password);
        const calendars = [
          { slug: 'work', name: 'Work', options: { weekdaysOnly: true, firstMinute: 8 * 60, lastMinute: 17 * 60 + 45 } },
          { slug: 'home', name: 'Home', options: { firstMinute: 7 * 60, lastMinute: 21 * 60 } },
        ].map((c, k) => {
          const objects = calendarObjects({ count: t.events, seed: (t.key.charCodeAt(0) * 1000 + i) * 2 + k, name: `${sub}-${c.slug}`, today, firstDay: -HISTORY_DAYS, lastDay: 364, ...c.options });
          return { name: c.name, url: radicale.createCollectionOnDisk(appleId, c.slug, { name: c.name, components: ['VEVENT'] }, objects), objects };
        });
        return { sub, appleId, password, calendars };
      }),
    }));
    const collections = teams.flatMap((t) => t.members.flatMap((m) => m.calendars.map((c) => ({ member: m, path: c.url }))));
    const objectCount = teams.reduce((n, t) => n + t.members.length * 2 * t.events, 0);
    let t0 = performance.now();
    await pool(collections, radicaleUrls.length, ({ member, path }, w) => index(radicaleUrls[w], member, path));
    const indexSeconds = (performance.now() - t0) / 1000;

    // The server as `npm start` runs it; each member connects and imports.
    if (CPU_PROF) mkdirSync(profDir, { recursive: true });
    server = await startServerProcess(
      { DATA_DIR: dataDir, AUTH_JWT_SECRET: secret, ICLOUD_CALDAV_URL: radicale.url, SYNC_CRON: '', SYNC_NOW_MIN_INTERVAL_SECONDS: '0', CALDAV_TIMEOUT_MS: '30000', CONNECT_THROTTLE_LIMIT: '1000', CONNECT_THROTTLE_APPLE_ID_LIMIT: '1000' },
      [...(CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []), ...NODE_ARGS],
    );
    const url = server.url.replace('//localhost:', '//127.0.0.1:');
    const { post, gql } = client(url, agent);
    const tokenOf = (sub: string, role: 'user' | 'admin' = 'user') => signToken({ sub, tenantId: 'tenant-a', role, timezone: 'Europe/Berlin' }, secret);
    t0 = performance.now();
    let imported = 0;
    await pool(teams.flatMap((t) => t.members), 2, async (m) => {
      const token = tokenOf(m.sub);
      const { connectICloud } = await gql(token, 'mutation($input: ConnectICloudInput!) { connectICloud(input: $input) { id calendars { id name } } }', { input: { appleId: m.appleId, appSpecificPassword: m.password } });
      const ids = (connectICloud.calendars as { id: string; name: string }[]).filter((c) => c.name === 'Work' || c.name === 'Home').map((c) => c.id);
      if (ids.length !== 2) throw new Error(`${m.sub} connected with calendars ${JSON.stringify(connectICloud.calendars)}`);
      await gql(token, 'mutation($ids: [ID!]!) { setConflictCalendars(input: {calendarIds: $ids}) { id } }', { ids });
      const { syncNow } = await gql(token, 'mutation($id: ID!) { syncNow(integrationId: $id) { outcome created error warnings } }', { id: connectICloud.id });
      if (syncNow.outcome !== 'SUCCESS') throw new Error(`the import of ${m.sub} ended ${JSON.stringify(syncNow).slice(0, 500)}`);
      imported += syncNow.created;
    });
    const importSeconds = (performance.now() - t0) / 1000;

    // The CRM calendars, read back as the server stored them.
    const admin = tokenOf('boss', 'admin');
    const cases: { team: Team; rules: Rules }[] = [];
    for (const team of teams) {
      for (const type of TYPES) {
        const { createCrmCalendar } = await gql(
          admin,
          `mutation($i: CreateCrmCalendarInput!) { createCrmCalendar(input: $i) { id type timezone openHours { weekday start end } slotDurationMinutes slotIntervalMinutes
            bufferBeforeMinutes bufferAfterMinutes seatsPerSlot roundRobinMode minNoticeMinutes bookingWindowDays teamMembers { userId priority } } }`,
          {
            i: {
              name: `${type} ${team.key}`, type, timezone: 'Europe/Berlin', slotDurationMinutes: 30, bookingWindowDays: WINDOWS * 30 + 10,
              roundRobinMode: type === CrmCalendarType.ROUND_ROBIN ? RoundRobinMode.EQUAL_DISTRIBUTION : RoundRobinMode.OPTIMIZE_FOR_AVAILABILITY,
              openHours: [1, 2, 3, 4, 5].map((weekday) => ({ weekday, start: '09:00', end: '17:00' })),
              teamMembers: team.members.map((m, i) => ({ userId: m.sub, priority: PRIORITIES[i % 3], isPrimary: type === CrmCalendarType.COLLECTIVE && i === 0 })),
            },
          },
        );
        cases.push({ team, rules: createCrmCalendar as Rules });
      }
    }
    const setupSeconds = (performance.now() - started) / 1000;
    console.log(
      `availableSlots over CalDAV-imported busy time: ${teams.map((t) => `${t.members.length} members x 2 calendars x ${t.events} objects`).join(' and ')} ` +
        `(${objectCount} objects, Europe/Berlin, 20% weekly series with EXDATEs and moved occurrences); Radicale (${radicaleUrls.length} processes) indexed them in ${indexSeconds.toFixed(0)} s, ` +
        `the server imported ${imported} events in ${importSeconds.toFixed(0)} s; set up in ${setupSeconds.toFixed(0)} s`,
    );

    // Ours and the peer on every window: the same slots, or the run fails.
    const windows = Array.from({ length: WINDOWS }, (_, w) => {
      const from = new Date(today + DAY_MS + w * 30 * DAY_MS);
      return { from, to: new Date(from.getTime() + 30 * DAY_MS) };
    });
    const peerMs = new Map<string, number[]>(cases.map((c) => [c.rules.id, []]));
    const slotCounts = new Map<string, number[]>(cases.map((c) => [c.rules.id, []]));
    for (const team of teams) {
      const davs = new Map<string, Awaited<ReturnType<typeof createDAVClient>>>();
      for (const m of team.members) {
        davs.set(m.sub, await createDAVClient({ serverUrl: radicale.url, credentials: { username: m.appleId, password: m.password }, authMethod: 'Basic', defaultAccountType: 'caldav' }));
      }
      for (const { from, to } of windows) {
        const t = performance.now();
        const busy = await peerBusy(team, davs, radicaleUrls, from, to);
        const fetchMs = performance.now() - t;
        for (const { rules } of cases.filter((c) => c.team === team)) {
          const now = new Date();
          const r = performance.now();
          const peer = peerSlots(rules, busy, from, to, now);
          peerMs.get(rules.id)!.push(fetchMs + performance.now() - r);
          const ours = oursCompared(await post(admin, slotsBody(rules.id, from, to)));
          slotCounts.get(rules.id)!.push(ours.length);
          const diff = firstDifference(ours, peer);
          if (diff) {
            const start = new Date(diff.startsAt);
            const end = new Date(start.getTime() + rules.slotDurationMinutes * 60000);
            const members = team.members.filter((m) => (diff.ours ?? []).includes(m.sub) !== (diff.peer ?? []).includes(m.sub));
            const lines = [`${rules.type} ${team.key}, window ${from.toISOString().slice(0, 10)}..${to.toISOString().slice(0, 10)}: ours and the peer differ at ${diff.startsAt}: ours ${JSON.stringify(diff.ours)}, peer ${JSON.stringify(diff.peer)}`];
            for (const m of members.length ? members : team.members) {
              const overlapping = busy.get(m.sub)!.filter((b) => b.block.start < end && start < b.block.end);
              lines.push(`  ${m.sub}, the peer's busy time overlapping the slot: ${overlapping.length ? '' : 'none'}`);
              for (const b of overlapping) lines.push(`    ${b.block.start.toISOString()}..${b.block.end.toISOString()} "${b.event.summary}" (${b.url})`);
              const explained = await gql(tokenOf(m.sub), 'query($c: ID!, $s: DateTimeISO!) { explainAvailability(calendarId: $c, startsAt: $s) { bookable members { userId free reasons { code startsAt endsAt title calendarName } } } }', { c: rules.id, s: diff.startsAt });
              lines.push(`  ours (explainAvailability as ${m.sub}): ${JSON.stringify(explained.explainAvailability.members.find((x: { userId: string }) => x.userId === m.sub))}`);
              const names = new Set([...overlapping.map((b) => b.event.summary), ...explained.explainAvailability.members.flatMap((x: { reasons: { title: string | null }[] }) => x.reasons.map((r) => r.title))].filter(Boolean) as string[]);
              for (const c of m.calendars) {
                for (const [file, ics] of Object.entries(c.objects)) if ([...names].some((n) => ics.includes(`SUMMARY:${n}\r\n`))) lines.push(`  ${c.url}${file}:\n${ics}`);
              }
            }
            throw new Error(lines.join('\n'));
          }
        }
      }
    }
    console.log(`  ours and the peer answered the same slots (start and free members) in each of ${WINDOWS} windows of 30 days from ${windows[0].from.toISOString().slice(0, 10)} for every calendar`);

    // Ours: sequential requests on the next 30 days.
    const phases: { name: string; from: number; to: number; requests: number }[] = [];
    const summary: { name: string; p50: number; p99: number; peer: number; ratio: number }[] = [];
    for (const { team, rules } of cases) {
      const body = slotsBody(rules.id, windows[0].from, windows[0].to);
      const cpu0 = cpuMsOf(server.pid);
      const from = micros();
      const { latencies: times, bytes } = await lightClient({ url, token: admin, body, task: { kind: 'sequential', warmup: 20, rounds: ROUNDS } });
      phases.push({ name: `${rules.type} ${team.members.length}x2x${team.events}`, from, to: micros(), requests: ROUNDS + 20 });
      const cpu = (cpuMsOf(server.pid) - cpu0) / (ROUNDS + 20);
      times.sort((a, b) => a - b);
      const peerTimes = peerMs.get(rules.id)!.sort((a, b) => a - b);
      const p50 = percentile(times, 0.5);
      const p99 = percentile(times, 0.99);
      const peer = percentile(peerTimes, 0.5);
      const name = `availableSlots over HTTP, 30 days, ${rules.type.toLowerCase().replace('_', ' ')}, ${team.members.length} members x 2 calendars x ${team.events} events`;
      const counts = slotCounts.get(rules.id)!;
      console.log(`${name}: ${counts[0]} slots in the next 30 days (${Math.min(...counts)} to ${Math.max(...counts)} over the windows), ${(bytes / 1024).toFixed(0)} KB answer`);
      console.log(`  ours (local index, HTTP)  p50 ${ms(p50).padStart(9)}  p99 ${ms(p99).padStart(9)}  server CPU ${ms(cpu)}/request  (${ROUNDS} sequential requests)`);
      console.log(`  peer (CalDAV per request) p50 ${ms(peer).padStart(9)}  max ${ms(peerTimes[peerTimes.length - 1]).padStart(9)}  (one request per window: ${peerTimes.length})`);
      console.log(`  ratio                     p50 ${(peer / p50).toFixed(0)}x`);
      summary.push({ name: `${rules.type} ${team.members.length}x2x${team.events}`, p50, p99, peer, ratio: peer / p50 });
      results.push(
        lessIsBetter(name, 'p50', 'ms', p50, peer, PEER_NAME),
        lessIsBetter(name, 'p99', 'ms', p99, null, null),
        lessIsBetter(name, 'server CPU per request', 'ms', cpu, null, null),
      );
    }

    // Throughput: concurrent clients on the first round-robin calendar, first as fast as they can (the most the
    // server sustains), then at the target rate (the latency it keeps there).
    const first = cases[0];
    const body = slotsBody(first.rules.id, windows[0].from, windows[0].to);
    const loadName = `availableSlots throughput, ${CLIENTS} concurrent clients, 30 days, round robin ${first.team.members.length} x 2 x ${first.team.events}`;
    const saturated = await underLoad(server.pid, { url, token: admin, body, task: { kind: 'closed', clients: CLIENTS, seconds: SECONDS } });
    const rps = saturated.latencies.length / saturated.seconds;
    console.log(`${loadName}, each sending its next request on the answer: ${saturated.latencies.length} requests in ${saturated.seconds.toFixed(1)} s: ${rps.toFixed(0)} requests/s, ` +
      `p50 ${ms(percentile(saturated.latencies, 0.5))}, p99 ${ms(percentile(saturated.latencies, 0.99))}; server process at ${(saturated.serverCpu * 100).toFixed(0)}% of a core`);
    const paced = await underLoad(server.pid, { url, token: admin, body, task: { kind: 'open', clients: CLIENTS, rate: RATE, seconds: SECONDS } });
    const loadP99 = percentile(paced.latencies, 0.99);
    console.log(`${loadName}, ${RATE} requests/s between them on a schedule: ${paced.latencies.length} requests in ${paced.seconds.toFixed(1)} s, ` +
      `p50 ${ms(percentile(paced.latencies, 0.5))}, p99 ${ms(loadP99)}, max ${ms(paced.latencies[paced.latencies.length - 1])}; server process at ${(paced.serverCpu * 100).toFixed(0)}% of a core`);
    results.push(
      lessIsBetter(loadName, 'requests per second', 'requests/s', rps, null, null),
      lessIsBetter(loadName, 'p99 at saturation', 'ms', percentile(saturated.latencies, 0.99), null, null),
      lessIsBetter(loadName, `p99 at ${RATE} requests/s`, 'ms', loadP99, null, null),
    );

    const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');
    console.log('targets:');
    for (const s of summary) {
      console.log(`  ${s.name.padEnd(26)} p50 <= ${TARGET.p50} ms: ${verdict(s.p50 <= TARGET.p50)} (${ms(s.p50)}) | p99 <= ${TARGET.p99} ms: ${verdict(s.p99 <= TARGET.p99)} (${ms(s.p99)}) | >= ${TARGET.ratio}x the peer: ${verdict(s.ratio >= TARGET.ratio)} (${s.ratio.toFixed(0)}x) | same slots: met`);
    }
    console.log(`  throughput >= ${TARGET.rps}/s: ${verdict(rps >= TARGET.rps)} (${rps.toFixed(0)}/s) | p99 at ${RATE}/s < ${TARGET.loadP99} ms: ${verdict(loadP99 < TARGET.loadP99)} (${ms(loadP99)})`);
    console.log(`total ${((performance.now() - started) / 1000).toFixed(0)} s`);

    if (CPU_PROF) {
      const pid = server.pid;
      await server.proc.stop();
      writeFileSync(join(profDir, `phases.${pid}.json`), JSON.stringify(phases));
      server = undefined;
      for (const line of profileReport(profDir, pid, phases)) console.log(line);
    }
    return results;
  } finally {
    agent.destroy();
    await server?.proc.stop();
    await more?.stop();
    await radicale.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

runAsMain(module, benchSlotsCaldav);
