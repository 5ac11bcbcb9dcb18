import fc from 'fast-check';
import type { MemoryFault } from '../dev/memory-caldav';
import type { Principal } from '../src/auth/jwt';
import { Appointment, AppointmentStatus } from '../src/entities/appointment.entity';
import { CrmCalendarType } from '../src/entities/crm-calendar.entity';
import { ExternalCalendar } from '../src/entities/external-calendar.entity';
import { ExternalEvent } from '../src/entities/external-event.entity';
import { OutboxEntry } from '../src/entities/outbox-entry.entity';
import { AppointmentSyncLink, SyncState } from '../src/entities/sync-link.entity';
import { SyncOutcome } from '../src/entities/sync-run.entity';
import { AppError } from '../src/errors';
import { uidFor } from '../src/sync/ical/event-renderer';
import { contentHash } from '../src/sync/ical/content-hash';
import { appointmentKey } from '../src/sync/sync-key';
import { allDayEvent, busyRows, cleanSlate, clock, connectUser, drainNow, movedEvent, phoneEvent, propertyStats, startMemoryWorld, timesOf, type MemoryUser, type MemoryWorld } from './harness/memory-world';

/**
 * The inbound side (calendar reader, `planInbound`, the inbound executor, through `syncIntegration`) against
 * an in-memory iCloud, on SQLite: the phone creates, moves, re-saves (new etag, same content), breaks and
 * deletes events, also CRM copies; the server refuses or expires sync tokens, answers an empty listing,
 * leaves objects out of a multiget, fails, times out. Every sync is checked as it happens, and once the
 * faults stop and a day has passed (the daily full listing) the local index must equal the calendars.
 */

const DAY = 86400000;
const HOUR = 3600000;
const CHECKED = ['work', 'holidays'] as const;
type Checked = (typeof CHECKED)[number];

const FAULTS: MemoryFault[] = [
  { kind: 'status', status: 500 },
  { kind: 'status', status: 503, retryAfterSeconds: 1 },
  { kind: 'status', status: 404 },
  { kind: 'timeout' },
  { kind: 'reset' },
  { kind: 'lostAnswer' },
  { kind: 'invalidSyncToken' },
  { kind: 'expiredSyncToken' },
  { kind: 'emptyListing' },
  { kind: 'omitObjects' },
];

const slot = fc.record({ day: fc.integer({ min: 1, max: 3 }), hour: fc.integer({ min: 8, max: 15 }), half: fc.boolean() });
type Slot = { day: number; hour: number; half: boolean };

const command = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('create' as const), slot, minutes: fc.constantFrom(30, 60), days: fc.constantFrom(1, 1, 2, 3) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('holiday' as const), day: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('broken' as const) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('move' as const), copy: fc.boolean(), which: fc.nat(), slot }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('touch' as const), copy: fc.boolean(), which: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), copy: fc.boolean(), which: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('deleteAll' as const), refuseToken: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reschedule' as const), which: fc.nat(), slot }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('drain' as const) }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('sync' as const) }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('fault' as const), fault: fc.constantFrom(...FAULTS) }) },
);

const scenario = fc.record({
  /** Appointments booked and pushed first: CRM copies among the phone's events. */
  booked: fc.array(slot, { maxLength: 1 }),
  /** Phone events there before the first sync. */
  initial: fc.array(fc.record({ slot, minutes: fc.constantFrom(30, 60), days: fc.constantFrom(1, 2) }), { maxLength: 3 }),
  commands: fc.array(command, { minLength: 1, maxLength: 12 }),
  rate: fc.constantFrom<number>(0.1, 0.2, 0.35),
  seed: fc.integer({ min: 1, max: 2 ** 30 }),
});
type Scenario = typeof scenario extends fc.Arbitrary<infer S> ? S : never;

/** An event the phone (or the holiday feed) made, and the busy time it stands for. */
interface Own {
  slug: Checked;
  href: string;
  data: string;
  uid: string;
  title: string;
  /** Busy lines `start/end title` it should give; none for a broken object. */
  busy: string[];
  broken: boolean;
  start: Date;
  minutes: number;
  days: number;
}

/**
 * A fixed seed in CI, so that a run is repeatable and a red CI names a real regression; PROPERTY_SEED=<n>
 * explores other sequences (a counterexample found that way goes into FOUND below once fixed).
 */
const PROPERTY_SEED = Number(process.env.PROPERTY_SEED ?? 20261130);

/**
 * Counterexamples the property found, replayed on every run. A CRM change waiting to be pushed, the iPhone
 * moves the copy later: the push's 412 keeps iCloud's version but stored no status row for it, and the next
 * sync took it for our own write and kept our old version's row under iCloud's etag (fixed in
 * `outbound.executor.ts`).
 */
const FOUND: [Scenario][] = [
  [{ booked: [{ day: 1, hour: 8, half: false }], initial: [], commands: [{ kind: 'reschedule', which: 0, slot: { day: 2, hour: 8, half: false } }, { kind: 'move', copy: true, which: 0, slot: { day: 1, hour: 9, half: false } }, { kind: 'fault', fault: { kind: 'status', status: 500 } }], rate: 0, seed: 1 }],
];

let world: MemoryWorld;
let sam: MemoryUser;
let calendarId: string;
const admin: Principal = { sub: 'boss', tenantId: 'tenant-a', role: 'admin' };
let runs = 0;
/** What the runs covered and cost (PROPERTY_STATS=1). */
const stats = propertyStats();

beforeAll(async () => {
  clock.install();
  world = await startMemoryWorld();
  sam = await connectUser(world, admin.tenantId, 'sam');
  const open = [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '08:00', end: '20:00' }));
  ({ id: calendarId } = await world.services.calendars.create(world.orm.fork(), admin, { name: 'Consult', type: CrmCalendarType.SERVICE, timezone: 'UTC', slotDurationMinutes: 60, openHours: open, teamMembers: [{ userId: 'sam' }] }));
});
afterAll(async () => {
  await world?.close();
  clock.uninstall();
});

const pick = <T>(items: T[], n: number): T | undefined => (items.length ? items[n % items.length] : undefined);
const iso = (d: Date) => d.toISOString();

/** The busy lines of a timed event repeated daily `days` times. */
function busyOf(start: Date, minutes: number, days: number, title: string): string[] {
  return Array.from({ length: days }, (_, k) => {
    const s = new Date(start.getTime() + k * DAY);
    return `${iso(s)}/${iso(new Date(s.getTime() + minutes * 60000))} ${title}`;
  });
}

async function runScenario(input: Scenario): Promise<void> {
  const { orm, services, memory } = world;
  const n = ++runs;
  const trace: string[] = [];
  const violations: string[] = [];
  stats.charge('between runs');
  await cleanSlate(world, [sam]);
  stats.charge('clean slate');
  memory.reseed(input.seed);
  const base = Math.floor(Date.now() / DAY) * DAY;
  const at = (s: Slot) => new Date(base + s.day * DAY + s.hour * HOUR + (s.half ? HOUR / 2 : 0));
  const own: Own[] = [];
  const appts: { id: string; uid: string; copyDeleted: boolean }[] = [];
  const phone = sam.account.phone;
  let made = 0;

  const create = (slug: Checked, start: Date, minutes: number, days: number) => {
    const title = `Event ${++made}`;
    const uid = `ev-${n}-${made}@iphone.memory.test`;
    const data = phoneEvent(uid, start, new Date(start.getTime() + minutes * 60000), title, days > 1 ? [`RRULE:FREQ=DAILY;COUNT=${days}`] : []);
    own.push({ slug, href: phone.create(slug, data), data, uid, title, busy: busyOf(start, minutes, days, title), broken: false, start, minutes, days });
  };
  /** CRM copies on the server now. */
  const copies = () => phone.list('work').flatMap((o) => appts.filter((a) => timesOf(o.data).uid === a.uid).map((appt) => ({ ...o, appt })));

  // The starting point: appointments booked and pushed, the phone's events, one clean sync.
  for (const [i, s] of input.booked.entries()) {
    clock.tick();
    try {
      const a = await services.booking.book(orm.fork(), admin, { calendarId, startsAt: at(s), contact: { name: `Contact ${i}` }, title: `Appt ${i}` });
      appts.push({ id: a.id, uid: uidFor(appointmentKey(a.id), sam.userId), copyDeleted: false });
    } catch (e) {
      if (!(e instanceof AppError)) throw e;
    }
  }
  clock.tick();
  if (appts.length) await drainNow(world, [sam.userId]);
  for (const e of input.initial) create('work', at(e.slot), e.minutes, e.days);
  stats.charge('prologue: book, push');
  await services.sync.syncIntegration(orm.fork(), sam.integrationId);
  stats.charge('prologue: first sync');

  const lying = (memory.injected.expiredSyncToken ?? 0) + (memory.injected.emptyListing ?? 0);
  memory.random(input.rate, input.seed, FAULTS);
  for (const c of input.commands) {
    clock.tick();
    trace.push(JSON.stringify(c));
    switch (c.kind) {
      case 'create':
        create('work', at(c.slot), c.minutes, c.days);
        break;
      case 'holiday': {
        // The subscription feed adds or drops a holiday (an all-day event) in the read-only calendar.
        const day = new Date(base + c.day * DAY);
        const existing = own.find((o) => o.slug === 'holidays' && o.start.getTime() === day.getTime());
        if (existing) {
          phone.delete(existing.href);
          own.splice(own.indexOf(existing), 1);
        } else {
          const title = `Holiday ${++made}`;
          const data = allDayEvent(`holiday-${n}-${made}@feed.memory.test`, day, title);
          own.push({ slug: 'holidays', href: phone.create('holidays', data), data, uid: '', title, busy: [`${iso(day)}/${iso(new Date(day.getTime() + DAY))} ${title}`], broken: false, start: day, minutes: 1440, days: 1 });
        }
        break;
      }
      case 'broken': {
        // Cut off in the middle, as a buggy client leaves it: the reader skips it and names it.
        const data = `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:broken-${n}-${++made}\r\nSUMMARY:Broken ${made}\r\nDTSTART:20261201T100000Z\r\nEND:VCALENDAR\r\n`;
        own.push({ slug: 'work', href: phone.create('work', data), data, uid: '', title: '', busy: [], broken: true, start: new Date(0), minutes: 0, days: 0 });
        break;
      }
      case 'move': {
        const start = at(c.slot);
        if (c.copy) {
          const copy = pick(copies(), c.which);
          if (copy) phone.update(copy.href, movedEvent(copy.data, start, new Date(start.getTime() + HOUR)));
        } else {
          const o = pick(own.filter((e) => e.slug === 'work' && !e.broken), c.which);
          if (!o) break;
          o.data = phoneEvent(o.uid, start, new Date(start.getTime() + o.minutes * 60000), o.title, o.days > 1 ? [`RRULE:FREQ=DAILY;COUNT=${o.days}`] : []);
          phone.update(o.href, o.data);
          Object.assign(o, { start, busy: busyOf(start, o.minutes, o.days, o.title) });
        }
        break;
      }
      case 'touch': {
        const target = c.copy ? pick(copies(), c.which) : pick(own, c.which);
        if (target) phone.touch(target.href);
        break;
      }
      case 'delete': {
        if (c.copy) {
          const copy = pick(copies(), c.which);
          if (!copy) break;
          phone.delete(copy.href);
          copy.appt.copyDeleted = true;
        } else {
          const o = pick(own.filter((e) => e.slug === 'work'), c.which);
          if (!o) break;
          phone.delete(o.href);
          own.splice(own.indexOf(o), 1);
        }
        break;
      }
      case 'deleteAll':
        // The user empties the calendar: a full listing that comes back empty must then be believed (the second time).
        for (const copy of copies()) copy.appt.copyDeleted = true;
        for (const o of phone.list('work')) phone.delete(o.href);
        for (const o of own.filter((e) => e.slug === 'work')) own.splice(own.indexOf(o), 1);
        // And the token is refused next: the sync sees the empty calendar in a full listing.
        if (c.refuseToken) memory.inject({ kind: 'invalidSyncToken' }, { url: sam.urls.work });
        break;
      case 'reschedule': {
        // A CRM change waiting in the outbox: the sync must leave the copy to the push.
        const a = pick(appts, c.which);
        if (!a) break;
        try {
          await services.booking.reschedule(orm.fork(), admin, a.id, at(c.slot));
        } catch (e) {
          if (!(e instanceof AppError)) throw e;
        }
        break;
      }
      case 'drain':
        await drainNow(world, [sam.userId]);
        break;
      case 'sync':
        violations.push(...(await checkedSync(trace)));
        break;
      case 'fault':
        memory.inject(c.fault);
        break;
    }
    stats.charge(c.kind);
  }

  // The faults stop and the system settles. After a listing that lied (a full listing posing as changes
  // since an expired token, an empty one), a day passes first: the daily full listing is what repairs it.
  memory.clearFaults();
  if ((memory.injected.expiredSyncToken ?? 0) + (memory.injected.emptyListing ?? 0) > lying) clock.tick(25 * 3600);
  for (let round = 0; ; round++) {
    clock.tick();
    await drainNow(world, [sam.userId]);
    const run = await services.sync.syncIntegration(orm.fork(), sam.integrationId);
    const pending = await orm.fork().count(OutboxEntry, { userId: sam.userId });
    if (pending === 0 && run.outcome === SyncOutcome.SUCCESS) {
      stats.saw(`settled in ${round + 1} rounds`);
      break;
    }
    if (round === 5) {
      violations.push(`did not settle in 6 rounds (${pending} pushes pending, last run ${run.outcome}: ${run.error ?? run.warnings.join('; ')})`);
      break;
    }
  }
  stats.charge('settle');
  violations.push(...(await settled(own, appts)));
  stats.charge('final check');
  if (violations.length) throw new Error(`${violations.join('\n')}\n\nsteps:\n${trace.join('\n')}\n\nlast requests:\n${memory.log.slice(-40).join('\n')}`);
}

/** What is stored of the checked calendars: href -> etag, content hash, unreadable. */
async function stored(): Promise<Map<string, { etag: string; contentHash: string; unreadable: string | null; calendar: string }>> {
  const rows = await world.orm.fork().find(ExternalEvent, { calendar: { href: { $in: CHECKED.map((s) => sam.urls[s]) } } }, { populate: ['calendar'] });
  return new Map(rows.map((r) => [r.href, { etag: r.etag, contentHash: r.contentHash, unreadable: r.unreadable, calendar: r.calendar.href }]));
}

/** What the server holds in the checked calendars: href -> etag, data. */
function remote(): Map<string, { etag: string; data: string; calendar: string }> {
  return new Map(CHECKED.flatMap((slug) => sam.account.phone.list(slug).map((o) => [o.href, { etag: o.etag, data: o.data, calendar: sam.urls[slug] }] as const)));
}

/**
 * One sync, checked as it happens: it writes nothing to iCloud, removes nothing the server still has,
 * fetches only what changed, keeps the token of a calendar whose objects did not all arrive, never cancels
 * or moves an appointment whose CRM change waits in the outbox, and (when enough of the calendar is
 * unchanged to tell) takes a full listing answered to an expired token for what it is.
 */
async function checkedSync(trace: string[]): Promise<string[]> {
  const { orm, services, memory } = world;
  const v: string[] = [];
  const em = orm.fork();
  const before = await stored();
  const server = remote();
  const cursors = await em.find(ExternalCalendar, { href: { $in: CHECKED.map((s) => sam.urls[s]) } });
  const tokens = new Map(cursors.map((c) => [c.href, c.syncToken]));
  const emptyBefore = new Map(cursors.map((c) => [c.href, c.emptyListingSince]));
  const pending = new Set((await em.find(OutboxEntry, { userId: sam.userId })).map((e) => e.syncKey));
  const appointments = new Map((await em.find(Appointment, {})).map((a) => [a.id, `${iso(a.startsAt)} ${a.status}`]));
  const writes = CHECKED.map((s) => world.memory.writes(sam.urls[s]).attempted).join();
  const asked: { calendar: string; hrefs: string[] }[] = [];
  const fullListings = new Set<string>();
  memory.observe(({ method, url, body }) => {
    if (method === 'REPORT' && body.includes('calendar-multiget')) asked.push({ calendar: url.href, hrefs: [...body.matchAll(/<d:href>([^<]+)<\/d:href>/g)].map((m) => new URL(m[1], url).href) });
    if (method === 'REPORT' && body.includes('<d:sync-token></d:sync-token>')) fullListings.add(url.href);
  });
  const requests = memory.requests;
  stats.charge('checks around syncs');
  const run = await services.sync.syncIntegration(orm.fork(), sam.integrationId);
  stats.charge('syncIntegration');
  memory.observe(null);
  // One log line per request: this sync's.
  const log = memory.log.slice(-(memory.requests - requests));
  const faulty = (calendar: string) => log.filter((l) => l.split(' ')[1].startsWith(calendar) && /injected|answer lost|\)$/.test(l));
  trace.push(`  sync ${run.outcome} +${run.created} ~${run.updated} -${run.deleted}${run.error ? ` ${run.error}` : ''}`);
  const after = await stored();
  const calendars = await orm.fork().find(ExternalCalendar, { href: { $in: CHECKED.map((s) => sam.urls[s]) } });

  if (CHECKED.map((s) => world.memory.writes(sam.urls[s]).attempted).join() !== writes) v.push('a sync wrote to iCloud');
  for (const [href, row] of before) {
    if (!server.has(href) || after.has(href)) continue;
    // The one exception, by design: a second empty full listing in a row confirms the first (the server said
    // twice that the calendar is empty); the daily full listing brings the events back if it lied.
    if (emptyBefore.get(row.calendar) && fullListings.has(row.calendar)) {
      stats.saw('events removed by a second empty full listing');
      continue;
    }
    v.push(`a sync removed ${href}, which the server still has (etag ${row.etag})`);
  }
  for (const { hrefs } of asked) for (const href of hrefs) if (before.get(href)?.etag === server.get(href)?.etag) v.push(`a sync fetched ${href} again, unchanged`);
  for (const line of log.filter((l) => l.endsWith('(omitObjects)'))) {
    const calendar = line.split(' ')[1];
    stats.saw('syncs whose multiget came back without the objects');
    if (calendars.find((c) => c.href === calendar)?.syncToken !== tokens.get(calendar)) v.push(`the token of ${calendar} advanced although its changed objects did not arrive`);
  }
  for (const a of await orm.fork().find(Appointment, {})) {
    if (a.status !== AppointmentStatus.BOOKED) v.push(`a sync left ${a.title} ${a.status}`);
    if (pending.has(appointmentKey(a.id)) && appointments.get(a.id) !== `${iso(a.startsAt)} ${a.status}`) v.push(`a sync moved ${a.title}, whose CRM change was waiting to be pushed`);
  }
  for (const line of log.filter((l) => l.endsWith('(expiredSyncToken)'))) {
    const calendar = line.split(' ')[1];
    // Another fault on the way (a failed fallback listing, objects left out) leaves the calendar for the next sync.
    if (faulty(calendar).length > 1) continue;
    const mine = [...before].filter(([, r]) => r.calendar === calendar);
    const unchanged = mine.filter(([href, r]) => server.get(href)?.etag === r.etag).length;
    // The planner's test for "this is a full listing": at least two and half of the stored objects listed as they are.
    if (unchanged < 2 || unchanged * 2 < mine.length) continue;
    stats.saw('expired tokens recognised from the listing');
    const waiting = new Set((await orm.fork().find(AppointmentSyncLink, { userId: sam.userId, href: { $ne: null } })).filter((l) => pending.has(l.syncKey)).map((l) => l.href!));
    const want = [...server].filter(([href, o]) => o.calendar === calendar && !waiting.has(href)).map(([href, o]) => `${href} ${o.etag}`).sort();
    const got = [...after].filter(([href, r]) => r.calendar === calendar && !waiting.has(href)).map(([href, r]) => `${href} ${r.etag}`).sort();
    if (JSON.stringify(want) !== JSON.stringify(got)) v.push(`after an expired token answered with a full listing, ${calendar} holds ${JSON.stringify(got)}, the server ${JSON.stringify(want)}`);
  }
  for (const calendar of fullListings) {
    // A calendar with events that suddenly lists none: nothing goes until a second full listing confirms it.
    const had = [...before].filter(([, r]) => r.calendar === calendar);
    if (had.length === 0 || emptyBefore.get(calendar) || [...server.values()].some((o) => o.calendar === calendar)) continue;
    stats.saw('empty full listings held');
    if (had.some(([href]) => !after.has(href)) || calendars.find((c) => c.href === calendar)?.syncToken !== tokens.get(calendar)) v.push(`${calendar} listed no events for the first time and the sync did not hold: ${had.filter(([href]) => !after.has(href)).length} of ${had.length} removed`);
  }
  if (run.outcome === SyncOutcome.FAILED) stats.saw('failed syncs');
  return v;
}

/** Once settled: the local index equals the calendars, busy time equals the phone's events, copies are in line. */
async function settled(own: Own[], appts: { id: string; uid: string; copyDeleted: boolean }[]): Promise<string[]> {
  const v: string[] = [];
  const em = world.orm.fork();
  const rows = await stored();
  const server = remote();
  for (const [href, o] of server) {
    const row = rows.get(href);
    if (!row) v.push(`${href} is in iCloud but not stored`);
    else if (row.etag !== o.etag) v.push(`${href} is stored with etag ${row.etag}, iCloud has ${o.etag}`);
    else if (own.find((e) => e.href === href)?.broken) {
      if (!row.unreadable) v.push(`${href} cannot be read but is not stored as unreadable`);
    } else if (row.unreadable || row.contentHash !== contentHash(o.data)) v.push(`${href} is stored with other content than iCloud's`);
  }
  for (const href of rows.keys()) if (!server.has(href)) v.push(`${href} is stored but no longer in iCloud`);
  const busy = own.flatMap((o) => o.busy).sort();
  const indexed = await busyRows(world, sam.userId);
  if (JSON.stringify(indexed) !== JSON.stringify(busy)) v.push(`busy time is ${JSON.stringify(indexed)}, the phone says ${JSON.stringify(busy)}`);
  if (world.memory.writes(sam.urls.holidays).attempted) v.push('the read-only calendar received writes');
  const links = await em.find(AppointmentSyncLink, { userId: sam.userId });
  for (const a of appts) {
    const row = await em.findOneOrFail(Appointment, a.id);
    if (row.status !== AppointmentStatus.BOOKED) v.push(`${row.title} is ${row.status}: only the CRM cancels`);
    const copy = [...server.values()].find((o) => timesOf(o.data).uid === a.uid);
    const link = links.find((l) => l.syncKey === appointmentKey(a.id));
    if (copy) {
      const t = timesOf(copy.data);
      if (t.start?.getTime() !== row.startsAt.getTime() || t.end?.getTime() !== row.endsAt.getTime()) v.push(`${row.title} is at ${t.start?.toISOString()} in iCloud, ${iso(row.startsAt)} in the CRM`);
      if (link?.state !== SyncState.SYNCED) v.push(`${row.title} is in iCloud but ${link?.state}`);
    } else if (!a.copyDeleted) v.push(`${row.title} has no copy in iCloud (${link?.state})`);
    else if (link?.state !== SyncState.DELETED_IN_ICLOUD) v.push(`${row.title}'s copy was deleted on the phone, but it is ${link?.state}`);
  }
  v.push(...world.errors.map((e) => `logged: ${e.slice(0, 400)}`));
  return v;
}

describe('the inbound sync, the real code against an in-memory iCloud', () => {
  it('keeps the local index equal to the calendars through edits, refused and expired tokens, empty listings, missing objects and failures', async () => {
    await fc.assert(fc.asyncProperty(scenario, (input) => runScenario(input)), { numRuns: Number(process.env.PROPERTY_RUNS ?? 300), seed: PROPERTY_SEED, examples: FOUND });
    stats.print(world.memory.injected);
  }, 300_000);
});
