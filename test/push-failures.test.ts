import { icloudTarget, type CalDavTarget } from '../dev/caldav-targets';
import { APPOINTMENT_FIELDS, at, crmFixture, nextWeekday, type CrmFixture } from '../dev/crm-fixture';
import { CONNECT, dataOf } from '../dev/app';
import type { ICloudEmulator } from '../dev/icloud-emulator';
import { OutboxEntry } from '../src/entities/outbox-entry.entity';

const OPEN = [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '08:00', end: '20:00' }));

/** Pushing to a failing or changing iCloud: nothing lost, nothing written twice, never a write without a precondition. */
describe('pushing appointments to a misbehaving iCloud', () => {
  let target: CalDavTarget & { emulator: ICloudEmulator };
  let f: CrmFixture;
  let calendarId: string;
  const day = nextWeekday(3, 3);
  let hour = 8;

  beforeAll(async () => {
    target = await icloudTarget();
    f = await crmFixture(target, ['sam']);
    ({ id: calendarId } = await f.createCalendar({ name: 'Consult', type: 'SERVICE', timezone: 'UTC', slotDurationMinutes: 60, openHours: OPEN, teamMembers: [{ userId: 'sam' }] }));
  });
  afterAll(async () => {
    await f?.app.close();
    await target?.stop();
  });

  const appointment = async (id: string) => dataOf(await f.app.gql(f.admin, `query($id: ID!) { appointment(id: $id) { ${APPOINTMENT_FIELDS} } }`, { id })).appointment;
  const book = async (title: string) => dataOf(await f.book({ calendarId, startsAt: at(day, hour++), contact: { name: title }, title })).bookAppointment;
  const retryNow = () => f.app.server.orm.fork().nativeUpdate(OutboxEntry, {}, { nextAttemptAt: new Date(0) });

  it('retries after a 503 with Retry-After and writes the event exactly once', async () => {
    target.emulator.failNext(503, { retryAfterSeconds: 30, host: 'partition' });
    const booked = await book('Retry me');
    await f.pushed();
    expect(await appointment(booked.id)).toMatchObject({ syncState: 'PENDING', syncError: expect.stringMatching(/503.*retrying/) });
    const [entry] = await f.app.server.orm.fork().find(OutboxEntry, {});
    expect(entry.nextAttemptAt.getTime() - Date.now()).toBeGreaterThan(25000);
    await retryNow();
    f.app.server.services.outbox.kick();
    await f.pushed();
    expect((await appointment(booked.id)).syncState).toBe('SYNCED');
    expect((await f.icloudEvents('sam')).filter((e) => e.summary === 'Retry me')).toHaveLength(1);
    // Each attempt leaves one line: the failure as a warning with its reason and wait, then the write that landed.
    const pushes = f.app.logs.map((l) => JSON.parse(l)).filter((l) => l.syncKey === `appt:${booked.id}` && /^push of a copy/.test(l.msg));
    expect(pushes).toEqual([
      expect.objectContaining({ msg: 'push of a copy to iCloud failed', level: 40, userId: 'sam', action: 'create', outcome: 'retrying', attempt: 1, reason: expect.stringMatching(/503/), retryInSeconds: expect.any(Number) }),
      expect.objectContaining({ msg: 'push of a copy to iCloud done', level: 30, userId: 'sam', action: 'create', outcome: 'done', attempt: 2 }),
    ]);
  });

  it('keeps pushes pending while the password is revoked and sends them after the user reconnects', async () => {
    target.emulator.revoke(f.users.sam.account.appleId);
    const booked = await book('After reconnect');
    await f.pushed();
    expect(await appointment(booked.id)).toMatchObject({ syncState: 'PENDING', syncError: expect.stringMatching(/reconnect/) });
    const status = dataOf(await f.app.gql(f.users.sam.token, `{ calendarIntegrations { status } }`)).calendarIntegrations[0].status;
    expect(status).toBe('NEEDS_RECONNECT');
    const fresh = target.emulator.reissue(f.users.sam.account.appleId);
    dataOf(await f.app.gql(f.users.sam.token, CONNECT, { input: { appleId: fresh.appleId, appSpecificPassword: fresh.appSpecificPassword } }));
    f.users.sam.account.appSpecificPassword = fresh.appSpecificPassword;
    await f.pushed();
    expect((await appointment(booked.id)).syncState).toBe('SYNCED');
    expect((await f.icloudEvents('sam')).map((e) => e.summary)).toContain('After reconnect');
  });

  it('shows NOT_CONNECTED for a member without a primary calendar, and pushes once one is chosen', async () => {
    const { id } = await f.createCalendar({ name: 'Intro', type: 'SERVICE', timezone: 'UTC', slotDurationMinutes: 30, openHours: OPEN, teamMembers: [{ userId: 'newbie' }] });
    const booked = dataOf(await f.book({ calendarId: id, startsAt: at(day, 19), contact: { name: 'Nia' } })).bookAppointment;
    await f.pushed();
    expect(await appointment(booked.id)).toMatchObject({ syncState: 'NOT_CONNECTED', syncError: expect.stringMatching(/no primary/) });
    const account = await target.newAccount();
    const token = f.app.token('newbie');
    const { calendars } = dataOf(await f.app.gql(token, CONNECT, { input: { appleId: account.appleId, appSpecificPassword: account.appSpecificPassword } })).connectICloud;
    const work = calendars.find((c: { name: string }) => c.name === 'Work');
    dataOf(await f.app.gql(token, `mutation($id: ID!) { setPrimaryCalendar(input: {calendarId: $id}) { id } }`, { id: work.id }));
    await f.pushed();
    expect((await appointment(booked.id)).syncState).toBe('SYNCED');
  });

  it('resolves a 412 by the later change: a CRM reschedule after an iPhone edit wins and the iPhone version is kept in a warning', async () => {
    const booked = await book('Contested');
    await f.pushed();
    const { phone, account } = f.users.sam;
    const [copy] = (await phone.events(account.primary.slug)).filter((e) => e.ics.includes('SUMMARY:Contested'));
    await phone.put(account.primary.slug, copy.ics.replace('SUMMARY:Contested', 'SUMMARY:Edited on iPhone').replace(/LAST-MODIFIED:\d+T\d+Z/, 'LAST-MODIFIED:20200101T000000Z'), copy.href.split('/').pop());
    dataOf(await f.app.gql(f.admin, `mutation($i: RescheduleAppointmentInput!) { rescheduleAppointment(input: $i) { id } }`, { i: { id: booked.id, startsAt: at(day, 18) } }));
    await f.pushed();
    const events = (await f.icloudEvents('sam')).filter((e) => e.uid === new RegExp('UID:(\\S+)').exec(copy.ics)![1]);
    expect(events.map((e) => [e.summary, e.start])).toEqual([['Contested', at(day, 18).toISOString()]]);
    const warnings = dataOf(await f.app.gql(f.users.sam.token, `{ conflictWarnings(resolved: false) { kind appointmentId message } }`)).conflictWarnings;
    expect(warnings).toContainEqual({ kind: 'EDIT_CONFLICT', appointmentId: booked.id, message: expect.stringMatching(/CRM version was kept/) });
  });

  it('marks a copy deleted on the iPhone as DELETED_IN_ICLOUD instead of writing it again', async () => {
    const booked = await book('Deleted on phone');
    await f.pushed();
    const { phone, account } = f.users.sam;
    const [copy] = (await phone.events(account.primary.slug)).filter((e) => e.ics.includes('SUMMARY:Deleted on phone'));
    await phone.delete(copy.href);
    dataOf(await f.app.gql(f.admin, `mutation($i: RescheduleAppointmentInput!) { rescheduleAppointment(input: $i) { id } }`, { i: { id: booked.id, startsAt: at(day, 17) } }));
    await f.pushed();
    expect((await appointment(booked.id)).syncState).toBe('DELETED_IN_ICLOUD');
    expect((await f.icloudEvents('sam')).map((e) => e.summary)).not.toContain('Deleted on phone');
    const warnings = dataOf(await f.app.gql(f.users.sam.token, `{ conflictWarnings(resolved: false) { kind appointmentId } }`)).conflictWarnings;
    expect(warnings).toContainEqual({ kind: 'DELETED_IN_ICLOUD', appointmentId: booked.id });
  });

  it('moves the copies of upcoming appointments when the user picks another primary calendar', async () => {
    const booked = await book('Follows the primary');
    await f.pushed();
    const { phone, token } = f.users.sam;
    const { calendars } = dataOf(await f.app.gql(token, `{ calendarIntegrations { calendars { id name } } }`)).calendarIntegrations[0];
    const home = calendars.find((c: { name: string }) => c.name === 'Calendar');
    dataOf(await f.app.gql(token, `mutation($id: ID!) { setPrimaryCalendar(input: {calendarId: $id}) { id } }`, { id: home.id }));
    await f.pushed();
    const titles = async (slug: string) => (await phone.events(slug)).filter((e) => e.ics.includes('Follows the primary')).length;
    expect([await titles('work'), await titles('home')]).toEqual([0, 1]);
    expect((await appointment(booked.id)).syncState).toBe('SYNCED');
  });
});
