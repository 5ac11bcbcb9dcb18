import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { fetchCalendarObjects, getBasicAuthHeaders } from 'tsdav';
import { signToken } from '../src/auth/jwt';
import { CONNECT } from '../dev/app';
import { freePort } from '../dev/ports';
import { launch } from '../dev/process';
import { startRadicale, type RadicaleServer } from '../dev/radicale';
import { startRedis, type RedisServer } from '../dev/redis';
import { startServerProcess, type ServerProcess } from '../dev/server-process';
import { lessIsBetter, type BenchResult } from './results';

/**
 * Reconciler scale: SCALE_INTEGRATIONS (1,000) iCloud integrations with two event calendars each (SCALE_EVENTS, 5,
 * events per calendar) in one real Radicale on loopback, connected through the API (`connectICloud`, then both
 * calendars checked for conflicts) by an API-only instance on PostgreSQL and Redis, while a reconciling instance
 * runs each one's first sync (the import) as it comes. Then each round makes every integration due at once
 * (`next_sync_at` set to now) and waits until the reconciler (`SYNC_CRON` every second, SYNC_CONCURRENCY
 * SCALE_CONCURRENCY (16), SYNC_PER_HOST SCALE_PER_HOST (the same: every account is on one loopback host here, where
 * iCloud spreads accounts over its partition hosts)) has synced each one once. Measured per round:
 *
 * - one instance, nothing changed: wall time until every integration was synced once, CalDAV requests per
 *   integration, the server's CPU time, its peak RSS (VmRSS of the server process, sampled every 100 ms),
 *   PostgreSQL statements (pg_stat_statements) and rows written, Redis messages, Radicale's and PostgreSQL's CPU;
 * - the same after SCALE_CHANGED_PERCENT (1) % of the calendars got one new event (written on disk);
 * - two instances on the same PostgreSQL and Redis, nothing changed and then another 1 % changed: runs per
 *   instance (the split) and each integration synced exactly once (from the runs both logged);
 * - the peer, in the same run on the same 2,000 calendars: tsdav `fetchCalendarObjects` of every calendar (the
 *   full listing an integration without sync tokens does each time), as many accounts at once as ours syncs.
 *
 * Then it extrapolates: integrations per core at a 2-minute interval; instances, PostgreSQL statements and writes
 * per second, requests per second towards iCloud and Redis messages for 100,000 and 1,000,000 accounts.
 * SCALE_PROFILE=<dir> runs the reconciling instances with `--cpu-prof` into that folder; SCALE_NODE_ARGS adds
 * other Node flags to them, SCALE_NODE_ARGS_B to instance B of the two-instance rounds only (an A/B comparison of
 * two settings under the same load). About 6 to 8 minutes at full size on 2 cores.
 *
 *     node scripts/build-if-stale.mjs && node dist/bench/reconciler-scale.js
 *     SCALE_INTEGRATIONS=50 node dist/bench/reconciler-scale.js     # a quick look
 */
const N = Number(process.env.SCALE_INTEGRATIONS ?? 1000);
const EVENTS = Number(process.env.SCALE_EVENTS ?? 5);
const CHANGED_PERCENT = Number(process.env.SCALE_CHANGED_PERCENT ?? 1);
const CONCURRENCY = Number(process.env.SCALE_CONCURRENCY ?? 16);
const PER_HOST = Number(process.env.SCALE_PER_HOST ?? CONCURRENCY);
const CONNECT_PARALLEL = Number(process.env.SCALE_CONNECT_PARALLEL ?? 12);
const PROFILE_DIR = process.env.SCALE_PROFILE;
/** More Node flags for the reconciling instances (e.g. `--trace-gc`, `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=/tmp/x`). */
const NODE_ARGS = (process.env.SCALE_NODE_ARGS ?? '').split(' ').filter(Boolean);
/**
 * More Node flags for instance B of the two-instance rounds only (after SCALE_NODE_ARGS): A and B sync the same
 * kind of work at the same time, so their CPU and RSS compare two settings under the same load of the machine.
 */
const NODE_ARGS_B = (process.env.SCALE_NODE_ARGS_B ?? '').split(' ').filter(Boolean);
const CALENDARS = ['home', 'work'] as const;
const INTERVAL_SECONDS = 120;
const DAY = 86400000;
const MARK = 'bench-scale';

const secret = 'scale-' + randomBytes(8).toString('hex');
const mb = (kb: number) => Math.round(kb / 1024);
const sec = (ms: number) => (ms / 1000).toFixed(1);
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

// ---------------------------------------------------------------------------------------------- processes

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** CPU seconds (user + system, all threads) a process has used, or 0 once it is gone. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** Asks process `pid` (started with --heapsnapshot-signal=SIGUSR2) for a heap snapshot and waits until it wrote it. */
async function snapshot(pid: number): Promise<void> {
  const dir = NODE_ARGS.find((a) => a.startsWith('--diagnostic-dir='))?.slice('--diagnostic-dir='.length) ?? process.cwd();
  const count = () => readdirSync(dir).filter((f) => f.includes(`.${pid}.`) && f.endsWith('.heapsnapshot')).length;
  const before = count();
  process.kill(pid, 'SIGUSR2');
  // The process writes the snapshot on its main thread: it answers nothing until it is done.
  while (count() === before) await new Promise((r) => setTimeout(r, 500));
  await new Promise((r) => setTimeout(r, 3000));
}

/** The resident set of a process in kB (VmRSS), or 0 once it is gone. */
function rssKb(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** Threads of a process (main, libuv, V8 platform, and one per worker thread), or 0 once it is gone. */
function threads(pid: number): number {
  try {
    return Number(/Threads:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** Pids whose parent is `ppid`. */
function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === ppid) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** The pid of the Radicale serving `url` (its config file names the port). */
function radicalePid(url: string): number {
  const port = new URL(url).port;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const args = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (!args.some((a) => a.endsWith('radicale'))) continue;
      const config = args[args.indexOf('-C') + 1];
      if (config && readFileSync(config, 'utf8').includes(`127.0.0.1:${port}`)) return Number(name);
    } catch {
      // gone, or not ours
    }
  }
  throw new Error(`no Radicale process found for ${url}`);
}

interface Pg {
  url: string;
  pid: number;
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  stop(): Promise<void>;
}

interface PgClient {
  connect(): Promise<void>;
  query(sql: string, params?: unknown[]): Promise<{ rows: any[] }>;
  end(): Promise<void>;
}

/**
 * PostgreSQL 15 as `dev/postgres.ts` starts it (temp folder, fsync off), with pg_stat_statements loaded so that
 * the statements of a round can be counted; returns the postmaster's pid (its CPU and its backends') and a client.
 */
async function startPostgresWithStatements(): Promise<Pg> {
  const BIN = '/usr/lib/postgresql/15/bin';
  if (!existsSync(`${BIN}/initdb`)) throw new Error(`PostgreSQL 15 is not installed (${BIN}/initdb): apt-get install postgresql`);
  const dir = mkdtempSync(join(tmpdir(), 'pg-scale-'));
  const root = process.getuid?.() === 0;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres']).toString().trim());
  const ids = root ? { uid: id('-u'), gid: id('-g') } : undefined;
  if (ids) chownSync(dir, ids.uid, ids.gid);
  execFileSync(`${BIN}/initdb`, ['-D', join(dir, 'data'), '-A', 'trust', '--no-sync', '--locale=C', '-U', 'postgres'], { ...ids, stdio: 'ignore' });
  const port = await freePort();
  const pg = launch(
    `${BIN}/postgres`,
    ['-D', join(dir, 'data'), '-p', String(port), '-k', dir, '-h', '127.0.0.1', '-c', 'fsync=off', '-c', 'shared_preload_libraries=pg_stat_statements', '-c', 'pg_stat_statements.max=5000'],
    ids,
  );
  const stop = async () => {
    await pg.stop('SIGINT');
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20000;
  while (!pg.output().includes('ready to accept connections')) {
    if (Date.now() > deadline || pg.child.exitCode !== null) {
      await stop();
      throw new Error(`PostgreSQL did not start:\n${pg.output()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Client } = require('pg') as { Client: new (options: { connectionString: string }) => PgClient };
  const client = new Client({ connectionString: url });
  await client.connect();
  await client.query('create extension if not exists pg_stat_statements');
  return {
    url,
    pid: pg.child.pid!,
    query: async (sql, params) => (await client.query(sql, params)).rows,
    stop: async () => {
      await client.end().catch(() => undefined);
      await stop();
    },
  };
}

// ---------------------------------------------------------------------------------------------- data

interface Account {
  index: number;
  appleId: string;
  password: string;
  /** Paths of the two calendars on Radicale, by slug. */
  paths: Record<(typeof CALENDARS)[number], string>;
  integrationId?: string;
}

function vevent(uid: string, start: number, minutes: number, summary: string): string {
  const at = (ms: number) => new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  return ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Apple Inc.//iOS 17.5//EN', 'BEGIN:VEVENT', `UID:${uid}`, 'DTSTAMP:20260101T000000Z', `DTSTART:${at(start)}`, `DTEND:${at(start + minutes * 60000)}`, `SUMMARY:${summary}`, 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n');
}

function calendarObjects(account: number, slug: string): Record<string, string> {
  const today = Math.floor(Date.now() / DAY) * DAY;
  const objects: Record<string, string> = {};
  for (let i = 0; i < EVENTS; i++) {
    const start = today + ((account * 7 + i * 3) % 60) * DAY + (8 + ((account + i) % 9)) * 3600000;
    objects[`${slug}-${i}.ics`] = vevent(`scale-${account}-${slug}-${i}@bench`, start, 30 + 15 * (i % 4), `${slug} ${i}`);
  }
  return objects;
}

const PROPS = { home: { name: 'Calendar', color: '#1BADF8FF', components: ['VEVENT'] }, work: { name: 'Work', color: '#FF2968FF', components: ['VEVENT'] } };

function createAccounts(radicale: RadicaleServer, n: number): Account[] {
  const accounts: Account[] = [];
  for (let index = 0; index < n; index++) {
    const appleId = `scale${index}-${randomBytes(3).toString('hex')}@example.com`;
    const password = Array.from({ length: 4 }, () => Array.from(randomBytes(4), (b) => String.fromCharCode(97 + (b % 26))).join('')).join('-');
    radicale.addUser(appleId, password);
    const paths = Object.fromEntries(CALENDARS.map((slug) => [slug, radicale.createCollectionOnDisk(appleId, slug, PROPS[slug], calendarObjects(index, slug))])) as Account['paths'];
    accounts.push({ index, appleId, password, paths });
  }
  return accounts;
}

/** Adds one new event to `count` calendars spread evenly over all of them (`offset` picks another set); returns how many. */
function changeCalendars(radicale: RadicaleServer, accounts: Account[], count: number, offset: number, tag: string): number {
  const total = accounts.length * CALENDARS.length;
  const step = total / count;
  const picked = new Set<number>();
  for (let i = 0; i < count; i++) picked.add((Math.floor(i * step) + offset) % total);
  for (const j of picked) {
    const account = accounts[Math.floor(j / CALENDARS.length)];
    const slug = CALENDARS[j % CALENDARS.length];
    const start = Math.floor(Date.now() / DAY) * DAY + 3 * DAY + 15 * 3600000;
    radicale.createCollectionOnDisk(account.appleId, slug, PROPS[slug], { [`${tag}-${j}.ics`]: vevent(`${tag}-${j}@bench`, start, 45, `changed ${tag}`) });
  }
  return picked.size;
}

/** Runs `work` over `items`, `parallel` at a time. */
async function pool<T>(items: T[], parallel: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, items.length) }, async () => {
      while (next < items.length) await work(items[next++]);
    }),
  );
}

// ---------------------------------------------------------------------------------------------- instances

interface RunLine {
  integrationId: string;
  runId: string;
  outcome: string;
  requests: number;
  created: number;
  time: number;
}

/** A server process with its sync runs and reconcile ticks read from its log as they come. */
interface Instance {
  name: string;
  server: ServerProcess;
  runs: RunLine[];
  /** One line per batch a tick claimed and ran: when it ended, how many it synced, how long it took (ms). */
  ticks: { time: number; synced: number; ms: number }[];
  errors: Record<string, unknown>[];
  /** Threads once started and idle: more means the iCalendar reader's worker threads are running. */
  baseThreads: number;
}

function observe(name: string, server: ServerProcess): Instance {
  const instance: Instance = { name, server, runs: [], ticks: [], errors: [], baseThreads: 0 };
  let buffer = '';
  server.proc.child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const lines = buffer.split('\n');
    buffer = lines.pop()!;
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      let entry: Record<string, any>;
      try {
        entry = JSON.parse(line);
      } catch {
        continue;
      }
      if (entry.msg === 'sync run finished') instance.runs.push({ integrationId: entry.integrationId, runId: entry.runId, outcome: entry.outcome, requests: entry.requests, created: entry.created, time: entry.time });
      else if (entry.msg === 'reconcile tick') instance.ticks.push({ time: entry.time, synced: entry.synced, ms: entry.ms });
      else if (entry.level >= 50) instance.errors.push(entry);
    }
  });
  return instance;
}

interface Stack {
  radicale: RadicaleServer;
  pg: Pg;
  redis: RedisServer;
  dataDir: string;
  credentialsKey: string;
  /** A plain client, for Redis's command counters. */
  redisClient: Redis;
  /** Messages published so far, by channel (a pattern subscription of the benchmark's own, not counted as a subscriber). */
  redisMessages: Record<string, number>;
}

/** PUBLISH commands Redis has served, and the subscribers of each channel now. */
async function redisPublishes(client: Redis): Promise<{ publishes: number; subscribers: Record<string, number> }> {
  await new Promise((r) => setTimeout(r, 100)); // the last messages reach the benchmark's pattern subscription
  const stats = await client.info('commandstats');
  const publishes = Number(/cmdstat_publish:calls=(\d+)/.exec(stats)?.[1] ?? 0);
  const channels = (await client.pubsub('CHANNELS')) as string[];
  const numsub = channels.length ? ((await client.pubsub('NUMSUB', ...channels)) as (string | number)[]) : [];
  const subscribers: Record<string, number> = {};
  for (let i = 0; i < numsub.length; i += 2) subscribers[String(numsub[i])] = Number(numsub[i + 1]);
  return { publishes, subscribers };
}

function serverEnv(stack: Stack, cron: string): Record<string, string> {
  return {
    DATABASE_URL: stack.pg.url,
    REDIS_URL: stack.redis.url,
    AUTH_JWT_SECRET: secret,
    CREDENTIALS_KEY: stack.credentialsKey,
    ICLOUD_CALDAV_URL: stack.radicale.url,
    DATA_DIR: stack.dataDir,
    SYNC_CRON: cron,
    // Nothing becomes due again during a round: each round makes every integration due at once, on purpose.
    SYNC_INTERVAL_SECONDS: '3600',
    SYNC_CONCURRENCY: String(CONCURRENCY),
    SYNC_PER_HOST: String(PER_HOST),
    SYNC_NOW_MIN_INTERVAL_SECONDS: '0',
    CALDAV_TIMEOUT_MS: '30000',
    CONNECT_THROTTLE_LIMIT: '1000',
    CONNECT_THROTTLE_APPLE_ID_LIMIT: '1000',
    GRAPHQL_IDE: 'false',
    // Routine runs are logged at debug: the benchmark counts runs per instance from these lines.
    LOG_LEVEL: 'debug',
  };
}

/**
 * Starts reconciling instances named `names` (registered in `live` as soon as each is up, so that a failure stops
 * them all); with `postpone`, nothing is due until a round makes everything due.
 */
async function startReconcilers(stack: Stack, names: string[], live: Instance[], postpone = true): Promise<Instance[]> {
  // A fresh connection is due at once: before a round, nothing is due.
  if (postpone) await stack.pg.query(`/* ${MARK} */ update calendar_integration set next_sync_at = now() + interval '1 day'`);
  const nodeArgs = [...(PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : []), ...NODE_ARGS];
  const settled = await Promise.allSettled(names.map((name) => startServerProcess(serverEnv(stack, '* * * * * *'), name === 'B' ? [...nodeArgs, ...NODE_ARGS_B] : nodeArgs).then((s) => observe(name, s))));
  const instances = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  live.push(...instances);
  const failed = settled.find((s) => s.status === 'rejected') as PromiseRejectedResult | undefined;
  if (failed) throw failed.reason;
  // Let them settle (pool connections, first idle ticks) before anything is measured.
  await new Promise((r) => setTimeout(r, 2500));
  for (const i of instances) i.baseThreads = threads(i.server.pid);
  return instances;
}

async function stopAll(instances: Instance[]): Promise<void> {
  await Promise.all(instances.map((i) => i.server.proc.stop('SIGTERM')));
}

// ---------------------------------------------------------------------------------------------- one round

interface Statements {
  total: number;
  byKind: Record<string, number>;
  rowsWritten: number;
  /** The reconciler's conditional lease UPDATEs (claimDue): tried, and won (one row updated). */
  claims: { tried: number; won: number };
  top: { calls: number; ms: number; query: string }[];
}

async function statementsSinceReset(pg: Pg): Promise<Statements> {
  const rows = await pg.query<{ query: string; calls: string; rows: string; total_exec_time: number }>(
    `select query, calls, rows, total_exec_time from pg_stat_statements where query not like '%${MARK}%' and query not like '%pg_stat_statements%'`,
  );
  const byKind: Record<string, number> = {};
  let total = 0;
  let rowsWritten = 0;
  for (const r of rows) {
    const kind = /^\s*(\w+)/.exec(r.query)?.[1]?.toLowerCase() ?? 'other';
    const k = ['select', 'insert', 'update', 'delete'].includes(kind) ? kind : ['begin', 'commit', 'rollback', 'savepoint', 'release'].includes(kind) ? 'transaction control' : 'other';
    byKind[k] = (byKind[k] ?? 0) + Number(r.calls);
    total += Number(r.calls);
    if (['insert', 'update', 'delete'].includes(k)) rowsWritten += Number(r.rows);
  }
  const claims = { tried: 0, won: 0 };
  for (const r of rows.filter((x) => /^update "calendar_integration" set "lease_owner" = \$1, "lease_until" = \$2 where "id" = \$3 and \(/.test(x.query))) {
    claims.tried += Number(r.calls);
    claims.won += Number(r.rows);
  }
  const top = rows
    .map((r) => ({ calls: Number(r.calls), ms: r.total_exec_time, query: r.query.replace(/\s+/g, ' ').slice(0, 110) }))
    .sort((a, b) => b.calls - a.calls)
    .slice(0, 16);
  return { total, byKind, rowsWritten, claims, top };
}

/** V8 heap used and total (MB) of each instance, from its /metrics (prom-client's process metrics). */
async function heaps(instances: Instance[]): Promise<{ usedMb: number; totalMb: number; externalMb: number }[]> {
  return Promise.all(
    instances.map(async (i) => {
      const text = await (await fetch(new URL('/metrics', i.server.url))).text();
      const value = (name: string) => Math.round(Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? 0) / 1048576);
      return { usedMb: value('nodejs_heap_size_used_bytes'), totalMb: value('nodejs_heap_size_total_bytes'), externalMb: value('nodejs_external_memory_bytes') };
    }),
  );
}

async function caldavRequestsByMethod(instances: Instance[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const i of instances) {
    const text = await (await fetch(new URL('/metrics', i.server.url))).text();
    for (const m of text.matchAll(/^crm_calendar_caldav_requests_total\{method="(\w+)",status="(\w+)"\} (\d+)/gm)) out[`${m[1]} ${m[2]}`] = (out[`${m[1]} ${m[2]}`] ?? 0) + Number(m[3]);
  }
  return out;
}

interface Round {
  label: string;
  instances: number;
  wallMs: number;
  runs: number;
  perInstance: { name: string; runs: number; ticks: number; maxPerTick: number; cpuS: number; rssBeforeMb: number; rssPeakMb: number; rssAfterMb: number; heap: { usedMb: number; totalMb: number; externalMb: number };
    /** Worker threads at most (threads above the idle count), and the peak RSS while none ran. */
    maxWorkers: number; rssPeakWithoutWorkersMb: number;
    /** Time between the end of a tick and the next cron second, when this instance synced nothing. */
    idleBetweenTicksMs: number }[];
  duplicates: number;
  missing: number;
  notSuccess: number;
  requests: number;
  created: number;
  changedCalendars: number;
  requestsByMethod: Record<string, number>;
  serverCpuS: number;
  radicaleCpuS: number;
  pgCpuS: number;
  statements: Statements;
  redisPublishes: number;
  redisSubscribers: Record<string, number>;
  /** Messages by channel during the round. */
  redisMessages: Record<string, number>;
  /** Messages Redis delivered to the instances (each message times the instances subscribed to its channel). */
  redisDelivered: number;
  errors: number;
  /** Duration of one sync run (started to finished, from sync_run): mean, p50, p95 in ms. */
  runMs: { mean: number; p50: number; p95: number };
}

async function round(label: string, stack: Stack, instances: Instance[], accounts: Account[], changedCalendars: number, radicale: number): Promise<Round> {
  const pgPids = () => [stack.pg.pid, ...childrenOf(stack.pg.pid)];
  const pgCpu = () => pgPids().reduce((s, p) => s + cpuSeconds(p), 0);
  const before = instances.map((i) => ({ runs: i.runs.length, ticks: i.ticks.length, errors: i.errors.length, cpu: cpuSeconds(i.server.pid), rss: rssKb(i.server.pid) }));
  const methodsBefore = await caldavRequestsByMethod(instances);
  const radicaleBefore = cpuSeconds(radicale);
  const redisBefore = await redisPublishes(stack.redisClient);
  const messagesBefore = { ...stack.redisMessages };
  await stack.pg.query(`select pg_stat_statements_reset()`);
  const pgBefore = pgCpu();
  const peaks = before.map((b) => b.rss);
  const peaksWithoutWorkers = before.map(() => 0);
  const maxWorkers = before.map(() => 0);
  const sample = () =>
    instances.forEach((i, n) => {
      const rss = rssKb(i.server.pid);
      const workers = Math.max(0, threads(i.server.pid) - i.baseThreads);
      peaks[n] = Math.max(peaks[n], rss);
      maxWorkers[n] = Math.max(maxWorkers[n], workers);
      if (workers === 0) peaksWithoutWorkers[n] = Math.max(peaksWithoutWorkers[n], rss);
    });
  sample();
  const sampler = setInterval(sample, 100);

  const t0 = Date.now();
  await stack.pg.query(`/* ${MARK} */ update calendar_integration set next_sync_at = now() - interval '1 second'`);
  const deadline = t0 + 20 * 60000;
  const newRuns = () => instances.flatMap((i, n) => i.runs.slice(before[n].runs));
  while (newRuns().length < accounts.length) {
    if (Date.now() > deadline) throw new Error(`${label}: ${newRuns().length} of ${accounts.length} integrations synced after 20 minutes`);
    if (instances.some((i) => i.server.proc.child.exitCode !== null)) throw new Error(`${label}: a server process exited:\n${instances.map((i) => i.server.proc.output()).join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const cpuAfter = instances.map((i) => cpuSeconds(i.server.pid));
  const radicaleAfter = cpuSeconds(radicale);
  const pgAfter = pgCpu();
  // A duplicate run would show up now (the next ticks): wait a little before counting.
  await new Promise((r) => setTimeout(r, 1500));
  clearInterval(sampler);
  const runs = newRuns();
  const wallMs = Math.max(...runs.map((r) => r.time)) - t0;
  const statements = await statementsSinceReset(stack.pg);
  const pgCpuS = pgAfter - pgBefore;
  const radicaleCpuS = radicaleAfter - radicaleBefore;
  const redisAfter = await redisPublishes(stack.redisClient);
  const methodsAfter = await caldavRequestsByMethod(instances);
  const heapsAfter = await heaps(instances);
  // With SCALE_NODE_ARGS="--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=<dir>": a heap snapshot of each instance after each round.
  if (NODE_ARGS.includes('--heapsnapshot-signal=SIGUSR2')) for (const i of instances) await snapshot(i.server.pid);
  const [latency] = await stack.pg.query<{ mean: number; p50: number; p95: number }>(
    `/* ${MARK} */ select avg(ms) as mean, percentile_cont(0.5) within group (order by ms) as p50, percentile_cont(0.95) within group (order by ms) as p95
     from (select extract(epoch from finished_at - started_at) * 1000 as ms from sync_run where started_at >= to_timestamp($1 / 1000.0)) runs`,
    [t0],
  );
  const requestsByMethod = Object.fromEntries(Object.entries(methodsAfter).map(([k, v]) => [k, v - (methodsBefore[k] ?? 0)] as const).filter(([, v]) => v > 0));

  const perIntegration = new Map<string, number>();
  for (const r of runs) perIntegration.set(r.integrationId, (perIntegration.get(r.integrationId) ?? 0) + 1);
  const perInstance = instances.map((i, n) => {
    const ticks = i.ticks.slice(before[n].ticks).filter((t) => t.synced > 0);
    // A tick claims and runs batches one after the other until fewer than a batch are due; the rest of the round
    // this instance ran no batch (waiting for the next cron second, or done before the other instance).
    const idleBetweenTicksMs = Math.max(0, wallMs - ticks.reduce((sum, t) => sum + t.ms, 0));
    return {
      name: i.name,
      runs: i.runs.length - before[n].runs,
      ticks: ticks.length,
      maxPerTick: Math.max(0, ...ticks.map((t) => t.synced)),
      cpuS: cpuAfter[n] - before[n].cpu,
      rssBeforeMb: mb(before[n].rss),
      rssPeakMb: mb(peaks[n]),
      rssAfterMb: mb(rssKb(i.server.pid)),
      heap: heapsAfter[n],
      maxWorkers: maxWorkers[n],
      rssPeakWithoutWorkersMb: mb(peaksWithoutWorkers[n]),
      idleBetweenTicksMs,
    };
  });
  return {
    label,
    instances: instances.length,
    wallMs,
    runs: runs.length,
    perInstance,
    duplicates: [...perIntegration.values()].filter((c) => c > 1).length,
    missing: accounts.filter((a) => !perIntegration.has(a.integrationId!)).length,
    notSuccess: runs.filter((r) => r.outcome !== 'SUCCESS').length,
    requests: runs.reduce((s, r) => s + r.requests, 0),
    created: runs.reduce((s, r) => s + r.created, 0),
    changedCalendars,
    requestsByMethod,
    serverCpuS: perInstance.reduce((s, p) => s + p.cpuS, 0),
    radicaleCpuS,
    pgCpuS,
    statements,
    redisPublishes: redisAfter.publishes - redisBefore.publishes,
    redisSubscribers: redisAfter.subscribers,
    redisMessages: Object.fromEntries(Object.entries(stack.redisMessages).map(([c, v]) => [c, v - (messagesBefore[c] ?? 0)] as const).filter(([, v]) => v > 0)),
    redisDelivered: Object.entries(stack.redisMessages).reduce((sum, [c, v]) => sum + (v - (messagesBefore[c] ?? 0)) * (redisAfter.subscribers[c] ?? 0), 0),
    errors: instances.reduce((s, i, n) => s + i.errors.length - before[n].errors, 0),
    runMs: { mean: Number(latency.mean), p50: Number(latency.p50), p95: Number(latency.p95) },
  };
}

function printRound(r: Round): void {
  const n = r.runs;
  const unchanged = n * CALENDARS.length - r.changedCalendars;
  console.log(`  ${r.label}: ${n} integrations synced once in ${sec(r.wallMs)} s (${fmt((n / r.wallMs) * 1000, 1)} integrations/s)`);
  console.log(
    `    requests: ${r.requests} = ${fmt(r.requests / n, 2)} per integration` +
      (r.changedCalendars ? ` (${r.changedCalendars} changed calendars: ${fmt((r.requests - unchanged) / r.changedCalendars, 2)} requests each, ${r.created} events created)` : '') +
      ` | by method and status: ${JSON.stringify(r.requestsByMethod)}`,
  );
  console.log(`    one sync run (started to finished, ${CONCURRENCY} at once per instance): mean ${fmt(r.runMs.mean)} ms, p50 ${fmt(r.runMs.p50)} ms, p95 ${fmt(r.runMs.p95)} ms`);
  for (const p of r.perInstance) {
    console.log(
      `    instance ${p.name}: ${p.runs} runs in ${p.ticks} batches (at most ${p.maxPerTick} per batch, ${sec(r.wallMs / Math.max(1, p.ticks))} s per batch, ${sec(p.idleBetweenTicksMs)} s of the ${sec(r.wallMs)} s with no batch under way),`,
    );
    console.log(
      `      CPU ${fmt(p.cpuS, 1)} s (${fmt((p.cpuS / Math.max(1, p.runs)) * 1000, 1)} ms per run), RSS ${p.rssBeforeMb} MB before, ${p.rssPeakMb} MB peak, ${p.rssAfterMb} MB after ` +
        `(V8 heap of the main thread ${p.heap.usedMb} MB used of ${p.heap.totalMb} MB; iCalendar worker threads at most ${p.maxWorkers}, peak RSS while none ran ${p.rssPeakWithoutWorkersMb || '-'} MB)`,
    );
  }
  console.log(`    each integration once: ${r.duplicates === 0 && r.missing === 0 ? 'yes' : 'NO'} (${r.duplicates} synced twice or more, ${r.missing} not synced); outcomes not SUCCESS: ${r.notSuccess}; error log lines: ${r.errors}`);
  const kinds = Object.entries(r.statements.byKind).map(([k, v]) => `${k} ${v}`).join(', ');
  console.log(
    `    PostgreSQL: ${r.statements.total} statements (${fmt(r.statements.total / n, 1)} per integration: ${kinds}), ${r.statements.rowsWritten} rows written (${fmt(r.statements.rowsWritten / n, 1)} per integration), lease claims ${r.statements.claims.won} won of ${r.statements.claims.tried} tried, CPU ${fmt(r.pgCpuS, 1)} s; Radicale CPU ${fmt(r.radicaleCpuS, 1)} s`,
  );
  console.log(
    `    Redis: ${r.redisPublishes} PUBLISH (${fmt(r.redisPublishes / n, 2)} per integration; by channel ${JSON.stringify(r.redisMessages)}), ${r.redisDelivered} messages delivered to instances ` +
      `(${fmt(r.redisDelivered / n, 2)} per integration; subscribed instances by channel ${JSON.stringify(r.redisSubscribers)})`,
  );
}

// ---------------------------------------------------------------------------------------------- the benchmark

/** Runs the benchmark (see above); prints its figures and returns them. */
export async function benchReconcilerScale(): Promise<BenchResult[]> {
  const started = Date.now();
  console.log(
    `Reconciler scale: ${N} integrations x ${CALENDARS.length} calendars x ${EVENTS} events in one Radicale, PostgreSQL 15 + Redis; SYNC_CRON every second, ` +
      `SYNC_CONCURRENCY ${CONCURRENCY}, SYNC_PER_HOST ${PER_HOST} (load average at start ${loadavg().map((l) => l.toFixed(2)).join(' ')})`,
  );
  const started3 = await Promise.allSettled([startRadicale(), startPostgresWithStatements(), startRedis()]);
  const [radicale, pg, redis] = started3.map((s) => (s.status === 'fulfilled' ? s.value : undefined)) as [RadicaleServer?, Pg?, RedisServer?];
  const dataDir = mkdtempSync(join(tmpdir(), 'crm-scale-'));
  const live: Instance[] = [];
  let redisClient: Redis | undefined;
  let redisSubscriber: Redis | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanUp = () =>
    (cleaning ??= (async () => {
      await stopAll(live);
      redisClient?.disconnect();
      redisSubscriber?.disconnect();
      await Promise.allSettled([radicale?.stop(), pg?.stop(), redis?.stop()]);
      rmSync(dataDir, { recursive: true, force: true });
    })());
  stopEverything = cleanUp;
  try {
    const failed = started3.find((s) => s.status === 'rejected') as PromiseRejectedResult | undefined;
    if (failed) throw failed.reason;
    redisClient = new Redis(redis!.url);
    redisSubscriber = new Redis(redis!.url);
    const redisMessages: Record<string, number> = {};
    redisSubscriber.on('pmessage', (_pattern: string, channel: string) => (redisMessages[channel] = (redisMessages[channel] ?? 0) + 1));
    await redisSubscriber.psubscribe('*');
    const stack: Stack = { radicale: radicale!, pg: pg!, redis: redis!, dataDir, credentialsKey: randomBytes(32).toString('base64'), redisClient, redisMessages };
    const radicaleProcess = radicalePid(stack.radicale.url);

    // Accounts on disk, then connected through the API by an instance that runs no reconciler, while reconciler A
    // runs each one's first sync (the import) as it comes, as in production.
    let t = Date.now();
    const accounts = createAccounts(stack.radicale, N);
    const servers = await Promise.allSettled([
      startServerProcess(serverEnv(stack, '')).then((server) => {
        const api = observe('api', server);
        live.push(api);
        return api;
      }),
      startReconcilers(stack, ['A'], live, false),
    ]);
    const failedToStart = servers.find((x) => x.status === 'rejected') as PromiseRejectedResult | undefined;
    if (failedToStart) throw failedToStart.reason;
    const [api, [a]] = servers.map((x) => (x as PromiseFulfilledResult<any>).value) as [Instance, Instance[]];
    let instances = [a];
    const gql = async (token: string, query: string, variables: Record<string, unknown>) => {
      const res = await fetch(api.server.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query, variables }) });
      const body = (await res.json()) as { data?: any; errors?: unknown[] };
      if (body.errors) throw new Error(JSON.stringify(body.errors));
      return body.data;
    };
    const stepMs = { connect: 0, choose: 0 };
    const upMs = Date.now() - t;
    const apiCpu = cpuSeconds(api.server.pid);
    await pool(accounts, CONNECT_PARALLEL, async (account) => {
      let s = Date.now();
      const token = signToken({ sub: `scale-user-${account.index}`, tenantId: `tenant-${account.index % 10}`, role: 'user' }, secret);
      const { connectICloud } = await gql(token, CONNECT, { input: { appleId: account.appleId, appSpecificPassword: account.password } });
      const ids = (connectICloud.calendars as { id: string; name: string }[]).map((c) => c.id);
      if (ids.length !== CALENDARS.length) throw new Error(`account ${account.index} has ${ids.length} calendars, expected ${CALENDARS.length}`);
      account.integrationId = connectICloud.id;
      stepMs.connect += Date.now() - s;
      s = Date.now();
      await gql(token, `mutation($ids: [ID!]!) { setConflictCalendars(input: {calendarIds: $ids}) { id } }`, { ids });
      stepMs.choose += Date.now() - s;
    });
    const apiCpuS = cpuSeconds(api.server.pid) - apiCpu;
    await api.server.proc.stop('SIGTERM');
    live.splice(live.indexOf(api), 1);
    const connectedMs = Date.now() - t;
    // A connection synced between connectICloud and setConflictCalendars imported nothing (no calendar was checked
    // yet) and is not due for an hour: once A is idle, those are made due again.
    const eventsEach = CALENDARS.length * EVENTS;
    const importedIds = () => new Set(a.runs.filter((r) => r.outcome === 'SUCCESS' && r.created === eventsEach).map((r) => r.integrationId));
    const setupDeadline = Date.now() + 15 * 60000;
    let caughtUp = 0;
    for (let imported = importedIds(); imported.size < N; imported = importedIds()) {
      if (Date.now() > setupDeadline) throw new Error(`setup: ${imported.size} of ${N} integrations imported after 15 minutes`);
      const lastRun = Math.max(t, ...a.runs.slice(-1).map((r) => r.time));
      if (Date.now() - lastRun > 3000) {
        const missing = accounts.filter((x) => !imported.has(x.integrationId!)).map((x) => x.integrationId);
        caughtUp += missing.length;
        await stack.pg.query(`/* ${MARK} */ update calendar_integration set next_sync_at = now() where id = any($1::uuid[])`, [missing]);
        await new Promise((r) => setTimeout(r, 2000));
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    console.log(
      `  setup: ${N} accounts connected through the API (connectICloud, then setConflictCalendars with both calendars; ${CONNECT_PARALLEL} at once) in ${sec(connectedMs)} s, ` +
        `mean latency connect ${fmt(stepMs.connect / N)} ms, setConflictCalendars ${fmt(stepMs.choose / N)} ms, API server CPU ${fmt((apiCpuS / N) * 1000, 1)} ms per account; ` +
        `reconciler A imported every account (${N * eventsEach} events; ${caughtUp} synced before their calendars were chosen, made due again) by ${sec(Date.now() - t)} s ` +
        `(servers up in ${sec(upMs)} s)`,
    );

    const rounds: Round[] = [];
    const changedCount = Math.max(1, Math.round((N * CALENDARS.length * CHANGED_PERCENT) / 100));

    // One instance.
    rounds.push(await round('one instance, nothing changed', stack, instances, accounts, 0, radicaleProcess));
    printRound(rounds.at(-1)!);
    let changed = changeCalendars(stack.radicale, accounts, changedCount, 0, 'one');
    rounds.push(await round(`one instance, ${CHANGED_PERCENT}% of calendars changed`, stack, instances, accounts, changed, radicaleProcess));
    printRound(rounds.at(-1)!);

    // The peer on the same calendars, as many accounts at once as ours syncs.
    const parallel = Math.min(CONCURRENCY, PER_HOST);
    let peerRequests = 0;
    let peerObjects = 0;
    const countingFetch: typeof fetch = (input, init) => {
      peerRequests++;
      return fetch(input, init);
    };
    const peerCpu = process.cpuUsage();
    const radicaleBeforePeer = cpuSeconds(radicaleProcess);
    t = Date.now();
    await pool(accounts, parallel, async (a) => {
      const headers = getBasicAuthHeaders({ username: a.appleId, password: a.password });
      for (const slug of CALENDARS) {
        const objects = await fetchCalendarObjects({ calendar: { url: new URL(a.paths[slug], stack.radicale.url).href }, headers, fetch: countingFetch });
        peerObjects += objects.length;
      }
    });
    const peerMs = Date.now() - t;
    const peerCpuS = (process.cpuUsage(peerCpu).user + process.cpuUsage(peerCpu).system) / 1e6;
    const peerRadicaleS = cpuSeconds(radicaleProcess) - radicaleBeforePeer;
    const expectedObjects = N * CALENDARS.length * EVENTS + changed;
    if (peerObjects !== expectedObjects) throw new Error(`the peer fetched ${peerObjects} objects, expected ${expectedObjects}`);
    console.log(
      `  peer (tsdav fetchCalendarObjects of every calendar, ${parallel} accounts at once): ${sec(peerMs)} s, ${peerRequests} requests (${fmt(peerRequests / N, 2)} per integration), ` +
        `${peerObjects} objects fetched, client CPU ${fmt(peerCpuS, 1)} s, Radicale CPU ${fmt(peerRadicaleS, 1)} s`,
    );
    console.log(
      `    ours vs peer, nothing changed: ${fmt(peerMs / rounds[0].wallMs, 2)}x the time, ${fmt(peerRequests / rounds[0].requests, 2)}x the requests, ${fmt(peerRadicaleS / Math.max(0.01, rounds[0].radicaleCpuS), 2)}x Radicale's CPU; ` +
        `1% changed: ${fmt(peerMs / rounds[1].wallMs, 2)}x the time, ${fmt(peerRequests / rounds[1].requests, 2)}x the requests`,
    );
    await stopAll(instances);
    live.length = 0;

    // Two instances on the same PostgreSQL and Redis.
    instances = await startReconcilers(stack, ['A', 'B'], live);
    rounds.push(await round('two instances, nothing changed', stack, instances, accounts, 0, radicaleProcess));
    printRound(rounds.at(-1)!);
    changed = changeCalendars(stack.radicale, accounts, changedCount, Math.floor((N * CALENDARS.length) / changedCount / 2), 'two');
    rounds.push(await round(`two instances, ${CHANGED_PERCENT}% of calendars changed`, stack, instances, accounts, changed, radicaleProcess));
    printRound(rounds.at(-1)!);
    await stopAll(instances);
    live.length = 0;

    // Targets and what they mean at scale.
    const [one, oneChanged, two, twoChanged] = rounds;
    const check = (ok: boolean) => (ok ? 'met' : 'MISSED');
    const peakOne = Math.max(...[one, oneChanged].flatMap((r) => r.perInstance.map((p) => p.rssPeakMb)));
    const split = [two, twoChanged].every((r) => r.duplicates === 0 && r.missing === 0 && r.perInstance.every((p) => p.runs > 0));
    console.log(`  targets (at ${N} integrations):`);
    console.log(`    nothing changed within 60 s: ${check(one.wallMs <= 60000)} (${sec(one.wallMs)} s); RSS under 300 MB: ${check(peakOne < 300)} (${peakOne} MB peak)`);
    console.log(`    ${CHANGED_PERCENT}% changed within 90 s: ${check(oneChanged.wallMs <= 90000)} (${sec(oneChanged.wallMs)} s)`);
    console.log(
      `    two instances split the work, each integration once: ${check(split)} (${two.perInstance.map((p) => `${p.name} ${p.runs}`).join(' / ')} and ${twoChanged.perInstance.map((p) => `${p.name} ${p.runs}`).join(' / ')} runs; ` +
        `${sec(two.wallMs)} s and ${sec(twoChanged.wallMs)} s)`,
    );

    // Steady state: the round with 1% changed, one instance.
    const basis = oneChanged;
    const cpuPerSync = basis.serverCpuS / basis.runs;
    const perCore = INTERVAL_SECONDS / cpuPerSync;
    const observedPerInterval = (basis.runs / basis.wallMs) * 1000 * INTERVAL_SECONDS;
    const tickBound = 2 * CONCURRENCY * INTERVAL_SECONDS;
    const perInstance = Math.min(perCore, tickBound);
    const publishesPerSync = basis.redisPublishes / basis.runs;
    // Messages per sync on channels every instance subscribes to (each is delivered to all of them).
    const broadcastPerSync = Object.entries(basis.redisMessages).reduce((sum, [c, v]) => sum + ((basis.redisSubscribers[c] ?? 0) > 0 ? v : 0), 0) / basis.runs;
    const statementsPerSync = basis.statements.total / basis.runs;
    const writesPerSync = basis.statements.rowsWritten / basis.runs;
    const pgCpuPerSync = basis.pgCpuS / basis.runs;
    const requestsPerSync = basis.requests / basis.runs;
    console.log(`  sustained by one instance (steady state: ${CHANGED_PERCENT}% of calendars changed per interval, one instance):`);
    console.log(
      `    server CPU ${fmt(cpuPerSync * 1000, 2)} ms per integration sync -> ${fmt(perCore)} integrations per core at a ${INTERVAL_SECONDS / 60}-minute interval; ` +
        `observed rate ${fmt((basis.runs / basis.wallMs) * 1000, 1)}/s -> ${fmt(observedPerInterval)} per interval on this shared machine (Radicale and PostgreSQL on the same 2 cores); ` +
        `the tick's ceiling (2 x SYNC_CONCURRENCY per 1-s tick) ${fmt(tickBound)} per interval`,
    );
    console.log(`    per sync: PostgreSQL ${fmt(statementsPerSync, 1)} statements, ${fmt(writesPerSync, 1)} rows written, ${fmt(pgCpuPerSync * 1000, 2)} ms CPU; CalDAV ${fmt(requestsPerSync, 2)} requests; Redis ${fmt(publishesPerSync, 2)} PUBLISH`);
    for (const accountsN of [100000, 1000000]) {
      const syncsPerSecond = accountsN / INTERVAL_SECONDS;
      const instancesN = Math.ceil(accountsN / (perInstance * 0.6));
      console.log(
        `    ${fmt(accountsN)} accounts (2 calendars each, every ${INTERVAL_SECONDS / 60} min: ${fmt(syncsPerSecond)} syncs/s): ${fmt(Math.ceil(accountsN / perInstance))} instances at 100% ` +
          `(${fmt(instancesN)} at 60%), one core each; PostgreSQL ${fmt(syncsPerSecond * statementsPerSync)} statements/s, ${fmt(syncsPerSecond * writesPerSync)} rows written/s, ` +
          `${fmt(syncsPerSecond * pgCpuPerSync, 1)} cores; ${fmt(syncsPerSecond * requestsPerSync)} requests/s towards iCloud; ` +
          `Redis ${fmt(syncsPerSecond * publishesPerSync)} PUBLISH/s, ${fmt(syncsPerSecond * broadcastPerSync * instancesN)} messages/s delivered ` +
          `(${fmt(broadcastPerSync, 2)} per sync on channels every instance subscribes to, x ${fmt(instancesN)} instances: ${fmt(syncsPerSecond * broadcastPerSync)}/s reach each instance)`,
      );
    }
    console.log(`  top statements of the steady-state round (calls per integration, total ms, query):`);
    for (const s of basis.statements.top) console.log(`    ${fmt(s.calls / basis.runs, 2)}\t${fmt(s.ms)}\t${s.query}`);
    console.log(`  whole benchmark: ${sec(Date.now() - started)} s`);

    const name = (r: Round) => `reconciler round, ${N} integrations, ${r.label}`;
    return [
      lessIsBetter(name(one), 'time', 'ms', one.wallMs, peerMs, 'tsdav fetchCalendarObjects of every calendar'),
      lessIsBetter(name(one), 'CalDAV requests per integration', 'requests', one.requests / N, peerRequests / N, 'tsdav fetchCalendarObjects of every calendar'),
      lessIsBetter(name(one), 'peak RSS', 'MB', one.perInstance[0].rssPeakMb, null, null),
      lessIsBetter(name(one), 'server CPU per integration', 'ms', (one.serverCpuS / N) * 1000, null, null),
      lessIsBetter(name(oneChanged), 'time', 'ms', oneChanged.wallMs, peerMs, 'tsdav fetchCalendarObjects of every calendar'),
      lessIsBetter(name(oneChanged), 'CalDAV requests per integration', 'requests', oneChanged.requests / N, peerRequests / N, 'tsdav fetchCalendarObjects of every calendar'),
      lessIsBetter(name(oneChanged), 'peak RSS', 'MB', oneChanged.perInstance[0].rssPeakMb, null, null),
      lessIsBetter(name(oneChanged), 'PostgreSQL statements per integration', 'statements', statementsPerSync, null, null),
      lessIsBetter(name(two), 'time', 'ms', two.wallMs, peerMs, 'tsdav fetchCalendarObjects of every calendar'),
      lessIsBetter(name(two), 'integrations synced twice', 'integrations', two.duplicates, null, null),
      lessIsBetter(name(twoChanged), 'time', 'ms', twoChanged.wallMs, peerMs, 'tsdav fetchCalendarObjects of every calendar'),
      lessIsBetter(name(twoChanged), 'integrations synced twice', 'integrations', twoChanged.duplicates, null, null),
    ];
  } finally {
    await cleanUp();
  }
}

/** Stops what the running benchmark started (also on Ctrl-C: see the runner below). */
let stopEverything: (() => Promise<void>) | undefined;

if (require.main === module) {
  // Interrupted, or its output cut short (`| head`): the servers it started are stopped, not left behind.
  process.stdout.on('error', () => undefined);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => void (stopEverything?.() ?? Promise.resolve()).finally(() => process.exit(130)));
  }
  benchReconcilerScale().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
