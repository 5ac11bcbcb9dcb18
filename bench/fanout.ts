import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { signToken } from '../src/auth/jwt';
import { CONNECT } from '../dev/app';
import { radicaleTarget, type TargetAccount } from '../dev/caldav-targets';
import { startPostgres, type PostgresServer } from '../dev/postgres';
import { startRedis, type RedisServer } from '../dev/redis';
import { cpuSeconds, rssMb } from '../dev/load';
import { startServerProcess, type ServerProcess } from '../dev/server-process';
import { lessIsBetter, runAsMain, type BenchResult } from './results';

/**
 * `node scripts/build-if-stale.mjs && node dist/bench/fanout.js`: fan-out of `syncResults` over graphql-ws.
 * FANOUT_SUBSCRIBERS (1,000) subscribers, each on a socket of its own (a dashboard tab each: 1,000 tenant
 * admins, since only the owner, their tenant's admins and support may see a user's runs, and one caller may
 * hold at most 20 sockets and 200 subscriptions per instance), all subscribed to
 * `syncResults(integrationId)` of one connected integration (Radicale on loopback). FANOUT_RUNS (20) sync
 * runs are triggered with `syncNow`, one after another once the previous run reached every subscriber (or
 * FANOUT_TIMEOUT_MS passed: its receipts count as missing). The latency of a receipt is the client's
 * `Date.now()` when graphql-ws hands it over minus the run's `finishedAt` (the server's `new Date()`): both
 * the same system clock of this machine, millisecond resolution.
 * Two set-ups, each with its server(s) in processes of their own (`node dist/src/main.js`) and the clients
 * in this one: one instance (SQLite, in-process pub/sub), and two instances on one PostgreSQL and one Redis,
 * the runs executed by A, the subscribers split between A and B (every event crosses Redis). The baseline,
 * in the same run on the same servers, is the same runs with FANOUT_BASELINE (1) subscriber (on B in the
 * two-instance case). Prints p50/p95/p99/max, missing receipts, the server's CPU per run and RSS, and the
 * p99 ratio; the issue's target is p99 under 250 ms in both set-ups.
 * FANOUT_ONLY=one|two runs one set-up only; FANOUT_CPU_PROF=<folder> runs the servers with `node --cpu-prof`
 * (profiles written there as they stop).
 */
const SUBSCRIBERS = Number(process.env.FANOUT_SUBSCRIBERS ?? 1000);
const RUNS = Number(process.env.FANOUT_RUNS ?? 20);
const BASELINE = Number(process.env.FANOUT_BASELINE ?? 1);
const TIMEOUT_MS = Number(process.env.FANOUT_TIMEOUT_MS ?? 5000);
const TARGET_P99_MS = 250;
/** `one` or `two`: only that set-up. */
const ONLY = process.env.FANOUT_ONLY ?? '';
/** A folder: the servers run with `--cpu-prof` and write their profiles there as they stop. */
const CPU_PROF = process.env.FANOUT_CPU_PROF ?? '';
const NODE_ARGS = CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF}`] : [];
const TENANT = 'tenant-a';
const SUBSCRIPTION = `subscription($id: ID) { syncResults(integrationId: $id) { id integrationId outcome created updated deleted requests startedAt finishedAt } }`;
const SYNC_NOW = `mutation($id: ID!) { syncNow(integrationId: $id) { id outcome finishedAt } }`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function percentile(sorted: number[], q: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] : NaN;
}

/** CPU time (user + system, all threads) a process has used, in ms. */
const cpuMs = (pid: number) => cpuSeconds(pid) * 1000;

async function gql(server: ServerProcess, token: string, query: string, variables?: Record<string, unknown>): Promise<any> {
  const res = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query, variables }) });
  const body = (await res.json()) as { data?: any; errors?: unknown[] };
  if (body.errors?.length) throw new Error('GraphQL errors: ' + JSON.stringify(body.errors));
  return body.data;
}

/** The `crm_calendar_subscriptions_open` gauge of an instance. */
async function openSubscriptions(server: ServerProcess): Promise<number> {
  const text = await (await fetch(new URL('/metrics', server.url))).text();
  const line = text.match(/^crm_calendar_subscriptions_open(?:\{[^}]*\})? (\d+)/m);
  return line ? Number(line[1]) : NaN;
}

/** A receipt: which subscriber (by instance) got which run, when (client `Date.now()`). */
interface Receipt {
  instance: number;
  at: number;
}

/** Every receipt by run id, and a way to wait until a run has reached `expected` subscribers. */
class Receipts {
  private readonly byRun = new Map<string, Receipt[]>();
  private waiter: { runId: string; expected: number; resolve: () => void } | undefined;
  errors: string[] = [];

  add(runId: string, receipt: Receipt): void {
    let list = this.byRun.get(runId);
    if (!list) this.byRun.set(runId, (list = []));
    list.push(receipt);
    if (this.waiter && this.waiter.runId === runId && list.length >= this.waiter.expected) this.waiter.resolve();
  }

  of(runId: string): Receipt[] {
    return this.byRun.get(runId) ?? [];
  }

  /** Resolves once `runId` reached `expected` subscribers, or after `timeoutMs`. */
  async until(runId: string, expected: number, timeoutMs: number): Promise<void> {
    if (this.of(runId).length >= expected) return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.waiter = { runId, expected, resolve };
      timer = setTimeout(resolve, timeoutMs);
    });
    clearTimeout(timer);
    this.waiter = undefined;
  }
}

/** Opens one graphql-ws client (its own socket) and subscribes it; resolves once the server acknowledged the connection. */
function subscriber(server: ServerProcess, instance: number, token: string, integrationId: string, receipts: Receipts): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client: Client = createClient({
      url: server.url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${token}` },
      retryAttempts: 0,
      lazy: false,
      onNonLazyError: (e) => reject(new Error(`a subscriber could not connect: ${String((e as { reason?: string }).reason ?? e)}`)),
      on: {
        connected: () => {
          client.subscribe<{ syncResults: { id: string } }>(
            { query: SUBSCRIPTION, variables: { id: integrationId } },
            {
              next: (result) => {
                const at = Date.now();
                if (result.data) receipts.add(result.data.syncResults.id, { instance, at });
                else receipts.errors.push(JSON.stringify(result.errors));
              },
              error: (e) => receipts.errors.push(e instanceof Error ? e.message : JSON.stringify(e)),
              complete: () => {},
            },
          );
          resolve(client);
        },
        closed: (e) => {
          const { code, reason } = e as { code?: number; reason?: string };
          if (code !== 1000) receipts.errors.push(`socket closed ${code} ${reason ?? ''}`);
        },
      },
    });
  });
}

interface Measured {
  subscribers: number;
  latencies: number[];
  /** Latencies by instance index (of `servers`). */
  byInstance: number[][];
  missing: number;
  /** Per run: the first and the last receipt after finishedAt (ms). */
  first: number[];
  last: number[];
  /** Per run: when syncNow's answer reached this process, after finishedAt (ms). */
  answered: number[];
  cpuMsPerRun: number;
  /** CPU of this process (the clients) per run. */
  clientCpuMsPerRun: number;
  /** Server RSS before the subscribers connect (MB). */
  rssIdle: number[];
  /** Server RSS with the subscribers open, before the measured runs, and its peak during them (MB). */
  rssOpen: number[];
  rssMb: number[];
  errors: string[];
}

/**
 * Opens `count` subscribers (subscriber i on `servers[i % servers.length]`, each as tenant admin `watcher-i`),
 * waits until every instance counts them, runs one unmeasured sync, then RUNS measured ones on `runOn`.
 */
async function measure(servers: ServerProcess[], runOn: ServerProcess, secret: string, ownerToken: string, integrationId: string, count: number): Promise<Measured> {
  const receipts = new Receipts();
  const clients: Client[] = [];
  const rssIdle = servers.map((s) => rssMb(s.pid));
  try {
    const expected = servers.map((_, s) => Array.from({ length: count }, (_, i) => i).filter((i) => i % servers.length === s).length);
    for (let i = 0; i < count; i += 50) {
      const batch = Array.from({ length: Math.min(50, count - i) }, (_, k) => i + k);
      clients.push(
        ...(await Promise.all(
          batch.map((n) => subscriber(servers[n % servers.length], n % servers.length, signToken({ sub: `watcher-${n}`, tenantId: TENANT, role: 'admin' }, secret), integrationId, receipts)),
        )),
      );
    }
    const deadline = Date.now() + 20000;
    while ((await Promise.all(servers.map(openSubscriptions))).some((open, s) => open !== expected[s])) {
      if (Date.now() > deadline) throw new Error(`the instances count ${await Promise.all(servers.map(openSubscriptions))} subscriptions, expected ${expected}`);
      await sleep(100);
    }
    // One run unmeasured: every subscription is live (through Redis too) and the code paths are warm.
    const warm = (await gql(runOn, ownerToken, SYNC_NOW, { id: integrationId })).syncNow;
    await receipts.until(warm.id, count, TIMEOUT_MS * 2);
    if (receipts.of(warm.id).length !== count) throw new Error(`the warm-up run reached ${receipts.of(warm.id).length} of ${count} subscribers: ${receipts.errors.slice(0, 3)}`);
    await sleep(200);

    const pids = servers.map((s) => s.pid);
    const cpuBefore = pids.reduce((sum, pid) => sum + cpuMs(pid), 0);
    const clientCpu = process.cpuUsage();
    const rssOpen = pids.map(rssMb);
    const peak = [...rssOpen];
    const sampler = setInterval(() => pids.forEach((pid, i) => (peak[i] = Math.max(peak[i], rssMb(pid)))), 50);
    const m: Measured = { subscribers: count, latencies: [], byInstance: servers.map(() => []), missing: 0, first: [], last: [], answered: [], cpuMsPerRun: 0, clientCpuMsPerRun: 0, rssIdle, rssOpen, rssMb: peak, errors: receipts.errors };
    try {
      for (let r = 0; r < RUNS; r++) {
        const run = (await gql(runOn, ownerToken, SYNC_NOW, { id: integrationId })).syncNow as { id: string; outcome: string; finishedAt: string };
        const answeredAt = Date.now();
        if (run.outcome !== 'SUCCESS') throw new Error(`a sync run ended ${JSON.stringify(run)}`);
        await receipts.until(run.id, count, TIMEOUT_MS);
        const finishedAt = Date.parse(run.finishedAt);
        const got = receipts.of(run.id).map((x) => ({ instance: x.instance, ms: x.at - finishedAt }));
        m.missing += count - got.length;
        for (const g of got) {
          m.latencies.push(g.ms);
          m.byInstance[g.instance].push(g.ms);
        }
        const sorted = got.map((g) => g.ms).sort((a, b) => a - b);
        m.first.push(sorted[0]);
        m.last.push(sorted[sorted.length - 1]);
        m.answered.push(answeredAt - finishedAt);
        await sleep(20);
      }
    } finally {
      clearInterval(sampler);
    }
    m.cpuMsPerRun = (pids.reduce((sum, pid) => sum + cpuMs(pid), 0) - cpuBefore) / RUNS;
    const used = process.cpuUsage(clientCpu);
    m.clientCpuMsPerRun = (used.user + used.system) / 1000 / RUNS;
    for (const list of [m.latencies, ...m.byInstance, m.first, m.last, m.answered]) list.sort((a, b) => a - b);
    return m;
  } finally {
    await Promise.all(clients.map((c) => c.dispose()));
    // The next measurement starts on instances that hold no subscription of this one.
    const deadline = Date.now() + 10000;
    while (Date.now() < deadline && (await Promise.all(servers.map((s) => openSubscriptions(s).catch(() => 0)))).some((n) => n !== 0)) await sleep(100);
  }
}

const f = (n: number) => (Number.isNaN(n) ? '-' : n < 10 ? n.toFixed(1) : n.toFixed(0));
const stats = (sorted: number[]) => `p50 ${f(percentile(sorted, 0.5))} | p95 ${f(percentile(sorted, 0.95))} | p99 ${f(percentile(sorted, 0.99))} | max ${f(sorted[sorted.length - 1])} ms`;

/** Baseline then fan-out on the same instances; prints and returns the figures. */
async function setUp(name: string, servers: ServerProcess[], names: string[], runOn: ServerProcess, secret: string, account: TargetAccount): Promise<BenchResult[]> {
  const ownerToken = signToken({ sub: 'owner', tenantId: TENANT, role: 'user' }, secret);
  const { connectICloud } = await gql(runOn, ownerToken, CONNECT, { input: { appleId: account.appleId, appSpecificPassword: account.appSpecificPassword } });
  const work = connectICloud.calendars.find((c: { name: string }) => c.name === 'Work');
  await gql(runOn, ownerToken, `mutation($id: ID!) { setPrimaryCalendar(input: {calendarId: $id}) { id } }`, { id: work.id });

  console.log(`${name}:`);
  const results: Measured[] = [];
  for (const count of [BASELINE, SUBSCRIBERS]) {
    const m = await measure(servers, runOn, secret, ownerToken, connectICloud.id, count);
    results.push(m);
    const where = servers.length > 1 ? ` (${names.map((n, s) => `${m.byInstance[s].length / RUNS} on ${n}`).join(', ')})` : '';
    console.log(`  ${count} subscriber(s)${where}, ${RUNS} runs: ${stats(m.latencies)} | missing ${m.missing} of ${count * RUNS}${m.errors.length ? ` | errors: ${m.errors.length}, e.g. ${m.errors[0]}` : ''}`);
    if (servers.length > 1) for (const [s, n] of names.entries()) if (m.byInstance[s].length) console.log(`    subscribers on ${n}: ${stats(m.byInstance[s])}`);
    console.log(
      `    per run: first receipt p50 ${f(percentile(m.first, 0.5))} ms, last receipt p50 ${f(percentile(m.last, 0.5))} / max ${f(m.last[m.last.length - 1])} ms; syncNow answer p50 ${f(percentile(m.answered, 0.5))} ms after finishedAt` +
        ` | CPU per run: server${servers.length > 1 ? 's' : ''} ${f(m.cpuMsPerRun)} ms, this process (clients) ${f(m.clientCpuMsPerRun)} ms | server RSS ${names.map((n, s) => `${n} ${f(m.rssIdle[s])} / ${f(m.rssOpen[s])} / ${f(m.rssMb[s])} MB`).join(', ')} (no subscriber / subscribers open / peak during the runs)`,
    );
  }
  const [base, fan] = results;
  const p99 = (m: Measured) => percentile(m.latencies, 0.99);
  const met = p99(fan) < TARGET_P99_MS && fan.missing === 0;
  console.log(`  p99 with ${SUBSCRIBERS}: ${f(p99(fan))} ms vs ${f(p99(base))} ms with ${BASELINE}: ${(p99(fan) / p99(base)).toFixed(2)}x | target p99 < ${TARGET_P99_MS} ms, none missing: ${met ? 'met' : 'NOT met'}`);
  const bench = `fan-out of a sync run to ${SUBSCRIBERS} graphql-ws subscribers, ${name}`;
  const peer = `${BASELINE} subscriber(s)`;
  return [
    lessIsBetter(bench, 'p99 delivery latency', 'ms', p99(fan), p99(base), peer),
    lessIsBetter(bench, 'p50 delivery latency', 'ms', percentile(fan.latencies, 0.5), percentile(base.latencies, 0.5), peer),
    lessIsBetter(bench, 'missing receipts', 'receipts', fan.missing, null, null),
    lessIsBetter(bench, 'server CPU per run', 'ms', fan.cpuMsPerRun, base.cpuMsPerRun, peer),
    lessIsBetter(bench, 'server peak RSS', 'MB', fan.rssMb.reduce((a, b) => a + b, 0), base.rssMb.reduce((a, b) => a + b, 0), peer),
  ];
}

/** Runs the benchmark (see above); prints its figures and returns them. */
export async function benchFanout(): Promise<BenchResult[]> {
  const secret = 'fanout-' + randomBytes(8).toString('hex');
  const dataDir = mkdtempSync(join(tmpdir(), 'crm-fanout-'));
  const credentialsKey = randomBytes(32).toString('base64');
  let caldavUrl = '';
  const env = (extra: Record<string, string>) => ({
    ICLOUD_CALDAV_URL: caldavUrl,
    AUTH_JWT_SECRET: secret,
    CREDENTIALS_KEY: credentialsKey,
    DATA_DIR: dataDir,
    SYNC_CRON: '',
    SYNC_NOW_MIN_INTERVAL_SECONDS: '0',
    LOG_LEVEL: 'info',
    ...extra,
  });
  const started: { stop(): Promise<void> }[] = [];
  const servers: ServerProcess[] = [];
  const stopServers = async () => void (await Promise.all(servers.splice(0).map((s) => s.proc.stop())));
  try {
    const [target, pg, redis] = await Promise.allSettled([radicaleTarget(), startPostgres(), startRedis()]).then((all) => {
      for (const s of all) if (s.status === 'fulfilled') started.push(s.value);
      const failed = all.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (failed) throw failed.reason;
      return all.map((s) => (s as PromiseFulfilledResult<unknown>).value) as [Awaited<ReturnType<typeof radicaleTarget>>, PostgresServer, RedisServer];
    });
    caldavUrl = target.radicale.url;
    console.log(
      `Fan-out of syncResults over graphql-ws: latency from a sync run's finishedAt (server new Date()) to each subscriber's receipt (client Date.now(), same machine clock), ` +
        `${RUNS} runs (syncNow, Radicale on loopback) per measurement, one socket per subscriber (tenant admins), servers in their own processes, clients in this one`,
    );
    const results: BenchResult[] = [];

    if (ONLY !== 'two') {
      const single = await startServerProcess(env({ DATABASE_URL: join(dataDir, 'single.sqlite') }), NODE_ARGS);
      servers.push(single);
      results.push(...(await setUp('one instance (SQLite, in-process pub/sub)', [single], ['A'], single, secret, await target.newAccount())));
      await stopServers();
    }
    if (ONLY === 'one') return results;

    const pair = await Promise.allSettled([startServerProcess(env({ DATABASE_URL: pg.url, REDIS_URL: redis.url }), NODE_ARGS), startServerProcess(env({ DATABASE_URL: pg.url, REDIS_URL: redis.url }), NODE_ARGS)]);
    for (const s of pair) if (s.status === 'fulfilled') servers.push(s.value);
    for (const s of pair) if (s.status === 'rejected') throw s.reason;
    const [a, b] = servers;
    // Subscriber i on [B, A][i % 2]: the baseline's single subscriber is on B, across Redis from the run.
    results.push(...(await setUp('two instances (PostgreSQL, Redis; runs on A)', [b, a], ['B', 'A'], a, secret, await target.newAccount())));
    return results;
  } finally {
    await stopServers();
    await Promise.all(started.map((s) => s.stop()));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

runAsMain(module, benchFanout);
