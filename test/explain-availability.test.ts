import { radicaleTarget, type CalDavTarget } from '../dev/caldav-targets';
import { codeOf, dataOf } from '../dev/app';
import { at, crmFixture, nextWeekday, type CrmFixture } from '../dev/crm-fixture';
import { vevent } from '../dev/phone';

const EXPLAIN = `query($c: ID!, $t: DateTimeISO!) {
  explainAvailability(calendarId: $c, startsAt: $t) {
    startsAt endsAt bookable
    reasons { code message }
    members { userId free reasons { code message calendarName startsAt endsAt appointmentId title } }
  }
}`;

/** "Why can't my client book 3 pm?", asked over HTTP as support staff and CRM users do, against Radicale. */
describe('explainAvailability', () => {
  let target: CalDavTarget;
  let f: CrmFixture;
  let calendarId: string;
  let appointmentId: string;
  const wednesday = nextWeekday(2, 3);
  const explain = async (token: string, startsAt: Date, c = calendarId) => dataOf(await f.app.gql(token, EXPLAIN, { c, t: startsAt })).explainAvailability;

  beforeAll(async () => {
    target = await radicaleTarget();
    f = await crmFixture(target, ['ann', 'ben']);
    const open = [1, 2, 3, 4, 5].map((weekday) => ({ weekday, start: '09:00', end: '17:00' }));
    ({ id: calendarId } = await f.createCalendar({ name: 'Consult', type: 'ROUND_ROBIN', timezone: 'UTC', slotDurationMinutes: 60, openHours: open, teamMembers: [{ userId: 'ann' }, { userId: 'ben' }] }));
    // Ann's dentist at 15:00 in iCloud; Ben booked in the CRM at 15:00.
    const { phone, account } = f.users.ann;
    await phone.put(account.primary.slug, vevent('dentist', at(wednesday, 15).toISOString().replace('.000', ''), at(wednesday, 16).toISOString().replace('.000', ''), 'Dentist'));
    dataOf(await f.app.gql(f.users.ann.token, `mutation($id: ID!) { syncNow(integrationId: $id) { outcome } }`, { id: f.users.ann.integrationId }));
    const booked = dataOf(await f.book({ calendarId, startsAt: at(wednesday, 15), contact: { name: 'First client' } })).bookAppointment;
    expect(booked.assignedUserIds).toEqual(['ben']);
    appointmentId = booked.id;
  });
  afterAll(async () => {
    await f?.app.close();
    await target?.stop();
  });

  it('names what blocks each member of a slot nobody can take: the iCloud calendar and interval, the CRM appointment', async () => {
    const x = await explain(f.admin, at(wednesday, 15));
    expect(x).toMatchObject({ startsAt: at(wednesday, 15).toISOString(), bookable: false, reasons: [] });
    const [ann, ben] = ['ann', 'ben'].map((id) => x.members.find((m: { userId: string }) => m.userId === id));
    expect(ann).toMatchObject({ free: false, reasons: [{ code: 'ICLOUD_BUSY', calendarName: f.users.ann.account.primary.name, startsAt: at(wednesday, 15).toISOString(), endsAt: at(wednesday, 16).toISOString(), title: null }] });
    expect(ben).toMatchObject({ free: false, reasons: [{ code: 'CRM_APPOINTMENT', appointmentId }] });
    await expect(f.slots(calendarId, at(wednesday, 15), at(wednesday, 16))).resolves.toEqual([]);
  });

  it("gives an iCloud event's title to its owner only", async () => {
    const own = await explain(f.users.ann.token, at(wednesday, 15));
    expect(own.members.find((m: { userId: string }) => m.userId === 'ann').reasons[0].title).toBe('Dentist');
    const other = await explain(f.users.ben.token, at(wednesday, 15));
    expect(other.members.find((m: { userId: string }) => m.userId === 'ann').reasons[0].title).toBeNull();
  });

  it('says a free slot is bookable and agrees with availableSlots', async () => {
    const x = await explain(f.admin, at(wednesday, 10));
    expect(x).toMatchObject({ bookable: true, reasons: [], members: [{ free: true, reasons: [] }, { free: true, reasons: [] }] });
    expect((await f.slots(calendarId, at(wednesday, 10), at(wednesday, 11))).map((s) => s.startsAt)).toEqual([at(wednesday, 10).toISOString()]);
  });

  it('explains times the calendar never offers: off the grid, outside open hours, a closed day, the past, beyond the booking window', async () => {
    const codes = async (t: Date) => (await explain(f.admin, t)).reasons.map((r: { code: string }) => r.code);
    expect(await codes(at(wednesday, 10, 30))).toEqual(['OFF_GRID']);
    expect(await codes(at(wednesday, 16, 30))).toEqual(['OUTSIDE_OPEN_HOURS']);
    const saturday = await explain(f.admin, at(nextWeekday(2, 6), 10));
    expect(saturday.reasons).toEqual([{ code: 'OUTSIDE_OPEN_HOURS', message: 'Closed on Saturday (UTC).' }]);
    expect(await codes(at(nextWeekday(-7, 3), 10))).toEqual(['MIN_NOTICE']);
    expect(await codes(at(nextWeekday(70, 3), 10))).toEqual(['BEYOND_BOOKING_WINDOW']);
  });

  it('answers another tenant and a user outside the calendar exactly as for a calendar that does not exist', async () => {
    const stranger = await f.app.gql(f.app.token('boss', 'tenant-b', 'admin'), EXPLAIN, { c: calendarId, t: at(wednesday, 15) });
    const outsider = await f.app.gql(f.app.token('zoe', 'tenant-a'), EXPLAIN, { c: calendarId, t: at(wednesday, 15) });
    expect([codeOf(stranger), codeOf(outsider)]).toEqual(['NOT_FOUND', 'NOT_FOUND']);
    expect(JSON.stringify([stranger, outsider])).not.toContain('Dentist');
  });
});
