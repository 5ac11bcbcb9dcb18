import fc from 'fast-check';
import type { MemoryFault } from '../dev/memory-caldav';
import type { Principal } from '../src/auth/jwt';
import { Appointment, AppointmentStatus } from '../src/entities/appointment.entity';
import { ConflictKind, ConflictWarning } from '../src/entities/conflict-warning.entity';
import { CrmCalendarType } from '../src/entities/crm-calendar.entity';
import { OutboxEntry } from '../src/entities/outbox-entry.entity';
import { AppointmentSyncLink, SyncState } from '../src/entities/sync-link.entity';
import { SyncOutcome } from '../src/entities/sync-run.entity';
import { AppError } from '../src/errors';
import { uidFor } from '../src/sync/ical/event-renderer';
import { CRM_UID_SUFFIX } from '../src/sync/sync-key';
import { appointmentKey } from '../src/sync/sync-key';
import { allDayEvent, busyRows, cleanSlate, clock, connectUser, drainNow, movedEvent, phoneEvent, propertyStats, startMemoryWorld, timesOf, type MemoryUser, type MemoryWorld } from './harness/memory-world';

/**
 * Two-way sync as a state machine (vdirsyncer's approach): the REAL sync (inbound planner and executor,
 * push planner and outbound executor, outbox, SQLite) against an in-memory iCloud, driven by random
 * commands: the CRM books, reschedules, cancels and restores; the users' iPhones create, move, re-save and
 * delete events (CRM copies included); syncs and outbox drains run; faults (lost answers, 412, 404, 5xx,
 * timeouts, resets, refused sync tokens) hit any request. Then the faults stop and the system settles
 * (drain with retries made due, sync, until nothing changes). It must have converged, lost nothing, and
 * never written the read-only calendar.
 */

const DAY = 86400000;
const HOUR = 3600000;
const SLUGS = ['home', 'work', 'holidays'] as const;
type Slug = (typeof SLUGS)[number];

const FAULTS: MemoryFault[] = [
  { kind: 'status', status: 500 },
  { kind: 'status', status: 503, retryAfterSeconds: 1 },
  { kind: 'status', status: 404 },
  { kind: 'status', status: 412 },
  { kind: 'timeout' },
  { kind: 'reset' },
  { kind: 'lostAnswer' },
  { kind: 'lostAnswer' },
  { kind: 'invalidSyncToken' },
];

const slot = fc.record({ day: fc.integer({ min: 1, max: 3 }), hour: fc.integer({ min: 8, max: 15 }) });
type Slot = { day: number; hour: number };

const command = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('book' as const), slot }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('reschedule' as const), which: fc.nat(), slot }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const), which: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restore' as const), which: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('phoneCreate' as const), user: fc.nat(), slug: fc.constantFrom<Slug>('work', 'home'), slot, half: fc.boolean(), minutes: fc.constantFrom(30, 60) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('holiday' as const), user: fc.nat(), day: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('phoneEdit' as const), copy: fc.boolean(), which: fc.nat(), slot, half: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('phoneTouch' as const), copy: fc.boolean(), which: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('phoneDelete' as const), copy: fc.boolean(), which: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('sync' as const), user: fc.nat() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('drain' as const), due: fc.boolean() }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('fault' as const), fault: fc.constantFrom(...FAULTS), method: fc.constantFrom(undefined, undefined, 'PUT', 'PUT', 'DELETE', 'GET', 'REPORT') }) },
);

const scenario = fc.record({
  users: fc.constantFrom(1, 1, 1, 2),
  /** Booked before anything else happens, then pushed: copies for the phones to move and delete. */
  booked: fc.array(slot, { maxLength: 2 }),
  commands: fc.array(command, { minLength: 1, maxLength: 12 }),
  /** Random faults on top of the injected ones, at this rate per request (seeded). */
  rate: fc.constantFrom<number>(0.1, 0.25, 0.4),
  seed: fc.integer({ min: 1, max: 2 ** 30 }),
  /** iCloud sometimes answers a PUT without an ETag: the executor GETs it. */
  etagOnPut: fc.boolean(),
});
type Scenario = typeof scenario extends fc.Arbitrary<infer S> ? S : never;

/** What the test knows of one appointment: what the CRM and the phones did to it. */
interface Appt {
  id: string;
  title: string;
  /** Internal user id of the assignee the CRM last gave it. */
  assignee: string;
  /** The times the CRM last set (book, reschedule), and when. */
  crm: { start: Date; end: Date; at: number };
  /** The last move of one of its copies on a phone. */
  phone?: { start: Date; end: Date; at: number; userId: string };
  /** Every move of its copies on a phone (a sync may have seen any of them). */
  phoneMoves: { start: Date; end: Date; at: number; userId: string }[];
  cancelled: boolean;
  rescheduled: boolean;
  phoneEdited: boolean;
  /** Users whose phone deleted the copy (since the last restore), and whether any ever did. */
  copyDeleted: Set<string>;
  everDeleted: boolean;
}

/** An event the phone (or the holiday feed) made: never a CRM copy. */
interface Own {
  user: MemoryUser;
  slug: Slug;
  href: string;
  data: string;
  start: Date;
  end: Date;
  title: string;
}

/**
 * A fixed seed in CI, so that a run is repeatable and a red CI names a real regression; PROPERTY_SEED=<n>
 * explores other sequences (a counterexample found that way goes into FOUND below once fixed).
 */
const PROPERTY_SEED = Number(process.env.PROPERTY_SEED ?? 20261130);

/**
 * Counterexamples the property found, replayed on every run (with an explicit version of each that does not
 * depend on the random faults). First: a create whose answer was lost (here: the GET for its etag failed),
 * then the iPhone moved the copy: the retry's 412 wrote the CRM's version over the iPhone's edit without a
 * word (fixed in `outbound.executor.ts`, `create`).
 */
const FOUND: [Scenario][] = [
  [{ users: 1, booked: [{ day: 1, hour: 8 }], commands: [{ kind: 'phoneEdit', copy: true, which: 0, slot: { day: 1, hour: 9 }, half: false }, { kind: 'restore', which: 0 }], rate: 0.1, seed: 201623448, etagOnPut: false }],
  [{ users: 1, booked: [], commands: [{ kind: 'book', slot: { day: 2, hour: 10 } }, { kind: 'fault', fault: { kind: 'lostAnswer' }, method: 'PUT' }, { kind: 'drain', due: false }, { kind: 'phoneEdit', copy: true, which: 0, slot: { day: 2, hour: 14 }, half: true }], rate: 0, seed: 7, etagOnPut: true }],
  // A copy written, its etag never read back (404), then deleted on the phone: a full listing (the first sync)
  // did not notice, as no status row was stored for it, and the copy stayed SYNCED (fixed in `inbound.planner.ts`).
  [{ users: 1, booked: [{ day: 1, hour: 8 }], commands: [{ kind: 'drain', due: true }, { kind: 'phoneDelete', copy: true, which: 0 }, { kind: 'phoneDelete', copy: false, which: 0 }], rate: 0.25, seed: 435113891, etagOnPut: false }],
  [{ users: 1, booked: [{ day: 2, hour: 9 }], commands: [{ kind: 'fault', fault: { kind: 'status', status: 404 }, method: 'GET' }, { kind: 'drain', due: true }, { kind: 'phoneDelete', copy: true, which: 0 }], rate: 0, seed: 3, etagOnPut: false }],
  // The first fix's own regression: a copy whose etag never came back, then rescheduled in the CRM: the create's
  // 412 no longer knew the version in iCloud as ours and raised an EDIT_CONFLICT nobody caused.
  [{ users: 1, booked: [{ day: 1, hour: 8 }], commands: [{ kind: 'reschedule', which: 0, slot: { day: 1, hour: 9 } }, { kind: 'drain', due: false }], rate: 0.1, seed: 435978850, etagOnPut: false }],
  [{ users: 1, booked: [{ day: 3, hour: 11 }], commands: [{ kind: 'fault', fault: { kind: 'status', status: 404 }, method: 'GET' }, { kind: 'drain', due: false }, { kind: 'reschedule', which: 0, slot: { day: 3, hour: 13 } }, { kind: 'drain', due: false }], rate: 0, seed: 5, etagOnPut: false }],
  // A create retried after its etag was lost (404) and a 503: the write-ahead forgot the version confirmed
  // before, and the retry's 412 took it for an iPhone edit: an EDIT_CONFLICT nobody caused (fixed in `linkState.writing`).
  [{ users: 1, booked: [{ day: 1, hour: 8 }], commands: [{ kind: 'reschedule', which: 0, slot: { day: 2, hour: 8 } }, { kind: 'drain', due: false }], rate: 0.25, seed: 1018470900, etagOnPut: false }],
  // The iPhone moves a copy; the CRM reschedules to the time it has (no change, so the move still stands: fixed
  // in `BookingService.reschedule`, which pushed it as a CRM change made after the move).
  [{ users: 1, booked: [{ day: 3, hour: 14 }], commands: [{ kind: 'phoneEdit', copy: true, which: 0, slot: { day: 1, hour: 8 }, half: false }, { kind: 'reschedule', which: 0, slot: { day: 3, hour: 14 } }, { kind: 'phoneEdit', copy: false, which: 0, slot: { day: 1, hour: 8 }, half: false }], rate: 0.4, seed: 1073725310, etagOnPut: false }],
  // The iPhone moves a copy; the CRM moves the appointment there and back before any push. The content is what
  // iCloud had, so nothing was written, and the next sync followed the iPhone although the CRM changed last
  // (fixed in `planPush`: a CRM change since iCloud's version is written with If-Match).
  [{ users: 1, booked: [{ day: 2, hour: 15 }], commands: [{ kind: 'phoneEdit', copy: true, which: 0, slot: { day: 1, hour: 8 }, half: false }, { kind: 'reschedule', which: 0, slot: { day: 1, hour: 8 } }, { kind: 'reschedule', which: 0, slot: { day: 2, hour: 15 } }], rate: 0.1, seed: 1, etagOnPut: true }],
  // (The model's mistake: a copy moved twice on the iPhone, the first move synced, then deleted: the CRM keeps the first move.)
  [{ users: 1, booked: [{ day: 1, hour: 8 }], commands: [{ kind: 'phoneEdit', copy: true, which: 0, slot: { day: 1, hour: 8 }, half: true }, { kind: 'sync', user: 0 }, { kind: 'phoneEdit', copy: true, which: 0, slot: { day: 1, hour: 8 }, half: false }, { kind: 'phoneDelete', copy: true, which: 0 }, { kind: 'restore', which: 0 }], rate: 0.1, seed: 17930579, etagOnPut: false }],
  // (The model's own mistake, kept as a reminder: a reschedule to the time the CRM already has is no change.)
  [{ users: 1, booked: [{ day: 1, hour: 12 }], commands: [{ kind: 'phoneEdit', copy: true, which: 0, slot: { day: 1, hour: 8 }, half: false }, { kind: 'reschedule', which: 0, slot: { day: 1, hour: 12 } }, { kind: 'fault', fault: { kind: 'status', status: 500 }, method: undefined }], rate: 0.1, seed: 1, etagOnPut: true }],
];

let world: MemoryWorld;
let runs = 0;
/** What the runs covered and cost (PROPERTY_STATS=1). */
const stats = propertyStats();
/** Sam and Tom, connected once; each run starts from a clean slate (see `cleanSlate`). */
let pool: MemoryUser[];
const admin: Principal = { sub: 'boss', tenantId: 'tenant-a', role: 'admin' };
/** A CRM calendar of Sam alone, and one of both (round robin: a reschedule may move the appointment to the other). */
let calendars: { solo: string; team: string };

beforeAll(async () => {
  clock.install();
  world = await startMemoryWorld();
  pool = [await connectUser(world, admin.tenantId, 'sam'), await connectUser(world, admin.tenantId, 'tom')];
  const open = [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '08:00', end: '20:00' }));
  const calendar = async (members: MemoryUser[]) =>
    (await world.services.calendars.create(world.orm.fork(), admin, { name: 'Consult', type: CrmCalendarType.SERVICE, timezone: 'UTC', slotDurationMinutes: 60, openHours: open, teamMembers: members.map((u) => ({ userId: u.sub })) })).id;
  calendars = { solo: await calendar(pool.slice(0, 1)), team: await calendar(pool) };
});
afterAll(async () => {
  await world?.close();
  clock.uninstall();
});

const same = (a: Date | null | undefined, b: Date | null | undefined) => !!a && !!b && a.getTime() === b.getTime();
const span = (s: { start: Date; end: Date }) => `${s.start.toISOString()}..${s.end.toISOString()}`;
const pick = <T>(items: T[], n: number): T | undefined => (items.length ? items[n % items.length] : undefined);

async function runScenario(input: Scenario): Promise<void> {
  const { orm, services, memory } = world;
  const n = ++runs;
  const trace: string[] = [];
  // A run never sees another's leftovers (a failed run, a shrink attempt).
  stats.charge('between');
  await cleanSlate(world, pool);
  stats.charge('cleanSlate');
  memory.reseed(input.seed);
  memory.etagOnPut(input.etagOnPut);
  const users = pool.slice(0, input.users);
  const userIds = users.map((u) => u.userId);
  const calendarId = input.users === 1 ? calendars.solo : calendars.team;
  const base = Math.floor(Date.now() / DAY) * DAY;
  const at = (s: Slot, half = false) => new Date(base + s.day * DAY + s.hour * HOUR + (half ? HOUR / 2 : 0));
  const appts: Appt[] = [];
  const own: Own[] = [];
  const uidOf = (x: Appt, userId: string) => uidFor(appointmentKey(x.id), userId);

  /** CRM copies on the server now, with their appointment and user. */
  const copiesNow = () =>
    users.flatMap((user) =>
      SLUGS.flatMap((slug) =>
        user.account.phone
          .list(slug)
          .map((o) => ({ ...o, user, slug, appt: appts.find((x) => timesOf(o.data).uid === uidOf(x, user.userId)) }))
          .filter((o) => o.appt !== undefined),
      ),
    );

  // Booked first (no request to iCloud yet); their first push already meets the faults.
  const commands: Scenario['commands'] = input.booked.map((s) => ({ kind: 'book' as const, slot: s }));
  const prologue = commands.length;
  if (prologue) commands.push({ kind: 'drain' as const, due: false });
  commands.push(...input.commands);
  let requestsBefore = memory.requests;
  for (const [step, c] of commands.entries()) {
    // Faults from the first command after the prologue on.
    if (step === prologue) {
      memory.random(input.rate, input.seed, FAULTS);
      requestsBefore = memory.requests;
    }
    clock.tick();
    const em = orm.fork();
    trace.push(JSON.stringify(c));
    try {
      switch (c.kind) {
        case 'book': {
          const a = await services.booking.book(em, admin, { calendarId, startsAt: at(c.slot), contact: { name: `Contact ${step}` }, title: `Appt ${step}` });
          const assignee = a.assignees.getItems().find((x) => x.active)!.userId;
          appts.push({ id: a.id, title: a.title, assignee, crm: { start: a.startsAt, end: a.endsAt, at: Date.now() }, phoneMoves: [], cancelled: false, rescheduled: false, phoneEdited: false, copyDeleted: new Set(), everDeleted: false });
          break;
        }
        case 'reschedule': {
          const x = pick(appts.filter((a) => !a.cancelled), c.which);
          if (!x) break;
          const was = (await em.findOneOrFail(Appointment, x.id)).startsAt.getTime();
          const a = await services.booking.reschedule(em, admin, x.id, at(c.slot));
          x.assignee = a.assignees.getItems().find((y) => y.active)!.userId;
          // To the time it has in the CRM already: no change to push (an iPhone move not yet synced still stands).
          if (a.startsAt.getTime() !== was) Object.assign(x, { crm: { start: a.startsAt, end: a.endsAt, at: Date.now() }, rescheduled: true });
          break;
        }
        case 'cancel': {
          const x = pick(appts.filter((a) => !a.cancelled), c.which);
          if (!x) break;
          await services.booking.cancel(em, admin, x.id);
          x.cancelled = true;
          break;
        }
        case 'restore': {
          // The user acts on the DELETED_IN_ICLOUD warning: only a copy recorded as deleted is restored.
          const deleted = new Set((await em.find(AppointmentSyncLink, { userId: { $in: userIds }, state: SyncState.DELETED_IN_ICLOUD })).map((l) => `${l.syncKey}|${l.userId}`));
          const x = pick(appts.filter((a) => !a.cancelled && deleted.has(`${appointmentKey(a.id)}|${a.assignee}`)), c.which);
          if (!x) break;
          const a = await services.booking.restoreInICloud(em, admin, x.id);
          // What is pushed back is what the CRM has now.
          Object.assign(x, { crm: { start: a.startsAt, end: a.endsAt, at: Date.now() }, phone: undefined, copyDeleted: new Set() });
          break;
        }
        case 'phoneCreate': {
          const user = users[c.user % users.length];
          const start = at(c.slot, c.half);
          const end = new Date(start.getTime() + c.minutes * 60000);
          const title = `Phone ${step}`;
          const data = phoneEvent(`phone-${n}-${step}@iphone.memory.test`, start, end, title);
          own.push({ user, slug: c.slug, href: user.account.phone.create(c.slug, data), data, start, end, title });
          break;
        }
        case 'holiday': {
          // The subscription feed adds or drops a holiday in the read-only calendar.
          const user = users[c.user % users.length];
          const day = new Date(base + c.day * DAY);
          const existing = own.find((o) => o.user === user && o.slug === 'holidays' && same(o.start, day));
          if (existing) {
            user.account.phone.delete(existing.href);
            own.splice(own.indexOf(existing), 1);
          } else {
            const title = `Holiday ${step}`;
            const data = allDayEvent(`holiday-${n}-${step}@feed.memory.test`, day, title);
            own.push({ user, slug: 'holidays', href: user.account.phone.create('holidays', data), data, start: day, end: new Date(day.getTime() + DAY), title });
          }
          break;
        }
        case 'phoneEdit': {
          const start = at(c.slot, c.half);
          if (c.copy) {
            const copy = pick(copiesNow(), c.which);
            if (!copy) break;
            const was = timesOf(copy.data);
            const end = new Date(start.getTime() + (was.end!.getTime() - was.start!.getTime()));
            // A "move" to the times the copy already has changes nothing the CRM reads: the copy is the same
            // version as ours, so the CRM's pending change rightly wins (it is a touch, not an edit).
            if (start.getTime() === was.start!.getTime()) {
              copy.user.account.phone.touch(copy.href);
              break;
            }
            copy.user.account.phone.update(copy.href, movedEvent(copy.data, start, end));
            const move = { start, end, at: Date.now(), userId: copy.user.userId };
            Object.assign(copy.appt!, { phone: move, phoneEdited: true });
            copy.appt!.phoneMoves.push(move);
          } else {
            const o = pick(own.filter((e) => e.slug !== 'holidays'), c.which);
            if (!o) break;
            const end = new Date(start.getTime() + (o.end.getTime() - o.start.getTime()));
            o.data = movedEvent(o.data, start, end);
            o.user.account.phone.update(o.href, o.data);
            Object.assign(o, { start, end });
          }
          break;
        }
        case 'phoneTouch': {
          const target = c.copy ? pick(copiesNow(), c.which) : pick(own, c.which);
          if (target) target.user.account.phone.touch(target.href);
          break;
        }
        case 'phoneDelete': {
          if (c.copy) {
            const copy = pick(copiesNow(), c.which);
            if (!copy) break;
            copy.user.account.phone.delete(copy.href);
            copy.appt!.copyDeleted.add(copy.user.userId);
            copy.appt!.everDeleted = true;
          } else {
            const o = pick(own.filter((e) => e.slug !== 'holidays'), c.which);
            if (!o) break;
            o.user.account.phone.delete(o.href);
            own.splice(own.indexOf(o), 1);
          }
          break;
        }
        case 'sync': {
          const run = await services.sync.syncIntegration(em, users[c.user % users.length].integrationId);
          trace.push(`  sync ${run.outcome} +${run.created} ~${run.updated} -${run.deleted}${run.error ? ` ${run.error}` : ''}`);
          break;
        }
        case 'drain':
          await drainNow(world, userIds, c.due);
          break;
        case 'fault':
          memory.inject(c.fault, c.method ? { method: c.method } : {});
          break;
      }
    } catch (e) {
      // The CRM refusing a booking (slot taken) is an answer, not a failure.
      if (!(e instanceof AppError)) throw e;
      trace.push(`  ${e.code}`);
    }
    stats.charge(step < prologue ? 'prologue book' : step === prologue && input.booked.length ? 'prologue drain' : c.kind);
  }

  stats.saw('requests while faults were on', memory.requests - requestsBefore);
  // The faults stop; the system settles on its own (retries made due, syncs), as the reconciler would.
  memory.clearFaults();
  const violations: string[] = [];
  for (let round = 0; ; round++) {
    clock.tick();
    await drainNow(world, userIds);
    stats.charge('settle drain');
    const runsNow = [];
    for (const u of users) runsNow.push(await services.sync.syncIntegration(orm.fork(), u.integrationId));
    stats.charge('settle sync');
    const pending = await orm.fork().count(OutboxEntry, { userId: { $in: userIds } });
    // Settled: nothing left to push and every calendar synced cleanly (what a sync applies never asks for a push here).
    if (pending === 0 && runsNow.every((r) => r.outcome === SyncOutcome.SUCCESS)) break;
    if (round === 5) {
      violations.push(`did not settle in 6 rounds (${pending} pushes pending)`);
      break;
    }
  }
  violations.push(...(await check(users, appts, own, copiesNow)));
  stats.charge('check');
  for (const w of await orm.fork().find(ConflictWarning, { userId: { $in: userIds } })) stats.saw(w.kind);
  if (appts.some((x) => x.phoneEdited)) stats.saw('runs with a copy moved on a phone');
  if (appts.some((x) => x.phoneEdited && x.rescheduled)) stats.saw('runs with a copy moved on both sides');
  if (appts.some((x) => x.everDeleted)) stats.saw('runs with a copy deleted on a phone');
  if (violations.length) throw new Error(`${violations.join('\n')}\n\nsteps:\n${trace.join('\n')}\n\nlast requests:\n${memory.log.slice(-40).join('\n')}`);
}

async function check(users: MemoryUser[], appts: Appt[], own: Own[], copiesNow: () => { href: string; data: string; user: MemoryUser; slug: Slug; appt?: Appt }[]): Promise<string[]> {
  const { orm, memory } = world;
  const em = orm.fork();
  const userIds = users.map((u) => u.userId);
  const v: string[] = [];
  const copies = copiesNow();
  const subOf = (userId: string) => users.find((u) => u.userId === userId)?.sub;

  // Every CRM-made object on the server is a copy of an appointment we know.
  const all = users.flatMap((user) => SLUGS.flatMap((slug) => user.account.phone.list(slug).map((o) => ({ ...o, user, slug }))));
  for (const o of all) if (timesOf(o.data).uid?.endsWith(CRM_UID_SUFFIX) && !copies.some((c) => c.href === o.href)) v.push(`${o.href} is a CRM copy of no appointment`);

  const rows = new Map((await em.find(Appointment, { id: { $in: appts.map((x) => x.id) } }, { populate: ['assignees'] })).map((a) => [a.id, a]));
  const links = await em.find(AppointmentSyncLink, { userId: { $in: userIds } });
  for (const x of appts) {
    const row = rows.get(x.id);
    if (!row) {
      v.push(`${x.title} is lost`);
      continue;
    }
    const its = copies.filter((c) => c.appt === x);
    // Nothing but the CRM cancels an appointment: a copy deleted in iCloud is recorded, never propagated.
    if (row.status !== (x.cancelled ? AppointmentStatus.CANCELLED : AppointmentStatus.BOOKED)) v.push(`${x.title} is ${row.status}`);
    if (x.cancelled) {
      if (its.length) v.push(`cancelled ${x.title} still has ${its.length} copies in iCloud (${its.map((c) => `${c.user.sub}/${c.slug}`)})`);
      continue;
    }
    const assignee = row.assignees.getItems().find((a) => a.active)?.userId;
    if (assignee !== x.assignee) v.push(`${x.title} is assigned to ${assignee && subOf(assignee)}, expected ${subOf(x.assignee)}`);
    const crm = { start: row.startsAt, end: row.endsAt };
    // The later change wins: the CRM's, or the assignee's phone's move of its copy.
    const phoneWon = x.phone !== undefined && x.phone.at > x.crm.at && x.phone.userId === x.assignee;
    const expected = phoneWon ? x.phone! : x.crm;
    const deleted = x.copyDeleted.has(x.assignee);
    // A copy the phone moved and then deleted: the CRM followed a move (since its own last change) only if a
    // sync saw it in between, and which one depends on when syncs ran.
    const seen = x.phoneMoves.filter((m) => m.at > x.crm.at && m.userId === x.assignee);
    const acceptable = [expected, ...(deleted ? [x.crm, ...seen] : [])];
    if (!acceptable.some((e) => same(e.start, crm.start) && same(e.end, crm.end))) v.push(`${x.title} is at ${span(crm)} in the CRM, expected ${span(expected)} (${phoneWon ? 'the phone' : 'the CRM'} changed it last)`);
    const link = links.find((l) => l.syncKey === appointmentKey(x.id) && l.userId === x.assignee);
    const home = its.filter((c) => c.user.userId === x.assignee && c.slug === 'work');
    if (home.length !== its.length) v.push(`${x.title} has copies outside its assignee's primary calendar: ${its.filter((c) => !home.includes(c)).map((c) => `${c.user.sub}/${c.slug}`)}`);
    if (home.length > 1) v.push(`${x.title} has ${home.length} copies in the primary calendar of ${subOf(x.assignee)}`);
    if (home.length === 0) {
      if (!deleted) v.push(`${x.title} has no copy in the primary calendar of ${subOf(x.assignee)} (${link?.state})`);
      else if (link?.state !== SyncState.DELETED_IN_ICLOUD) v.push(`${x.title}'s copy was deleted on the phone, but the copy is ${link?.state}`);
    } else {
      const copy = timesOf(home[0].data);
      if (!same(copy.start, crm.start) || !same(copy.end, crm.end) || copy.summary !== row.title) v.push(`${x.title} is "${copy.summary}" at ${copy.start?.toISOString()}..${copy.end?.toISOString()} in iCloud, "${row.title}" at ${span(crm)} in the CRM`);
      if (link?.state !== SyncState.SYNCED) v.push(`${x.title} is in iCloud but ${link?.state} (${link?.lastError})`);
    }
  }

  for (const user of users) {
    for (const slug of SLUGS) {
      // The phone's own events are never changed, moved or deleted by the sync.
      const expected = own.filter((o) => o.user === user && o.slug === slug).map((o) => `${o.href}\n${o.data}`).sort();
      const got = all.filter((o) => o.user === user && o.slug === slug && !timesOf(o.data).uid?.endsWith(CRM_UID_SUFFIX)).map((o) => `${o.href}\n${o.data}`).sort();
      if (JSON.stringify(got) !== JSON.stringify(expected)) v.push(`the events the phone made in ${slug} of ${user.sub} changed: ${got.length} there, ${expected.length} made`);
    }
    // Busy time in the local index is what the phone's events in the checked calendars say.
    const busy = own.filter((o) => o.user === user && o.slug !== 'home').map((o) => `${o.start.toISOString()}/${o.end.toISOString()} ${o.title}`).sort();
    const indexed = await busyRows(world, user.userId);
    if (JSON.stringify(indexed) !== JSON.stringify(busy)) v.push(`busy time of ${user.sub} is ${JSON.stringify(indexed)}, the phone says ${JSON.stringify(busy)}`);
    const writes = memory.writes(user.urls.holidays);
    if (writes.attempted) v.push(`the read-only calendar of ${user.sub} received ${writes.attempted} writes`);
  }

  for (const w of await em.find(ConflictWarning, { userId: { $in: userIds } })) {
    const x = appts.find((a) => a.id === w.appointmentId);
    if (w.kind === ConflictKind.EDIT_CONFLICT && !(x?.rescheduled && x.phoneEdited)) v.push(`EDIT_CONFLICT for ${x?.title}, which ${x?.rescheduled ? 'no phone moved' : 'the CRM never rescheduled'}: ${w.message}`);
    if (w.kind === ConflictKind.DELETED_IN_ICLOUD && !x?.everDeleted) v.push(`DELETED_IN_ICLOUD for ${x?.title}, whose copy no phone deleted`);
  }
  v.push(...world.errors.map((e) => `logged: ${e.slice(0, 400)}`));
  return v;
}

describe('two-way sync, the real code against an in-memory iCloud with faults', () => {
  // 300 random runs plus the counterexamples found so far (PROPERTY_RUNS and PROPERTY_SEED explore further).
  it('converges, loses nothing, never writes the read-only calendar, and raises EDIT_CONFLICT only when both sides edited', async () => {
    const runs = Number(process.env.PROPERTY_RUNS ?? 300);
    await fc.assert(fc.asyncProperty(scenario, (input) => runScenario(input)), { numRuns: runs, seed: PROPERTY_SEED, examples: FOUND });
    stats.print(world.memory.injected);
  }, 600_000);
});
