import fc from 'fast-check';
import type { Principal } from '../src/auth/jwt';
import { AvailabilityReasonCode } from '../src/availability/explain';
import { candidateSlots } from '../src/availability/slots';
import { CrmCalendarType, MemberPriority, RoundRobinMode } from '../src/entities/crm-calendar.entity';
import { AppError } from '../src/errors';
import { cleanSlate, clock, connectUser, phoneEvent, startMemoryWorld, type MemoryUser, type MemoryWorld } from './harness/memory-world';

/**
 * `explainAvailability` against `availableSlots`, over random calendars (every type, zones with DST, grids,
 * buffers, notice, booking windows, open hours), random iCloud busy time (in a calendar checked for conflicts
 * and in one that is not) and random CRM bookings: a slot is `bookable` exactly when it is offered, and the
 * reasons given account for every slot that is not. The real services on SQLite, iCloud in memory.
 */

const PROPERTY_SEED = Number(process.env.PROPERTY_SEED ?? 20261130);
const RUNS = Number(process.env.PROPERTY_RUNS ?? 40);
const HOUR = 3600000;
const DAY = 24 * HOUR;
const admin: Principal = { sub: 'boss', tenantId: 'tenant-explain', role: 'admin' };

const hhmm = (minutes: number) => `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
const opening = fc.record({ weekday: fc.integer({ min: 1, max: 7 }), from: fc.integer({ min: 0, max: 40 }), hours: fc.integer({ min: 1, max: 10 }) }).map(({ weekday, from, hours }) => ({ weekday, start: hhmm(from * 30), end: hhmm(Math.min(48, from + hours * 2) * 30) }));
const event = fc.record({ calendar: fc.constantFrom('holidays', 'holidays', 'home'), user: fc.nat(), startHour: fc.integer({ min: 0, max: 3 * 24 }), quarter: fc.integer({ min: 0, max: 3 }), minutes: fc.constantFrom(15, 30, 60, 120, 360, 24 * 60) });

const scenario = fc.record({
  type: fc.constantFrom(CrmCalendarType.ROUND_ROBIN, CrmCalendarType.SERVICE, CrmCalendarType.COLLECTIVE, CrmCalendarType.CLASS_BOOKING),
  timezone: fc.constantFrom('UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata'),
  slotDurationMinutes: fc.constantFrom(15, 30, 45, 60),
  slotIntervalMinutes: fc.constantFrom(15, 30, 60),
  bufferBeforeMinutes: fc.constantFrom(0, 0, 10, 15),
  bufferAfterMinutes: fc.constantFrom(0, 0, 10, 30),
  minNoticeMinutes: fc.constantFrom(0, 60, 24 * 60),
  bookingWindowDays: fc.constantFrom(1, 2, 5),
  seatsPerSlot: fc.integer({ min: 1, max: 3 }),
  roundRobinMode: fc.constantFrom(RoundRobinMode.OPTIMIZE_FOR_AVAILABILITY, RoundRobinMode.EQUAL_DISTRIBUTION),
  openHours: fc.array(opening, { minLength: 1, maxLength: 6 }),
  /** Indexes into the pool of users (the last one never connected iCloud). */
  members: fc.uniqueArray(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 4 }),
  events: fc.array(event, { maxLength: 16 }),
  bookings: fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 5 }),
  /** Times asked about besides the slots of the grid: minutes from an hour before now. */
  probes: fc.array(fc.integer({ min: 0, max: 5 * 24 * 60 }).map((m) => m - (m % 5)), { minLength: 5, maxLength: 15 }),
});
type Scenario = typeof scenario extends fc.Arbitrary<infer S> ? S : never;

let world: MemoryWorld;
/** Three users with iCloud, and one who never connected it. */
let pool: { sub: string; user?: MemoryUser }[];

beforeAll(async () => {
  clock.install();
  world = await startMemoryWorld();
  pool = [{ sub: 'sam' }, { sub: 'tom' }, { sub: 'ann' }, { sub: 'nick' }];
  for (const p of pool.slice(0, 3)) p.user = await connectUser(world, admin.tenantId, p.sub);
});
afterAll(async () => {
  await world?.close();
  clock.uninstall();
});

async function runScenario(input: Scenario): Promise<void> {
  const { services, orm } = world;
  await cleanSlate(world, pool.flatMap((p) => (p.user ? [p.user] : [])));
  clock.tick(3600);
  const now = Date.now();
  const base = now - HOUR;

  // Members as each type requires: a class has its host only, a collective calendar one primary owner and two or more.
  let members = input.members.map((i) => pool[i].sub);
  if (input.type === CrmCalendarType.CLASS_BOOKING) members = members.slice(0, 1);
  if (input.type === CrmCalendarType.COLLECTIVE && members.length < 2) members = [...members, pool.find((p) => !members.includes(p.sub))!.sub];
  const calendar = await services.calendars.create(orm.fork(), admin, {
    name: 'Explained',
    ...input,
    seatsPerSlot: input.type === CrmCalendarType.CLASS_BOOKING ? input.seatsPerSlot : 1,
    teamMembers: members.map((userId, i) => ({ userId, priority: [MemberPriority.HIGH, MemberPriority.MEDIUM, MemberPriority.LOW][i % 3], isPrimary: input.type === CrmCalendarType.COLLECTIVE && i === 0 })),
  });

  // iCloud events on the members' phones, then a sync of each account.
  const connected = pool.filter((p) => p.user && members.includes(p.sub));
  for (const [i, e] of input.events.entries()) {
    const owner = connected[e.user % Math.max(1, connected.length)]?.user;
    if (!owner) break;
    const start = new Date(base + e.startHour * HOUR + e.quarter * 15 * 60000);
    owner.account.phone.create(e.calendar, phoneEvent(`busy-${i}@phone.test`, start, new Date(start.getTime() + e.minutes * 60000), `Private ${i}`));
  }
  for (const p of connected) await services.sync.syncIntegration(orm.fork(), p.user!.integrationId);

  const from = new Date(base);
  const to = new Date(base + 5 * DAY);
  const offered = async () => new Set((await services.availability.availableSlots(orm.fork(), admin, calendar.id, from, to)).map((s) => s.startsAt.getTime()));
  // CRM bookings of offered slots block their assignees (and take seats of a class session).
  for (const pick of input.bookings) {
    const starts = [...(await offered())];
    if (!starts.length) break;
    try {
      await services.booking.book(orm.fork(), admin, { calendarId: calendar.id, startsAt: new Date(starts[pick % starts.length]), contact: { name: 'Client' } });
    } catch (e) {
      if (!(e instanceof AppError)) throw e;
    }
  }

  const offer = await offered();
  // Every start of the grid in the range (offered or not: busy, too soon, too far, seats taken), and times off it.
  const grid = candidateSlots(calendar, from, to).map((s) => s.start.getTime());
  const times = [...new Set([...grid.filter((t) => !offer.has(t)).slice(0, 60), ...grid.filter((t) => offer.has(t)).slice(0, 30), ...input.probes.map((m) => base + m * 60000)])];
  for (const t of times) {
    const x = await services.availability.explain(orm.fork(), admin, calendar.id, new Date(t));
    const where = `${new Date(t).toISOString()} (${input.type}, ${input.timezone}): ${JSON.stringify(x)}`;
    expect([where, x.bookable]).toEqual([where, offer.has(t)]);
    const busy = x.members.filter((m) => !m.free);
    if (x.bookable) {
      expect([where, x.reasons]).toEqual([where, []]);
      expect(busy.length).toBeLessThan(x.members.length);
    } else if (x.reasons.length === 0) {
      // Nothing wrong with the slot itself: the members say why (anyone busy for a collective calendar, the host for a class, everyone else).
      const explained = input.type === CrmCalendarType.COLLECTIVE ? busy.length > 0 : busy.length === x.members.length;
      expect([where, explained]).toEqual([where, true]);
    }
    for (const m of x.members) {
      // A member is busy exactly when something in the way is named; iCloud busy time comes with its calendar, never a title for someone else.
      expect([where, m.userId, m.free]).toEqual([where, m.userId, !m.reasons.some((r) => r.code === AvailabilityReasonCode.CRM_APPOINTMENT || r.code === AvailabilityReasonCode.ICLOUD_BUSY)]);
      for (const r of m.reasons.filter((r) => r.code === AvailabilityReasonCode.ICLOUD_BUSY)) expect([r.calendarName, r.title]).toEqual([expect.any(String), null]);
      for (const r of m.reasons.filter((r) => r.code === AvailabilityReasonCode.CRM_APPOINTMENT)) expect(r.appointmentId).toEqual(expect.any(String));
      expect(m.reasons.some((r) => r.code === AvailabilityReasonCode.NOT_CONNECTED)).toBe(m.userId === 'nick');
    }
  }
}

describe('explainAvailability', () => {
  it('says a slot is bookable exactly when availableSlots offers it, and names what is in the way of every other', async () => {
    await fc.assert(fc.asyncProperty(scenario, (input) => runScenario(input)), { numRuns: RUNS, seed: PROPERTY_SEED });
  }, 600_000);
});
