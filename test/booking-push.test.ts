import { TARGETS, type CalDavTarget } from '../dev/caldav-targets';
import { APPOINTMENT_FIELDS, at, crmFixture, nextWeekday, type CrmFixture } from '../dev/crm-fixture';
import { codeOf, dataOf } from '../dev/app';
import { vevent } from '../dev/phone';

const OPEN = [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '08:00', end: '20:00' }));
const iso = (d: Date) => d.toISOString();
const busyEvent = (uid: string, from: Date, to: Date) => vevent(uid, iso(from).replace('.000', ''), iso(to).replace('.000', ''), 'Private');

/** Each calendar type against emulated iCloud, Radicale and Xandikos: busy time from iCloud, booking, and the pushed events. */
describe.each(TARGETS)('CRM calendars booking into $name', ({ start }) => {
  let target: CalDavTarget;
  let f: CrmFixture;
  const day = nextWeekday(3, 2);

  beforeAll(async () => {
    target = await start();
    f = await crmFixture(target, ['hana', 'rob', 'ria', 'cara', 'cole', 'sam']);
  });
  afterAll(async () => {
    await f?.app.close();
    await target?.stop();
  });

  async function busyInICloud(sub: string, from: Date, to: Date): Promise<void> {
    const user = f.users[sub];
    await user.phone.put(user.account.primary.slug, busyEvent(`busy-${sub}-${from.getTime()}`, from, to));
    dataOf(await f.app.gql(user.token, `mutation($id: ID!) { syncNow(integrationId: $id) { outcome } }`, { id: user.integrationId }));
  }
  const appointment = async (id: string) => dataOf(await f.app.gql(f.admin, `query($id: ID!) { appointment(id: $id) { ${APPOINTMENT_FIELDS} } }`, { id })).appointment;
  const cancel = async (id: string) => dataOf(await f.app.gql(f.admin, `mutation($id: ID!) { cancelAppointment(id: $id) { status } }`, { id })).cancelAppointment;

  it('class booking: one iCloud event per session for the host, its title counting the seats, gone with the last seat', async () => {
    const { id } = await f.createCalendar({ name: 'Yoga', type: 'CLASS_BOOKING', timezone: 'UTC', slotDurationMinutes: 60, seatsPerSlot: 3, openHours: OPEN, teamMembers: [{ userId: 'hana' }] });
    await busyInICloud('hana', at(day, 10), at(day, 11));
    const slots = await f.slots(id, at(day, 8), at(day, 20));
    expect(slots.map((s) => s.startsAt)).not.toContain(iso(at(day, 10)));
    expect(slots.find((s) => s.startsAt === iso(at(day, 14)))).toEqual({ startsAt: iso(at(day, 14)), availableUserIds: ['hana'], seatsLeft: 3 });

    const seats = [];
    for (const name of ['Ann', 'Ben', 'Cid']) seats.push(dataOf(await f.book({ calendarId: id, startsAt: at(day, 14), contact: { name, email: `${name.toLowerCase()}@example.com` } })).bookAppointment);
    await f.pushed();
    const [session] = (await f.icloudEvents('hana')).filter((e) => e.summary.startsWith('Yoga'));
    expect(session).toMatchObject({ summary: 'Yoga (3/3)', start: iso(at(day, 14)), end: iso(at(day, 15)) });
    expect(session.description).toMatch(/Ann.*\n.*Ben.*\n.*Cid/);
    expect((await appointment(seats[0].id)).syncState).toBe('SYNCED');
    expect((await f.slots(id, at(day, 14), at(day, 15))).length).toBe(0);
    expect(codeOf(await f.book({ calendarId: id, startsAt: at(day, 14), contact: { name: 'Dee' } }))).toBe('SLOT_TAKEN');

    await cancel(seats[1].id);
    await f.pushed();
    expect((await f.icloudEvents('hana')).filter((e) => e.summary.startsWith('Yoga')).map((e) => e.summary)).toEqual(['Yoga (2/3)']);
    await cancel(seats[0].id);
    await cancel(seats[2].id);
    await f.pushed();
    expect((await f.icloudEvents('hana')).filter((e) => e.summary.startsWith('Yoga'))).toEqual([]);
  });

  it('round robin: the free member with the highest priority gets the booking, in their own iCloud calendar', async () => {
    const { id } = await f.createCalendar({
      name: 'Sales call', type: 'ROUND_ROBIN', timezone: 'UTC', slotDurationMinutes: 30, openHours: OPEN, roundRobinMode: 'OPTIMIZE_FOR_AVAILABILITY',
      teamMembers: [{ userId: 'rob', priority: 'HIGH' }, { userId: 'ria', priority: 'LOW' }],
    });
    await busyInICloud('rob', at(day, 9), at(day, 10));
    const slots = await f.slots(id, at(day, 9), at(day, 12));
    expect(slots.find((s) => s.startsAt === iso(at(day, 9)))?.availableUserIds).toEqual(['ria']);
    expect(slots.find((s) => s.startsAt === iso(at(day, 11)))?.availableUserIds).toEqual(['rob', 'ria']);
    const early = dataOf(await f.book({ calendarId: id, startsAt: at(day, 9), contact: { name: 'Eve' }, title: 'Call with Eve' })).bookAppointment;
    const late = dataOf(await f.book({ calendarId: id, startsAt: at(day, 11), contact: { name: 'Fay' }, title: 'Call with Fay' })).bookAppointment;
    expect([early.assignedUserIds, late.assignedUserIds]).toEqual([['ria'], ['rob']]);
    await f.pushed();
    expect((await f.icloudEvents('ria')).map((e) => [e.summary, e.start])).toContainEqual(['Call with Eve', iso(at(day, 9))]);
    expect((await f.icloudEvents('rob')).map((e) => e.summary)).toEqual(['Private', 'Call with Fay']);
  });

  it('collective: offered only when every member is free, and written to every member\'s calendar', async () => {
    const { id } = await f.createCalendar({
      name: 'Partner meeting', type: 'COLLECTIVE', timezone: 'UTC', slotDurationMinutes: 60, openHours: OPEN,
      teamMembers: [{ userId: 'cara', isPrimary: true }, { userId: 'cole' }],
    });
    await busyInICloud('cole', at(day, 13), at(day, 14));
    const starts = (await f.slots(id, at(day, 12), at(day, 16))).map((s) => s.startsAt);
    expect(starts).toEqual([iso(at(day, 12)), iso(at(day, 14)), iso(at(day, 15))]);
    expect(codeOf(await f.book({ calendarId: id, startsAt: at(day, 13), contact: { name: 'Gus' } }))).toBe('SLOT_TAKEN');
    const booked = dataOf(await f.book({ calendarId: id, startsAt: at(day, 15), contact: { name: 'Gus' }, title: 'Partners' })).bookAppointment;
    expect(booked.assignedUserIds.sort()).toEqual(['cara', 'cole']);
    await f.pushed();
    for (const sub of ['cara', 'cole']) expect((await f.icloudEvents(sub)).filter((e) => e.summary === 'Partners').map((e) => e.start)).toEqual([iso(at(day, 15))]);
    expect((await appointment(booked.id)).syncState).toBe('SYNCED');
  });

  it('service: buffers keep room around an appointment; reschedule moves the iCloud event and cancel removes it', async () => {
    const { id } = await f.createCalendar({
      name: 'Haircut', type: 'SERVICE', timezone: 'UTC', slotDurationMinutes: 45, slotIntervalMinutes: 15, bufferBeforeMinutes: 15, bufferAfterMinutes: 15, openHours: OPEN,
      teamMembers: [{ userId: 'sam' }],
    });
    const booked = dataOf(await f.book({ calendarId: id, startsAt: at(day, 10), contact: { name: 'Hal', phone: '+49 30 1234' }, title: 'Haircut Hal' })).bookAppointment;
    expect(booked).toMatchObject({ startsAt: iso(at(day, 10)), endsAt: iso(at(day, 10, 45)), assignedUserIds: ['sam'] });
    const starts = (await f.slots(id, at(day, 9), at(day, 12))).map((s) => s.startsAt);
    expect(starts).toContain(iso(at(day, 11, 15)));
    for (const blocked of [at(day, 9, 15), at(day, 10, 45), at(day, 11)]) expect(starts).not.toContain(iso(blocked));
    await f.pushed();
    expect((await f.icloudEvents('sam')).map((e) => [e.summary, e.start, e.end])).toEqual([['Haircut Hal', iso(at(day, 10)), iso(at(day, 10, 45))]]);
    expect((await f.icloudEvents('sam'))[0].description).toContain('+49 30 1234');

    const moved = dataOf(await f.app.gql(f.admin, `mutation($i: RescheduleAppointmentInput!) { rescheduleAppointment(input: $i) { startsAt endsAt } }`, { i: { id: booked.id, startsAt: at(day, 15) } })).rescheduleAppointment;
    expect(moved).toEqual({ startsAt: iso(at(day, 15)), endsAt: iso(at(day, 15, 45)) });
    await f.pushed();
    expect((await f.icloudEvents('sam')).map((e) => e.start)).toEqual([iso(at(day, 15))]);
    expect((await f.slots(id, at(day, 10), at(day, 10, 1))).length).toBe(1);

    await cancel(booked.id);
    await f.pushed();
    expect(await f.icloudEvents('sam')).toEqual([]);
  });
});
