import { faultyRadicaleTarget, type CalDavTarget } from '../dev/caldav-targets';
import { APPOINTMENT_FIELDS, at, crmFixture, nextWeekday, type CrmFixture } from '../dev/crm-fixture';
import { dataOf } from '../dev/app';
import type { FaultProxy } from '../dev/fault-proxy';
import { ConflictKind, ConflictWarning } from '../src/entities/conflict-warning.entity';
import { OutboxEntry } from '../src/entities/outbox-entry.entity';
import { AppointmentSyncLink, SyncState } from '../src/entities/sync-link.entity';
import { vevent } from '../dev/phone';

const ISO = (d: Date) => d.toISOString().replace('.000', '');

const OPEN = [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '08:00', end: '20:00' }));

/** Faults between the server and a real Radicale, injected by a proxy: nothing lost, nothing doubled, no conflict no one caused. */
describe('pushing through a faulty connection', () => {
  let target: CalDavTarget & { proxy: FaultProxy };
  let f: CrmFixture;
  let calendarId: string;
  const day = nextWeekday(3, 2);

  beforeAll(async () => {
    target = await faultyRadicaleTarget();
    f = await crmFixture(target, ['sam']);
    ({ id: calendarId } = await f.createCalendar({ name: 'Consult', type: 'SERVICE', timezone: 'UTC', slotDurationMinutes: 60, openHours: OPEN, teamMembers: [{ userId: 'sam' }] }));
  });
  afterAll(async () => {
    await f?.app.close();
    await target?.stop();
  });

  const retryNow = async () => {
    await f.app.server.orm.fork().nativeUpdate(OutboxEntry, {}, { nextAttemptAt: new Date(0) });
    f.app.server.services.outbox.kick();
    await f.pushed();
  };

  it('takes an update whose answer was lost, found in iCloud on the retry, as done: no EDIT_CONFLICT', async () => {
    const booked = dataOf(await f.book({ calendarId, startsAt: at(day, 9), contact: { name: 'Lost' }, title: 'Lost answer' })).bookAppointment;
    await f.pushed();
    target.proxy.inject({ kind: 'lostAnswer' }, { method: 'PUT' });
    dataOf(await f.app.gql(f.admin, `mutation($i: RescheduleAppointmentInput!) { rescheduleAppointment(input: $i) { id } }`, { i: { id: booked.id, startsAt: at(day, 11) } }));
    await f.pushed();
    expect(target.proxy.injected.lostAnswer).toBe(1);
    const pending = dataOf(await f.app.gql(f.admin, `query($id: ID!) { appointment(id: $id) { ${APPOINTMENT_FIELDS} } }`, { id: booked.id })).appointment;
    expect(pending.syncState).toBe('PENDING');
    await retryNow();
    const after = dataOf(await f.app.gql(f.admin, `query($id: ID!) { appointment(id: $id) { ${APPOINTMENT_FIELDS} } }`, { id: booked.id })).appointment;
    expect(after.syncState).toBe('SYNCED');
    expect(await f.app.server.orm.fork().count(ConflictWarning, { kind: ConflictKind.EDIT_CONFLICT })).toBe(0);
    expect((await f.icloudEvents('sam')).filter((e) => e.summary === 'Lost answer').map((e) => e.start)).toEqual([at(day, 11).toISOString()]);
  });

  it('keeps the outbox entry when storing a push result fails, and finishes it on the retry with one copy in iCloud', async () => {
    const db = f.app.server.orm.orm.em.getConnection();
    // A real storage failure, injected in the database: marking a copy SYNCED fails until the trigger goes.
    await db.execute(`create trigger fail_synced before update on appointment_sync_link when new.state = 'SYNCED' begin select raise(abort, 'injected storage failure'); end`);
    let booked: { id: string };
    try {
      booked = dataOf(await f.book({ calendarId, startsAt: at(day, 14), contact: { name: 'Store' }, title: 'Store failure' })).bookAppointment;
      await f.pushed();
      expect(await f.app.server.orm.fork().count(OutboxEntry, {})).toBe(1);
    } finally {
      await db.execute('drop trigger fail_synced');
    }
    await retryNow();
    const after = dataOf(await f.app.gql(f.admin, `query($id: ID!) { appointment(id: $id) { ${APPOINTMENT_FIELDS} } }`, { id: booked.id })).appointment;
    expect(after.syncState).toBe('SYNCED');
    expect(await f.app.server.orm.fork().count(OutboxEntry, {})).toBe(0);
    expect((await f.icloudEvents('sam')).filter((e) => e.summary === 'Store failure')).toHaveLength(1);
    expect(await f.app.server.orm.fork().count(ConflictWarning, { kind: ConflictKind.EDIT_CONFLICT })).toBe(0);
  });

  it('takes a garbled listing for no listing: nothing is deleted, the calendar waits for the next sync', async () => {
    const sam = f.users.sam;
    await sam.phone.put(sam.account.primary.slug, vevent('keep-me', ISO(at(day, 16)), ISO(at(day, 17)), 'Keep me'));
    const sync = async () => dataOf(await f.app.gql(sam.token, `mutation($id: ID!) { syncNow(integrationId: $id) { outcome deleted warnings } }`, { id: sam.integrationId })).syncNow;
    await sync();
    const blocked = async () => dataOf(await f.app.gql(sam.token, `query($f: DateTimeISO!, $t: DateTimeISO!) { blockedTimes(from: $f, to: $t) { title } }`, { f: day, t: at(day, 48) })).blockedTimes;
    expect(await blocked()).toEqual([{ title: 'Keep me' }]);
    // The incremental report, the full report and the PROPFIND listing all come back garbled.
    for (const method of ['REPORT', 'REPORT', 'PROPFIND']) target.proxy.inject({ kind: 'malformedXml' }, { method });
    const run = await sync();
    expect(run).toMatchObject({ outcome: 'PARTIAL', deleted: 0 });
    expect(await blocked()).toEqual([{ title: 'Keep me' }]);
    expect(await f.app.server.orm.fork().count(AppointmentSyncLink, { state: SyncState.DELETED_IN_ICLOUD })).toBe(0);
  });
});

describe('pushing for several users', () => {
  let target: CalDavTarget & { proxy: FaultProxy };
  let f: CrmFixture;
  const users = ['ann', 'ben', 'cat', 'dan'];

  beforeAll(async () => {
    target = await faultyRadicaleTarget();
    f = await crmFixture(target, users);
  });
  afterAll(async () => {
    await f?.app.close();
    await target?.stop();
  });

  it("writes different users' copies side by side and each user's in order, all of them landing", async () => {
    const { id: calendarId } = await f.createCalendar({ name: 'Team', type: 'ROUND_ROBIN', timezone: 'UTC', slotDurationMinutes: 60, openHours: OPEN, teamMembers: users.map((userId) => ({ userId })) });
    const day = nextWeekday(4, 3);
    // A slow iCloud: one push at a time would leave the others waiting behind it.
    target.proxy.delay(150);
    const outbox = f.app.server.services.outbox;
    const kick = outbox.kick.bind(outbox);
    outbox.kick = () => undefined;
    let booked: { id: string; assignedUserIds: string[] }[];
    try {
      booked = [];
      for (const hour of [9, 10, 11, 12]) booked.push(dataOf(await f.book({ calendarId, startsAt: at(day, hour), contact: { name: `Lead ${hour}` }, title: `Team ${hour}` })).bookAppointment);
      // The first one moved before anything was pushed: its user's two entries must go out in order.
      dataOf(await f.app.gql(f.admin, `mutation($i: RescheduleAppointmentInput!) { rescheduleAppointment(input: $i) { id } }`, { i: { id: booked[0].id, startsAt: at(day, 15) } }));
      target.proxy.peakInFlight = 0;
    } finally {
      outbox.kick = kick;
    }
    await outbox.drain();
    target.proxy.delay(0);
    expect(new Set(booked.flatMap((b) => b.assignedUserIds)).size).toBe(4);
    expect(target.proxy.peakInFlight).toBeGreaterThan(1);
    for (const [i, b] of booked.entries()) {
      const events = (await f.icloudEvents(b.assignedUserIds[0])).filter((e) => e.summary.startsWith('Team'));
      expect(events.map((e) => [e.summary, e.start])).toEqual([[`Team ${[9, 10, 11, 12][i]}`, at(day, i === 0 ? 15 : [9, 10, 11, 12][i]).toISOString()]]);
    }
    expect(await f.app.server.orm.fork().count(OutboxEntry, {})).toBe(0);
  });
});
