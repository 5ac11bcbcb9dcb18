import 'reflect-metadata';
import { cpuSeconds, OPERATIONS, percentiles, startLoadEnvironment, type Operation } from '../dev/load';

/**
 * CPU of the server process per request, by operation, for the requests of `npm run load`: the load
 * environment (one server process on SQLite, 10 users with connected accounts, their round-robin calendar)
 * with the reconciler off, OP_BOOKINGS bookings made first, then OP_ROUNDS requests of each operation one
 * after the other. Run: `npm run build --silent && node dist/bench/op-cpu.js`
 * (OP_CPU_PROF=<dir> writes a CPU profile of the server there).
 */
const BOOKINGS = Number(process.env.OP_BOOKINGS ?? 300);
const ROUNDS = Number(process.env.OP_ROUNDS ?? 100);
const DAY = 86400000;

/** Waits until the server's outbox is empty (its /metrics say so), at most 120 s. */
async function outboxDrained(graphqlUrl: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const text = await (await fetch(new URL('/metrics', graphqlUrl))).text();
    if (/^crm_calendar_outbox_depth 0$/m.test(text)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('the outbox did not drain within 120 s');
}

async function main(): Promise<void> {
  const prof = process.env.OP_CPU_PROF;
  const env = await startLoadEnvironment({ serverEnv: { SYNC_CRON: '' }, serverNodeArgs: prof ? ['--cpu-prof', '--cpu-prof-dir', prof] : [] });
  try {
    const slotTime = (i: number) => new Date(env.day0 + DAY + Math.floor(i / 24) * DAY + (8 * 60 + (i % 24) * 30) * 60000).toISOString();
    let n = 0;
    const book = () => {
      const i = n++;
      return env.must(env.admin.token, OPERATIONS.bookAppointment, { i: { calendarId: env.calendarId, startsAt: slotTime(i % (14 * 24)), contact: { name: `Lead ${i}`, email: `lead${i}@example.com` } } });
    };
    for (let i = 0; i < BOOKINGS; i++) await book();
    const user = env.users[0];
    const range = { f: new Date(env.day0).toISOString(), t: new Date(env.day0 + 14 * DAY).toISOString() };
    const cases: [string, Operation | 'book', () => Promise<unknown>][] = [
      ['availableSlots 14 d', 'availableSlots', () => env.must(user.token, OPERATIONS.availableSlots, { c: env.calendarId, ...range })],
      ['bookAppointment', 'book', book],
      ['appointments 14 d', 'appointments', () => env.must(env.admin.token, OPERATIONS.appointments, { ...range, u: user.sub })],
      ['blockedTimes 14 d', 'blockedTimes', () => env.must(user.token, OPERATIONS.blockedTimes, range)],
      ['calendarIntegrations', 'calendarIntegrations', () => env.must(user.token, OPERATIONS.calendarIntegrations)],
      ['syncRuns', 'syncRuns', () => env.must(user.token, OPERATIONS.syncRuns, { i: user.integrationId })],
      ['viewer', 'viewer', () => env.must(user.token, OPERATIONS.viewer)],
    ];
    console.log(`server CPU per request (sequential, ${ROUNDS} rounds after 10 warm-up, ${BOOKINGS} bookings made first)`);
    for (const [label, , run] of cases) {
      // The pushes of the bookings made before run in the background: measured with the case they overlap.
      await outboxDrained(env.url);
      for (let i = 0; i < 10; i++) await run();
      const times: number[] = [];
      const before = cpuSeconds(env.pid);
      for (let i = 0; i < ROUNDS; i++) {
        const t = performance.now();
        await run();
        times.push(performance.now() - t);
      }
      const cpuMs = ((cpuSeconds(env.pid) - before) * 1000) / ROUNDS;
      const l = percentiles(times);
      console.log(`  ${label.padEnd(22)} cpu ${cpuMs.toFixed(1).padStart(6)} ms/request   latency p50 ${l.p50} ms p99 ${l.p99} ms`);
    }
  } finally {
    await env.stop();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
