// Measured as `npm start` runs the server (graphql-js in production mode).
import '../src/production-mode';
import 'reflect-metadata';
import { Agent } from 'node:http';
import { rulesOf } from '../src/availability/calendar-rules';
import { Appointment, AppointmentAssignee } from '../src/entities/appointment.entity';
import { BusyInterval } from '../src/entities/busy-interval.entity';
import { CalendarIntegration } from '../src/entities/calendar-integration.entity';
import { Contact } from '../src/entities/contact.entity';
import { CrmCalendar } from '../src/entities/crm-calendar.entity';
import { ExternalCalendar } from '../src/entities/external-calendar.entity';
import { ExternalEvent } from '../src/entities/external-event.entity';
import { User } from '../src/entities/user.entity';
import { dataOf, startTestApp, TEST_JWT_SECRET, type TestApp } from '../dev/app';
import { prng } from '../dev/fault-proxy';
import { postJson } from '../dev/http';
import { availability as baselineAvailability } from './baseline/availability.service';
import { startBaselineServer } from './baseline/server';
import { lessIsBetter, runAsMain, type BenchResult } from './results';

/**
 * `npm run build --silent && node dist/bench/slots.js`: availableSlots over HTTP for 30 days of a round-robin
 * calendar (Europe/Berlin, Monday to Friday 09:00-17:00, 30-minute slots) of SLOTS_MEMBERS members, each
 * with 2 iCloud calendars of SLOTS_EVENTS busy events (spread over the sync horizon, 07:00-21:00) and
 * SLOTS_APPOINTMENTS appointments of the calendar, all written straight into SQLite. The peer, in the same
 * run and on the same database, is the method this replaced (bench/baseline: the same resolver body, slot
 * engine checking every slot against every block, time zones through Intl, entities hydrated, the JWT key
 * rebuilt per request) behind the same express + Apollo + type-graphql stack. Both must answer the same
 * slots. Prints p50 and p99 of each, interleaved over SLOTS_ROUNDS requests, and the ratio.
 * SLOTS_PROPOSED_INDEX=1 first adds an index the schema does not have (busy_interval: user_id, starts_at,
 * ends_at, calendar_id: the busy-time scan without table lookups), to measure that proposal.
 */
const MEMBERS = Number(process.env.SLOTS_MEMBERS ?? 5);
const EVENTS = Number(process.env.SLOTS_EVENTS ?? 2000);
const APPOINTMENTS = Number(process.env.SLOTS_APPOINTMENTS ?? 300);
const ROUNDS = Number(process.env.SLOTS_ROUNDS ?? 200);
const DAY = 86400000;
const MINUTE = 60000;

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

/** The app (SQLite) with the members, their busy time and appointments, and the round-robin calendar. */
export async function setUp(databaseUrl?: string): Promise<{ app: TestApp; calendar: CrmCalendar; from: Date; to: Date }> {
  // Nothing talks to CalDAV here: the reconciler is off and no booking is pushed.
  const app = await startTestApp({ caldavUrl: 'http://127.0.0.1:9/', databaseUrl });
  try {
    const random = prng(7);
    const today = Math.floor(Date.now() / DAY) * DAY;
    const em = app.server.orm.fork();
    const subs = Array.from({ length: MEMBERS }, (_, i) => `member-${i + 1}`);
    const users: User[] = [];
    for (const sub of subs) {
      const user = em.create(User, { externalId: sub, tenantId: 'tenant-a' });
      users.push(user);
      const integration = em.create(CalendarIntegration, { user, tenantId: 'tenant-a', appleId: `${sub}@icloud.example`, principalUrl: 'http://127.0.0.1:9/p/', homeUrl: 'http://127.0.0.1:9/h/' });
      for (const name of ['Work', 'Home']) {
        const calendar = em.create(ExternalCalendar, { integration, href: `http://127.0.0.1:9/h/${sub}/${name}/`, name, checkForConflicts: true, isPrimary: name === 'Work' });
        const events: ExternalEvent[] = [];
        const busy: BusyInterval[] = [];
        for (let i = 0; i < EVENTS; i++) {
          // Spread over the sync horizon (30 days back, 365 ahead), 07:00-21:00 UTC, 15 to 90 minutes.
          const start = today + (Math.floor(random() * 395) - 30) * DAY + (7 * 60 + Math.floor(random() * 52) * 15) * MINUTE;
          const event = em.create(ExternalEvent, { calendar, href: `${calendar.href}e${i}.ics`, etag: `"${i}"`, uid: `${sub}-${name}-${i}`, contentHash: String(i), raw: '', summary: `Busy ${i}` });
          events.push(event);
          busy.push(em.create(BusyInterval, { userId: user.id, calendar, event, startsAt: new Date(start), endsAt: new Date(start + (1 + Math.floor(random() * 6)) * 15 * MINUTE), title: `Busy ${i}` }));
        }
      }
    }
    await em.flush();
    const { id: calendarId } = dataOf(
      await app.gql(app.token('boss', 'tenant-a', 'admin'), `mutation($i: CreateCrmCalendarInput!) { createCrmCalendar(input: $i) { id } }`, {
        i: {
          name: 'Consultations', type: 'ROUND_ROBIN', roundRobinMode: 'EQUAL_DISTRIBUTION', timezone: 'Europe/Berlin', slotDurationMinutes: 30,
          openHours: [1, 2, 3, 4, 5].map((weekday) => ({ weekday, start: '09:00', end: '17:00' })),
          teamMembers: subs.map((userId) => ({ userId })),
        },
      }),
    ).createCrmCalendar as { id: string };
    // Appointments of the calendar over the next 30 days, on its grid, each assigned to one member.
    const em2 = app.server.orm.fork();
    const calendar = await em2.findOneOrFail(CrmCalendar, calendarId, { populate: ['members', 'members.user'] });
    for (let i = 0; i < APPOINTMENTS; i++) {
      const start = today + (1 + Math.floor(random() * 30)) * DAY + (7 * 60 + Math.floor(random() * 16) * 30) * MINUTE;
      const contact = em2.create(Contact, { tenantId: 'tenant-a', name: `Lead ${i}` });
      const appointment = em2.create(Appointment, { tenantId: 'tenant-a', calendar, contact, startsAt: new Date(start), endsAt: new Date(start + 30 * MINUTE), title: `Lead ${i}`, createdAt: new Date(Date.now() - Math.floor(random() * 40) * DAY) });
      const userId = users[Math.floor(random() * users.length)].id;
      appointment.assignees.add(em2.create(AppointmentAssignee, { appointment, userId, blockStart: appointment.startsAt, blockEnd: appointment.endsAt }));
    }
    await em2.flush();
    const from = new Date(today + DAY);
    return { app, calendar, from, to: new Date(from.getTime() + 30 * DAY) };
  } catch (e) {
    await app.close();
    throw e;
  }
}

/** Runs the benchmark (see the top of this file); prints its figures and returns them. */
export async function benchSlots(): Promise<BenchResult[]> {
  const { app, calendar, from, to } = await setUp();
  const calendarId = calendar.id;
  const peer = await startBaselineServer(app.server.orm, TEST_JWT_SECRET);
  if (process.env.SLOTS_PROPOSED_INDEX === '1') {
    await app.server.orm.fork().getConnection().execute('create index busy_interval_proposed_covering on busy_interval (user_id, starts_at, ends_at, calendar_id)');
  }
  // Idle sockets are dropped after 4 s, before the servers' 5-s keep-alive timeout closes one under a request.
  const agent = new Agent({ keepAlive: true, maxSockets: 4, timeout: 4000 });
  try {
    const token = app.token('boss', 'tenant-a', 'admin');
    const body = JSON.stringify({
      query: `query($c: ID!, $f: DateTimeISO!, $t: DateTimeISO!) { availableSlots(calendarId: $c, from: $f, to: $t) { startsAt endsAt startsAtLocal availableUserIds seatsLeft } }`,
      variables: { c: calendarId, f: from.toISOString(), t: to.toISOString() },
    });
    const post = async (url: string) => (await postJson(agent, url, token, body)).text;
    // The service alone first (no HTTP, GraphQL or JWT), on the entity both resolvers load.
    const inProcess = async (fn: typeof baselineAvailability) => {
      const times: number[] = [];
      for (let i = 0; i < Math.max(20, ROUNDS / 4); i++) {
        const t = performance.now();
        await fn(app.server.orm.fork(), calendar, from, to);
        times.push(performance.now() - t);
      }
      return times.sort((a, b) => a - b);
    };
    const service = app.server.services.availability;
    // As availableSlots reads it: iCloud busy time from the in-memory index (held after the first round).
    const serviceOurs = await inProcess((em, calendar, from, to) => service.slotsOf(em, rulesOf(calendar), from, to, new Date(), undefined, true));
    const serviceBase = await inProcess(baselineAvailability);

    const ours = await post(app.url.replace('//localhost:', '//127.0.0.1:'));
    const theirs = await post(peer.url);
    const slots = JSON.parse(ours).data?.availableSlots as unknown[] | undefined;
    if (!slots) throw new Error(`availableSlots failed: ${ours.slice(0, 300)}`);
    if (ours !== theirs) throw new Error('ours and the baseline disagree: ' + ours.slice(0, 200) + ' | ' + theirs.slice(0, 200));

    for (let i = 0; i < 20; i++) for (const url of [app.url.replace('//localhost:', '//127.0.0.1:'), peer.url]) await post(url);
    const times = { ours: [] as number[], baseline: [] as number[] };
    // CPU of this process (server and client) per request: less sensitive than latency to other work on the machine.
    const cpu = { ours: 0, baseline: 0 };
    for (let i = 0; i < ROUNDS; i++) {
      // Interleaved, one request at a time, so that both see the same machine load.
      for (const [name, url] of i % 2 ? ([['baseline', peer.url], ['ours', app.url]] as const) : ([['ours', app.url], ['baseline', peer.url]] as const)) {
        const c = process.cpuUsage();
        const t = performance.now();
        await post(url.replace('//localhost:', '//127.0.0.1:'));
        times[name].push(performance.now() - t);
        const used = process.cpuUsage(c);
        cpu[name] += (used.user + used.system) / 1000;
      }
    }
    const o = times.ours.sort((a, b) => a - b);
    const b = times.baseline.sort((a, b) => a - b);
    const f = (n: number) => `${n.toFixed(1).padStart(7)} ms`;
    const proposal = process.env.SLOTS_PROPOSED_INDEX === '1' ? ' (with the proposed busy_interval index)' : '';
    console.log(`availableSlots over HTTP, 30 days, round robin of ${MEMBERS} members x 2 calendars x ${EVENTS} events, ${APPOINTMENTS} appointments, SQLite${proposal}; ${slots.length} slots answered, ${ROUNDS} requests each`);
    console.log(`  baseline (old method)  p50 ${f(percentile(b, 0.5))}  p99 ${f(percentile(b, 0.99))}  cpu ${f(cpu.baseline / ROUNDS)}/request`);
    console.log(`  ours                   p50 ${f(percentile(o, 0.5))}  p99 ${f(percentile(o, 0.99))}  cpu ${f(cpu.ours / ROUNDS)}/request`);
    console.log(`  ratio                  p50 ${(percentile(b, 0.5) / percentile(o, 0.5)).toFixed(1)}x  p99 ${(percentile(b, 0.99) / percentile(o, 0.99)).toFixed(1)}x  cpu ${(cpu.baseline / cpu.ours).toFixed(1)}x less`);
    console.log(`availability() alone, in process: baseline p50 ${f(percentile(serviceBase, 0.5))} | ours p50 ${f(percentile(serviceOurs, 0.5))} | ${(percentile(serviceBase, 0.5) / percentile(serviceOurs, 0.5)).toFixed(1)}x`);
    const name = `availableSlots over HTTP, 30 days, round robin ${MEMBERS} x 2 calendars x ${EVENTS} events`;
    const peerName = 'the previous method (bench/baseline)';
    return [
      lessIsBetter(name, 'p50', 'ms', percentile(o, 0.5), percentile(b, 0.5), peerName),
      lessIsBetter(name, 'p99', 'ms', percentile(o, 0.99), percentile(b, 0.99), peerName),
      lessIsBetter(name, 'CPU per request', 'ms', cpu.ours / ROUNDS, cpu.baseline / ROUNDS, peerName),
    ];
  } finally {
    agent.destroy();
    await peer.close();
    await app.close();
  }
}

runAsMain(module, benchSlots);
