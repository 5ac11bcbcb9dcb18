import 'reflect-metadata';
import { runLoad, type Latency, type LoadFigures } from '../dev/load';

/**
 * `npm run load`: LOAD_RPS (default 200) mixed GraphQL requests per second and LOAD_SUBSCRIPTIONS (default
 * 500) open subscriptions for LOAD_SECONDS (default 60) against one server process while its reconciler
 * runs. Prints the figures; exits 1 when there was any error. LOAD_CALDAV=icloud puts the iCloud emulation in
 * front of Radicale; LOAD_CPU_PROF=<dir> writes a CPU profile of the server there (node --cpu-prof).
 */
async function main(): Promise<void> {
  const figures = await runLoad({
    seconds: Number(process.env.LOAD_SECONDS ?? 60),
    rps: Number(process.env.LOAD_RPS ?? 200),
    subscriptions: Number(process.env.LOAD_SUBSCRIPTIONS ?? 500),
    caldav: process.env.LOAD_CALDAV === 'icloud' ? 'icloud' : 'radicale',
    serverNodeArgs: process.env.LOAD_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.LOAD_CPU_PROF] : [],
    log: (line) => console.log(`  ${line}`),
  });
  console.log(report(figures));
  process.exit(figures.errors.count ? 1 : 0);
}

const ms = (n: number) => `${n.toFixed(1)} ms`.padStart(12);
const row = (name: string, l: Latency) => `  ${name.padEnd(22)}${String(l.count).padStart(7)}${ms(l.p50)}${ms(l.p95)}${ms(l.p99)}${ms(l.max)}`;

/** The figures as a readable table. */
export function report(f: LoadFigures): string {
  const change = f.server.rssAfterWarmupMb ? ((f.server.rssEndMb - f.server.rssAfterWarmupMb) / f.server.rssAfterWarmupMb) * 100 : 0;
  const ops = Object.entries(f.latency.byOperation).sort(([a], [b]) => a.localeCompare(b));
  return [
    '',
    `load: ${f.seconds} s at ${f.achievedRps} requests/s (target ${f.targetRps}), ${f.subscriptions.opened} subscriptions on ${f.subscriptions.sockets} sockets`,
    `requests: ${f.requests.sent} sent, ${f.requests.answered} answered; errors: ${f.errors.count}`,
    ...f.errors.first.map((e) => `  ! ${e}`),
    '',
    `  ${'latency'.padEnd(22)}${'count'.padStart(7)}${'p50'.padStart(12)}${'p95'.padStart(12)}${'p99'.padStart(12)}${'max'.padStart(12)}`,
    row('all', f.latency.overall),
    ...ops.map(([op, l]) => row(op, l)),
    `  (from the moment each request was due; worst send lag of the load generator ${f.maxSendLagMs} ms)`,
    '',
    `subscriptions: ${f.subscriptions.openAtEnd}/${f.subscriptions.opened} open at the end, ${f.subscriptions.events} events received (${f.subscriptions.syncResultEvents} sync results)`,
    `sync runs finished during the load: ${f.syncRuns.finished}; deliveries missing to syncResults subscribers: ${f.syncRuns.missedDeliveries}`,
    `bookings: ${f.bookings.booked} booked, ${f.bookings.rescheduled} rescheduled, ${f.bookings.cancelled} cancelled, ${f.bookings.unanswered} without an answer; ` +
      `${f.bookings.visibleAfterwards}/${f.bookings.live} live ones visible afterwards; sync states ${JSON.stringify(f.bookings.syncStates)}`,
    ...f.bookings.problems.map((p) => `  ! ${p}`),
    `server RSS: ${f.server.rssAfterWarmupMb} MB after warm-up, ${f.server.rssPeakMb} MB peak, ${f.server.rssEndMb} MB at the end (${change >= 0 ? '+' : ''}${change.toFixed(1)} %)`,
    `CPU over the load: server ${f.server.cpuPercent} %, load generator ${f.loadGeneratorCpuPercent} % (100 % = one core)`,
    '',
  ].join('\n');
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
