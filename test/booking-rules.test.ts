import { Appointment } from '../src/entities/appointment.entity';
import { Contact } from '../src/entities/contact.entity';
import { radicaleTarget, type CalDavTarget } from '../dev/caldav-targets';
import { APPOINTMENT_FIELDS, at, crmFixture, nextWeekday, type CrmFixture } from '../dev/crm-fixture';
import { codeOf, dataOf, type GraphQLResponse } from '../dev/app';
import { startPostgres, type PostgresServer } from '../dev/postgres';

const OPEN_WEEKDAYS = [1, 2, 3, 4, 5].map((weekday) => ({ weekday, start: '09:00', end: '17:00' }));

describe('booking rules and bad input: a clear code, and nothing changes', () => {
  let target: CalDavTarget;
  let f: CrmFixture;
  let yoga: string;
  const monday = nextWeekday(3, 1);

  beforeAll(async () => {
    target = await radicaleTarget();
    f = await crmFixture(target, ['hana']);
    ({ id: yoga } = await f.createCalendar({ name: 'Yoga', type: 'CLASS_BOOKING', timezone: 'UTC', slotDurationMinutes: 60, seatsPerSlot: 2, minNoticeMinutes: 120, bookingWindowDays: 30, openHours: OPEN_WEEKDAYS, teamMembers: [{ userId: 'hana' }] }));
  });
  afterAll(async () => {
    await f?.app.close();
    await target?.stop();
  });

  async function counts() {
    const em = f.app.server.orm.fork();
    return { appointments: await em.count(Appointment, {}), contacts: await em.count(Contact, {}) };
  }
  async function expectRefused(res: GraphQLResponse, code: string, message: RegExp) {
    expect(codeOf(res)).toBe(code);
    expect(res.errors![0].message).toMatch(message);
  }

  it.each([
    ['outside open hours', () => at(monday, 18), 'OUTSIDE_OPEN_HOURS', /not a slot of "Yoga"/],
    ['off the slot grid', () => at(monday, 10, 20), 'OUTSIDE_OPEN_HOURS', /60-minute grid/],
    ['on a closed weekday', () => at(nextWeekday(3, 6), 10), 'OUTSIDE_OPEN_HOURS', /open hours/],
    ['in the past', () => new Date(Date.now() - 86400000), 'SLOT_IN_PAST', /in the past/],
    ['too soon for the minimum notice', () => new Date(Math.ceil((Date.now() + 30 * 60000) / 3600000) * 3600000), 'TOO_SOON', /120 minutes' notice/],
    ['beyond the booking window', () => at(nextWeekday(40, 1), 10), 'TOO_FAR_AHEAD', /up to 30 days ahead/],
  ])('refuses a booking %s', async (_label, when, code, message) => {
    const before = await counts();
    await expectRefused(await f.book({ calendarId: yoga, startsAt: when(), contact: { name: 'Ann' } }), code as string, message as RegExp);
    expect(await counts()).toEqual(before);
  });

  it.each([
    ['Europe/Berlin', '2027-03-25T00:00:00Z', '2027-03-31T00:00:00Z', 'America/New_York'],
    ['America/New_York', '2027-03-11T00:00:00Z', '2027-03-17T00:00:00Z', 'Europe/Berlin'],
  ])('offers the same wall-clock hours through the DST week in %s, shown in a viewer zone too', async (zone, from, to, viewer) => {
    const { id } = await f.createCalendar({ name: `Desk ${zone}`, type: 'SERVICE', timezone: zone, slotDurationMinutes: 60, bookingWindowDays: 730, openHours: OPEN_WEEKDAYS.map((h) => ({ ...h, end: '10:00' })), teamMembers: [{ userId: 'hana' }] });
    const query = `query($c: ID!, $f: DateTimeISO!, $t: DateTimeISO!, $z: String) { availableSlots(calendarId: $c, from: $f, to: $t, timezone: $z) { startsAt startsAtLocal } }`;
    const own = dataOf(await f.app.gql(f.admin, query, { c: id, f: from, t: to })).availableSlots as { startsAt: string; startsAtLocal: string }[];
    expect(own.map((s) => s.startsAtLocal.slice(11, 16))).toEqual(['09:00', '09:00', '09:00', '09:00']);
    expect(new Set(own.map((s) => s.startsAtLocal.slice(19))).size).toBe(2); // the offset changes mid-week
    const theirs = dataOf(await f.app.gql(f.admin, query, { c: id, f: from, t: to, z: viewer })).availableSlots as { startsAt: string; startsAtLocal: string }[];
    expect(theirs.map((s) => s.startsAt)).toEqual(own.map((s) => s.startsAt));
    for (const s of theirs) expect(new Date(s.startsAtLocal).toISOString()).toBe(s.startsAt);
  });

  it('refuses a calendar of another tenant as if it did not exist', async () => {
    const before = await counts();
    const stranger = f.app.token('mallory', 'tenant-b', 'admin');
    await expectRefused(await f.book({ calendarId: yoga, startsAt: at(monday, 10), contact: { name: 'Ann' } }, stranger), 'NOT_FOUND', /No calendar/);
    expect(codeOf(await f.app.gql(stranger, `query($c: ID!, $f: DateTimeISO!, $t: DateTimeISO!) { availableSlots(calendarId: $c, from: $f, to: $t) { startsAt } }`, { c: yoga, f: at(monday, 0), t: at(monday, 23) }))).toBe('NOT_FOUND');
    expect(await counts()).toEqual(before);
  });

  it('lets only admins create calendars, and support only read', async () => {
    const create = (token: string) => f.app.gql(token, `mutation($i: CreateCrmCalendarInput!) { createCrmCalendar(input: $i) { id } }`, { i: { name: 'X', type: 'SERVICE', timezone: 'UTC', slotDurationMinutes: 30, openHours: OPEN_WEEKDAYS, teamMembers: [{ userId: 'hana' }] } });
    expect(codeOf(await create(f.users.hana.token))).toBe('FORBIDDEN');
    const support = f.app.token('sue', 'tenant-a', 'support');
    expect(codeOf(await create(support))).toBe('FORBIDDEN');
    expect(codeOf(await f.book({ calendarId: yoga, startsAt: at(monday, 10), contact: { name: 'Ann' } }, support))).toBe('FORBIDDEN');
    expect(dataOf(await f.app.gql(support, `{ crmCalendars { id name } }`)).crmCalendars).toContainEqual({ id: yoga, name: 'Yoga' });
  });

  it.each([
    ['a class with two hosts', { type: 'CLASS_BOOKING', teamMembers: [{ userId: 'a' }, { userId: 'b' }] }, /exactly one team member/],
    ['a collective without a primary owner', { type: 'COLLECTIVE', teamMembers: [{ userId: 'a' }, { userId: 'b' }] }, /primary owner/],
    ['a class of 10,000 seats', { type: 'CLASS_BOOKING', seatsPerSlot: 10000, teamMembers: [{ userId: 'a' }] }, /seatsPerSlot must be a whole number from 1 to 9999/],
    ['an unknown time zone', { type: 'SERVICE', timezone: 'Mars/Olympus', teamMembers: [{ userId: 'a' }] }, /IANA time zone/],
    ['open hours ending before they start', { type: 'SERVICE', openHours: [{ weekday: 1, start: '17:00', end: '09:00' }], teamMembers: [{ userId: 'a' }] }, /start before end/],
  ])('refuses %s', async (_label, override, message) => {
    const input = { name: 'Bad', timezone: 'UTC', slotDurationMinutes: 30, openHours: OPEN_WEEKDAYS, ...override };
    const res = await f.app.gql(f.admin, `mutation($i: CreateCrmCalendarInput!) { createCrmCalendar(input: $i) { id } }`, { i: input });
    await expectRefused(res, 'BAD_USER_INPUT', message);
  });

  it('names each argument path that fails a constraint, with the constraint, instead of "Argument Validation Error"', async () => {
    const before = await counts();
    const long = await f.book({ calendarId: yoga, startsAt: at(monday, 10), contact: { name: 'Ann' }, title: 'T'.repeat(301) });
    await expectRefused(long, 'BAD_USER_INPUT', /^input\.title: must be shorter than or equal to 300 characters$/);
    // Inside nested inputs too: the contact, and each team member of a calendar.
    const name = await f.book({ calendarId: yoga, startsAt: at(monday, 10), contact: { name: 'N'.repeat(201) } });
    await expectRefused(name, 'BAD_USER_INPUT', /^input\.contact\.name: must be shorter than or equal to 200 characters$/);
    const team = await f.app.gql(f.admin, `mutation($i: CreateCrmCalendarInput!) { createCrmCalendar(input: $i) { id } }`, { i: { name: 'X', type: 'SERVICE', timezone: 'UTC', slotDurationMinutes: 30, openHours: OPEN_WEEKDAYS, teamMembers: [{ userId: 'hana' }, { userId: 'u'.repeat(201) }] } });
    await expectRefused(team, 'BAD_USER_INPUT', /^input\.teamMembers\[1\]\.userId: must be shorter than or equal to 200 characters$/);
    expect(await counts()).toEqual(before);

    // Two failures of one argument are both named; a 9,000-character value is never echoed back.
    const connect = `mutation($i: ConnectICloudInput!) { connectICloud(input: $i) { id } }`;
    const res = await fetch(f.app.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${f.users.hana.token}` }, body: JSON.stringify({ query: connect, variables: { i: { appleId: 'A'.repeat(9000), appSpecificPassword: '' } } }) });
    const text = await res.text();
    expect(JSON.parse(text).errors[0]).toEqual(expect.objectContaining({
      message: 'input.appleId: must be shorter than or equal to 320 characters; input.appSpecificPassword: should not be empty',
      extensions: { code: 'BAD_USER_INPUT' },
    }));
    expect(text).not.toContain('A'.repeat(100));
    expect(text).not.toMatch(/Argument Validation Error|at [A-Za-z.]+ \(/);

    // The argument is named after the schema, whatever it is called (here `filter`, beside `first` and `after`).
    const support = f.app.token('sue', 'tenant-a', 'support');
    const search = await f.app.gql(support, `query($a: String) { supportIntegrations(filter: { appleId: $a }, first: 5) { totalCount } }`, { a: 'x'.repeat(321) });
    await expectRefused(search, 'BAD_USER_INPUT', /^filter\.appleId: must be shorter than or equal to 320 characters$/);
  });

  it('names the variable path of a value of the wrong type, and the argument path of a wrong literal, without echoing it whole', async () => {
    const book = `mutation($i: BookAppointmentInput!) { bookAppointment(input: $i) { id } }`;
    const typed = await f.app.gql(f.admin, book, { i: { calendarId: yoga, startsAt: 'tomorrow', contact: { name: 5 } } });
    expect(typed.errors!.map((e) => [e.extensions?.code, e.message])).toEqual([
      ['BAD_USER_INPUT', '$i.startsAt: DateTime cannot represent an invalid date-time-string tomorrow.'],
      ['BAD_USER_INPUT', '$i.contact.name: String cannot represent a non string value: 5'],
    ]);
    const missing = await f.app.gql(f.admin, book, { i: { calendarId: yoga, contact: { name: 'Ann' }, colour: 'red' } });
    expect(missing.errors!.map((e) => e.message)).toEqual([
      '$i: Field "startsAt" of required type "DateTimeISO!" was not provided.',
      '$i: Field "colour" is not defined by type "BookAppointmentInput".',
    ]);
    const huge = await f.app.gql(f.admin, book, { i: { calendarId: yoga, startsAt: '9'.repeat(9000), contact: { name: 'Ann' } } });
    expect(huge.errors![0].message).toMatch(/^\$i\.startsAt: DateTime cannot represent .{0,200}$/);
    const literal = await f.app.gql(f.admin, `mutation { createCrmCalendar(input: { name: "X", type: SERVICE, timezone: "UTC", slotDurationMinutes: 30,
      openHours: [{ weekday: 1, start: 9, end: "10:00" }], teamMembers: [] }) { id } }`);
    expect(literal.errors![0]).toMatchObject({ message: 'input.openHours[0].start: String cannot represent a non string value: 9', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
  });

  it('lets an admin edit a calendar, but not change its type, and no one else edit it', async () => {
    const query = `mutation($id: ID!, $i: CreateCrmCalendarInput!) { updateCrmCalendar(id: $id, input: $i) { name seatsPerSlot teamMembers { userId } } }`;
    const input = { name: 'Yoga Flow', type: 'CLASS_BOOKING', timezone: 'UTC', slotDurationMinutes: 60, seatsPerSlot: 5, minNoticeMinutes: 120, bookingWindowDays: 30, openHours: OPEN_WEEKDAYS, teamMembers: [{ userId: 'hana' }] };
    expect(codeOf(await f.app.gql(f.users.hana.token, query, { id: yoga, i: input }))).toBe('FORBIDDEN');
    await expectRefused(await f.app.gql(f.admin, query, { id: yoga, i: { ...input, type: 'SERVICE' } }), 'BAD_USER_INPUT', /type of a calendar cannot change/);
    expect(dataOf(await f.app.gql(f.admin, query, { id: yoga, i: input })).updateCrmCalendar).toEqual({ name: 'Yoga Flow', seatsPerSlot: 5, teamMembers: [{ userId: 'hana' }] });
    expect((await f.slots(yoga, at(monday, 9), at(monday, 10)))[0].seatsLeft).toBe(5);
    dataOf(await f.app.gql(f.admin, query, { id: yoga, i: { ...input, name: 'Yoga', seatsPerSlot: 2 } }));
  });

  it('refuses to reschedule a cancelled appointment', async () => {
    const booked = dataOf(await f.book({ calendarId: yoga, startsAt: at(monday, 11), contact: { name: 'Ann' } })).bookAppointment;
    dataOf(await f.app.gql(f.admin, `mutation($id: ID!) { cancelAppointment(id: $id) { id } }`, { id: booked.id }));
    const res = await f.app.gql(f.admin, `mutation($i: RescheduleAppointmentInput!) { rescheduleAppointment(input: $i) { id } }`, { i: { id: booked.id, startsAt: at(monday, 12) } });
    await expectRefused(res, 'APPOINTMENT_CANCELLED', /cancelled/);
    const after = dataOf(await f.app.gql(f.admin, `query($id: ID!) { appointment(id: $id) { status startsAt } }`, { id: booked.id })).appointment;
    expect(after).toEqual({ status: 'CANCELLED', startsAt: at(monday, 11).toISOString() });
    await f.pushed();
    await expectListed(f, 'hana', monday, booked.id);
  });
});

const databases = [
  { name: 'SQLite', start: async () => ({ url: undefined as string | undefined, stop: async () => {} }) },
  { name: 'PostgreSQL', start: async (): Promise<Pick<PostgresServer, 'stop'> & { url?: string }> => startPostgres() },
];

describe.each(databases)('concurrent bookings on $name', ({ start }) => {
  let target: CalDavTarget;
  let db: { url?: string; stop(): Promise<void> };
  let f: CrmFixture;
  const tuesday = nextWeekday(3, 2);

  beforeAll(async () => {
    [target, db] = await Promise.all([radicaleTarget(), start()]);
    f = await crmFixture(target, ['hana', 'rob'], { databaseUrl: db.url });
  });
  afterAll(async () => {
    await f?.app.close();
    await Promise.all([target?.stop(), db?.stop()]);
  });

  it('give the last class seat to exactly one of many people booking at once', async () => {
    const { id } = await f.createCalendar({ name: 'Spin', type: 'CLASS_BOOKING', timezone: 'UTC', slotDurationMinutes: 60, seatsPerSlot: 3, openHours: OPEN_WEEKDAYS, teamMembers: [{ userId: 'hana' }] });
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => f.book({ calendarId: id, startsAt: at(tuesday, 10), contact: { name: `P${i}` } })));
    expect(results.filter((r) => !r.errors).length).toBe(3);
    expect(results.filter((r) => codeOf(r) === 'SLOT_TAKEN').length).toBe(5);
    await f.pushed();
  });

  it('give one member\'s slot to exactly one of two people booking at once', async () => {
    const { id } = await f.createCalendar({ name: 'Advice', type: 'ROUND_ROBIN', timezone: 'UTC', slotDurationMinutes: 30, openHours: OPEN_WEEKDAYS, teamMembers: [{ userId: 'rob' }] });
    const results = await Promise.all([0, 1].map((i) => f.book({ calendarId: id, startsAt: at(tuesday, 13), contact: { name: `Q${i}` } })));
    expect(results.map((r) => codeOf(r) ?? 'OK').sort()).toEqual(['OK', 'SLOT_TAKEN']);
    await f.pushed();
    await expectListed(f, 'rob', at(tuesday, 0), dataOf(results.find((r) => !r.errors)!).bookAppointment.id);
  });
});

/**
 * The list of a user's appointments (read as plain rows) shows each exactly as its booking answered (read
 * through the ORM), and nothing to another tenant.
 */
async function expectListed(f: CrmFixture, userId: string, day: Date, appointmentId: string): Promise<void> {
  const LIST = `query($f: DateTimeISO!, $t: DateTimeISO!, $u: ID) { appointments(from: $f, to: $t, userId: $u) { ${APPOINTMENT_FIELDS} location notes contact { id phone } } }`;
  const ONE = `query($id: ID!) { appointment(id: $id) { ${APPOINTMENT_FIELDS} location notes contact { id phone } } }`;
  const range = { f: day, t: new Date(day.getTime() + 86400000), u: userId };
  const listed = dataOf(await f.app.gql(f.admin, LIST, range)).appointments;
  expect(listed.find((a: { id: string }) => a.id === appointmentId)).toEqual(dataOf(await f.app.gql(f.admin, ONE, { id: appointmentId })).appointment);
  expect(codeOf(await f.app.gql(f.app.token('boss', 'tenant-b', 'admin'), LIST, range))).toBe('NOT_FOUND');
}
