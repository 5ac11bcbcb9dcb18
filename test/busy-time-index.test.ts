import { BusyInterval } from '../src/entities/busy-interval.entity';
import { CalendarIntegration } from '../src/entities/calendar-integration.entity';
import { ExternalCalendar } from '../src/entities/external-calendar.entity';
import { ExternalEvent } from '../src/entities/external-event.entity';
import { User } from '../src/entities/user.entity';
import { BusyTimeIndex } from '../src/services/busy-time-index.service';
import { dataOf, startTestApp, type TestApp } from '../dev/app';

const HOUR = 3600000;
const DAY = 24 * HOUR;

/**
 * The in-memory busy-time index behind `availableSlots`: a cache of the database that every change of a
 * user's busy time invalidates through the event bus (the multi-instance test covers Redis).
 */
describe('the busy-time index', () => {
  let app: TestApp;
  const tomorrow = Math.ceil(Date.now() / DAY) * DAY + DAY;

  beforeAll(async () => {
    app = await startTestApp({ caldavUrl: 'http://127.0.0.1:9/' });
  });
  afterAll(() => app.close());

  /** A user with one connected account and its calendars (Work checked for conflicts, Home not), stored directly. */
  async function member(sub: string): Promise<{ user: User; work: ExternalCalendar; home: ExternalCalendar; integration: CalendarIntegration }> {
    const em = app.server.orm.fork();
    const user = em.create(User, { externalId: sub, tenantId: 'tenant-a' });
    const integration = em.create(CalendarIntegration, { user, tenantId: 'tenant-a', appleId: `${sub}@icloud.example`, principalUrl: 'http://127.0.0.1:9/p/', homeUrl: 'http://127.0.0.1:9/h/' });
    const work = em.create(ExternalCalendar, { integration, href: `http://127.0.0.1:9/h/${sub}/work/`, name: 'Work', checkForConflicts: true, isPrimary: true });
    const home = em.create(ExternalCalendar, { integration, href: `http://127.0.0.1:9/h/${sub}/home/`, name: 'Home', checkForConflicts: false, isPrimary: false });
    await em.flush();
    return { user, work, home, integration };
  }

  /** Stores a busy interval straight into the database, as a sync would, but without telling anyone. */
  async function busy(calendar: ExternalCalendar, userId: string, start: number, end: number): Promise<void> {
    const em = app.server.orm.fork();
    const cal = em.getReference(ExternalCalendar, calendar.id);
    const n = Math.random().toString(36).slice(2);
    const event = em.create(ExternalEvent, { calendar: cal, href: `${calendar.href}${n}.ics`, etag: `"${n}"`, uid: n, contentHash: n, raw: '', summary: 'Busy' });
    em.create(BusyInterval, { userId, calendar: cal, event, startsAt: new Date(start), endsAt: new Date(end), title: 'Busy' });
    await em.flush();
  }

  const starts = async (index: BusyTimeIndex, userId: string, now?: number) => [...(await index.of(app.server.orm.fork(), [userId], now)).get(userId)!.icloud.starts];

  it('reads a user\'s busy time once and again only after BUSY_CHANGED names that user (or everyone)', async () => {
    const { user, work } = await member('cache-1');
    const other = await member('cache-2');
    const index = new BusyTimeIndex(app.server.services.events, app.server.services.logger, { ttlMs: 60000, maxUsers: 100 });
    try {
      await busy(work, user.id, tomorrow, tomorrow + HOUR);
      expect(await starts(index, user.id)).toEqual([tomorrow]);
      await busy(work, user.id, tomorrow + 2 * HOUR, tomorrow + 3 * HOUR);
      expect(await starts(index, user.id)).toEqual([tomorrow]);
      app.server.services.events.publish('BUSY_CHANGED', { userIds: [other.user.id] });
      await new Promise((r) => setImmediate(r));
      expect(await starts(index, user.id)).toEqual([tomorrow]);
      app.server.services.events.publish('BUSY_CHANGED', { userIds: [user.id] });
      await new Promise((r) => setImmediate(r));
      expect(await starts(index, user.id)).toEqual([tomorrow, tomorrow + 2 * HOUR]);
      await busy(work, user.id, tomorrow + 4 * HOUR, tomorrow + 5 * HOUR);
      app.server.services.events.publish('BUSY_CHANGED', { userIds: null });
      await new Promise((r) => setImmediate(r));
      expect(await starts(index, user.id)).toEqual([tomorrow, tomorrow + 2 * HOUR, tomorrow + 4 * HOUR]);
    } finally {
      await index.close();
    }
  });

  it('answers a read that was under way when the user\'s busy time changed, but does not keep it', async () => {
    const { user, work } = await member('cache-3');
    const index = new BusyTimeIndex(app.server.services.events, app.server.services.logger, { ttlMs: 60000, maxUsers: 100 });
    try {
      const reading = index.of(app.server.orm.fork(), [user.id]);
      index.invalidate([user.id]);
      expect([...(await reading).get(user.id)!.icloud.starts]).toEqual([]);
      expect(index.size).toBe(0);
      await busy(work, user.id, tomorrow, tomorrow + HOUR);
      expect(await starts(index, user.id)).toEqual([tomorrow]);
    } finally {
      await index.close();
    }
  });

  it('reads again once an entry is older than its time to live, and keeps only the most recently used users', async () => {
    const a = await member('cache-4');
    const b = await member('cache-5');
    const c = await member('cache-6');
    const index = new BusyTimeIndex(app.server.services.events, app.server.services.logger, { ttlMs: 1000, maxUsers: 2 });
    try {
      const now = Date.now();
      expect(await starts(index, a.user.id, now)).toEqual([]);
      await busy(a.work, a.user.id, tomorrow, tomorrow + HOUR);
      expect(await starts(index, a.user.id, now + 999)).toEqual([]);
      expect(await starts(index, a.user.id, now + 1000)).toEqual([tomorrow]);
      await starts(index, b.user.id, now + 1000);
      await starts(index, a.user.id, now + 1000);
      await starts(index, c.user.id, now + 1000);
      // b was the least recently used of the three.
      expect(index.size).toBe(2);
      await busy(b.work, b.user.id, tomorrow, tomorrow + HOUR);
      await busy(a.work, a.user.id, tomorrow + HOUR, tomorrow + 2 * HOUR);
      // a is still held (its new interval is not seen), b was let go and is read again.
      expect(await starts(index, a.user.id, now + 1000)).toEqual([tomorrow]);
      expect(await starts(index, b.user.id, now + 1000)).toEqual([tomorrow]);
    } finally {
      await index.close();
    }
  });

  it('holds only calendars checked for conflicts of accounts not disconnected, and availableSlots follows a change of either at once', async () => {
    const { user, work, home, integration } = await member('cache-7');
    await busy(work, user.id, tomorrow + 10 * HOUR, tomorrow + 11 * HOUR);
    await busy(home, user.id, tomorrow + 11 * HOUR, tomorrow + 12 * HOUR);
    const admin = app.token('boss', 'tenant-a', 'admin');
    const allDay = [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '00:00', end: '24:00' }));
    const { id } = dataOf(
      await app.gql(admin, `mutation($i: CreateCrmCalendarInput!) { createCrmCalendar(input: $i) { id } }`, {
        i: { name: 'Intro', type: 'SERVICE', timezone: 'UTC', slotDurationMinutes: 60, openHours: allDay, teamMembers: [{ userId: 'cache-7' }] },
      }),
    ).createCrmCalendar as { id: string };
    const offered = async () =>
      (
        dataOf(
          await app.gql(admin, `query($c: ID!, $f: DateTimeISO!, $t: DateTimeISO!) { availableSlots(calendarId: $c, from: $f, to: $t) { startsAt } }`, {
            c: id,
            f: new Date(tomorrow + 10 * HOUR),
            t: new Date(tomorrow + 13 * HOUR),
          }),
        ).availableSlots as { startsAt: string }[]
      ).map((s) => new Date(s.startsAt).getTime() - tomorrow);
    expect(await offered()).toEqual([11 * HOUR, 12 * HOUR]);
    // The user checks Home instead of Work (the primary stays checked: Work is it).
    const token = app.token('cache-7', 'tenant-a');
    dataOf(await app.gql(token, `mutation($ids: [ID!]!) { setConflictCalendars(input: {calendarIds: $ids}) { id } }`, { ids: [home.id] }));
    expect(await offered()).toEqual([12 * HOUR]);
    dataOf(await app.gql(token, `mutation($id: ID!) { disconnectCalendarIntegration(id: $id) }`, { id: integration.id }));
    expect(await offered()).toEqual([10 * HOUR, 11 * HOUR, 12 * HOUR]);
  });

  it('holds the members\' appointments and recent load too: a booking, a move and a cancel show at once, and the round robin ranks from it', async () => {
    await member('cache-8');
    await member('cache-9');
    const admin = app.token('boss', 'tenant-a', 'admin');
    const allDay = [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '00:00', end: '24:00' }));
    const { id } = dataOf(
      await app.gql(admin, `mutation($i: CreateCrmCalendarInput!) { createCrmCalendar(input: $i) { id } }`, {
        i: { name: 'Demo', type: 'ROUND_ROBIN', roundRobinMode: 'EQUAL_DISTRIBUTION', timezone: 'UTC', slotDurationMinutes: 60, openHours: allDay, teamMembers: [{ userId: 'cache-8' }, { userId: 'cache-9' }] },
      }),
    ).createCrmCalendar as { id: string };
    const offered = async () =>
      (
        dataOf(
          await app.gql(admin, `query($c: ID!, $f: DateTimeISO!, $t: DateTimeISO!) { availableSlots(calendarId: $c, from: $f, to: $t) { startsAt availableUserIds } }`, {
            c: id,
            f: new Date(tomorrow + 10 * HOUR),
            t: new Date(tomorrow + 13 * HOUR),
          }),
        ).availableSlots as { startsAt: string; availableUserIds: string[] }[]
      ).map((s) => [(new Date(s.startsAt).getTime() - tomorrow) / HOUR, s.availableUserIds.join(',')]);
    // Members equal in load and priority come in the order of their internal ids: compared as sets.
    const unordered = async () => (await offered()).map(([hour, ids]) => [hour, String(ids).split(',').sort().join(',')]);
    const both = 'cache-8,cache-9';
    // Read once, so that both members are held in memory from here on.
    expect(await unordered()).toEqual([[10, both], [11, both], [12, both]]);
    const book = async (hour: number) =>
      dataOf(await app.gql(admin, `mutation($i: BookAppointmentInput!) { bookAppointment(input: $i) { id assignedUserIds } }`, { i: { calendarId: id, startsAt: new Date(tomorrow + hour * HOUR), contact: { name: 'Lead' } } })).bookAppointment as { id: string; assignedUserIds: string[] };
    const first = await book(10);
    const [busy] = first.assignedUserIds;
    const other = busy === 'cache-8' ? 'cache-9' : 'cache-8';
    // The assigned member is busy at 10 and has one recent appointment: the other comes first everywhere else.
    expect(await offered()).toEqual([[10, other], [11, `${other},${busy}`], [12, `${other},${busy}`]]);
    dataOf(await app.gql(admin, `mutation($i: RescheduleAppointmentInput!) { rescheduleAppointment(input: $i) { id } }`, { i: { id: first.id, startsAt: new Date(tomorrow + 12 * HOUR) } }));
    expect(await offered()).toEqual([[10, `${other},${busy}`], [11, `${other},${busy}`], [12, other]]);
    dataOf(await app.gql(admin, `mutation($id: ID!) { cancelAppointment(id: $id) { id } }`, { id: first.id }));
    expect(await unordered()).toEqual([[10, both], [11, both], [12, both]]);
  });
});
