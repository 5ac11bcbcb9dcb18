import { Appointment } from '../src/entities/appointment.entity';
import { ConflictKind, ConflictWarning } from '../src/entities/conflict-warning.entity';
import { Contact } from '../src/entities/contact.entity';
import { TARGETS, type CalDavTarget } from '../dev/caldav-targets';
import { APPOINTMENT_FIELDS, at, crmFixture, nextWeekday, type CrmFixture } from '../dev/crm-fixture';
import { dataOf } from '../dev/app';
import { vevent } from '../dev/phone';
import { SYNC_RUN_FIELDS } from './harness/sync-fixture';
import { wsClient } from './harness/ws-client';

const OPEN = [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '08:00', end: '20:00' }));
const iso = (d: Date) => d.toISOString();
const ical = (d: Date) => iso(d).replace(/[-:]|\.000/g, '');

/** iCloud edits flowing back into the CRM, against emulated iCloud, Radicale and Xandikos, with the phone as the other client. */
describe.each(TARGETS)('two-way sync with $name', ({ start }) => {
  let target: CalDavTarget;
  let f: CrmFixture;
  let calendarId: string;
  const day = nextWeekday(3, 4);
  let hour = 8;

  beforeAll(async () => {
    target = await start();
    f = await crmFixture(target, ['sam']);
    ({ id: calendarId } = await f.createCalendar({ name: 'Consult', type: 'SERVICE', timezone: 'UTC', slotDurationMinutes: 60, openHours: OPEN, teamMembers: [{ userId: 'sam' }] }));
  });
  afterAll(async () => {
    await f?.app.close();
    await target?.stop();
  });

  const sam = () => f.users.sam;
  const syncNow = async () => dataOf(await f.app.gql(sam().token, `mutation($id: ID!) { syncNow(integrationId: $id) { ${SYNC_RUN_FIELDS} } }`, { id: sam().integrationId })).syncNow;
  const appointment = async (id: string) => dataOf(await f.app.gql(f.admin, `query($id: ID!) { appointment(id: $id) { ${APPOINTMENT_FIELDS} location notes } }`, { id })).appointment;
  const copyOf = async (title: string) => (await sam().phone.events(sam().account.primary.slug)).find((e) => e.ics.includes(`SUMMARY:${title}`))!;
  async function bookAndPush(title: string) {
    const booked = dataOf(await f.book({ calendarId, startsAt: at(day, hour++), contact: { name: title }, title })).bookAppointment;
    await f.pushed();
    await syncNow();
    return booked;
  }

  it('does not take its own pushes for iPhone edits', async () => {
    await bookAndPush('Own write');
    expect(await syncNow()).toMatchObject({ created: 0, updated: 0, deleted: 0, requests: 1 });
  });

  it('follows an appointment moved and retitled on the iPhone', async () => {
    const booked = await bookAndPush('Move me');
    const copy = await copyOf('Move me');
    const edited = copy.ics
      .replace(/DTSTART[^\r\n]*/, `DTSTART:${ical(at(day, 16, 30))}`)
      .replace(/DTEND[^\r\n]*/, `DTEND:${ical(at(day, 17, 30))}`)
      .replace('SUMMARY:Move me', 'SUMMARY:Moved on iPhone\r\nLOCATION:Cafe')
      .replace(/DESCRIPTION:/, 'DESCRIPTION:Bring the contract\\n');
    await sam().phone.put(sam().account.primary.slug, edited, copy.href.split('/').pop());
    expect(await syncNow()).toMatchObject({ updated: 1, created: 0 });
    expect(await appointment(booked.id)).toMatchObject({ startsAt: iso(at(day, 16, 30)), endsAt: iso(at(day, 17, 30)), title: 'Moved on iPhone', notes: 'Bring the contract', location: 'Cafe', status: 'BOOKED', syncState: 'SYNCED' });
    const slots = (await f.slots(calendarId, at(day, 16), at(day, 18))).map((s) => s.startsAt);
    expect(slots).not.toContain(iso(at(day, 17)));
  });

  it('keeps an appointment deleted in iCloud, warns, and pushes it back on request', async () => {
    const booked = await bookAndPush('Delete me');
    await sam().phone.delete((await copyOf('Delete me')).href);
    await syncNow();
    expect(await appointment(booked.id)).toMatchObject({ status: 'BOOKED', syncState: 'DELETED_IN_ICLOUD' });
    const warnings = dataOf(await f.app.gql(sam().token, `{ conflictWarnings(resolved: false) { id kind appointmentId } }`)).conflictWarnings;
    const warning = warnings.find((w: { kind: string; appointmentId: string }) => w.kind === 'DELETED_IN_ICLOUD' && w.appointmentId === booked.id);
    expect(warning).toBeDefined();
    dataOf(await f.app.gql(f.admin, `mutation($id: ID!) { restoreAppointmentInICloud(id: $id) { id } }`, { id: booked.id }));
    await f.pushed();
    expect((await appointment(booked.id)).syncState).toBe('SYNCED');
    expect(await copyOf('Delete me')).toBeDefined();
    expect(dataOf(await f.app.gql(sam().token, `mutation($id: ID!) { resolveConflictWarning(id: $id) { resolved } }`, { id: warning.id })).resolveConflictWarning).toEqual({ resolved: true });
  });

  it('raises one DOUBLE_BOOKING per iCloud event and appointment, however many of its occurrences overlap it, and not again after an edit', async () => {
    const booked = await bookAndPush('Quarter hours');
    const starts = new Date(booked.startsAt);
    const em = f.app.server.orm.fork();
    const count = () => em.fork().count(ConflictWarning, { kind: ConflictKind.DOUBLE_BOOKING, appointmentId: booked.id });
    // Four occurrences a day, every quarter of the booked hour: each overlaps the appointment.
    const series = (summary: string) => vevent('quarters', ical(starts), ical(new Date(starts.getTime() + 10 * 60000)), summary, [`RRULE:FREQ=DAILY;COUNT=3;BYHOUR=${starts.getUTCHours()};BYMINUTE=0,15,30,45`]);
    const href = await sam().phone.put(sam().account.primary.slug, series('Check-ins'));
    const run = await syncNow();
    expect(run.warnings.filter((w: string) => w.includes('Quarter hours'))).toHaveLength(1);
    expect(await count()).toBe(1);
    await sam().phone.put(sam().account.primary.slug, series('Check-ins moved'), href.split('/').pop());
    expect(await syncNow()).toMatchObject({ updated: 1 });
    expect(await count()).toBe(1);
  });

  it('warns of a double booking when an iCloud event lands on an appointment, and creates no contact or appointment', async () => {
    const booked = await bookAndPush('Busy slot');
    const em = f.app.server.orm.fork();
    const before = { appointments: await em.count(Appointment, {}), contacts: await em.count(Contact, {}) };
    const ws = wsClient(f.app.url, sam().token);
    try {
      const stream = ws.subscribe(`subscription { conflictWarnings { kind appointmentId message } }`);
      await new Promise((r) => setTimeout(r, 200));
      const starts = new Date(booked.startsAt);
      await sam().phone.put(sam().account.primary.slug, vevent('dentist', iso(new Date(starts.getTime() + 30 * 60000)).replace('.000', ''), iso(new Date(starts.getTime() + 90 * 60000)).replace('.000', ''), 'Dentist'));
      const run = await syncNow();
      expect(run).toMatchObject({ created: 1 });
      expect(run.warnings.join()).toMatch(/"Dentist".*overlaps the CRM appointment "Busy slot"/);
      expect((await stream.next()).data.conflictWarnings).toMatchObject({ kind: 'DOUBLE_BOOKING', appointmentId: booked.id });
    } finally {
      await ws.client.dispose();
    }
    expect(await syncNow()).toMatchObject({ warnings: [] });
    expect({ appointments: await em.count(Appointment, {}), contacts: await em.count(Contact, {}) }).toEqual(before);
  });
});
