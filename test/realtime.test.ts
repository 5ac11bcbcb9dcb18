import { CalendarIntegration } from '../src/entities/calendar-integration.entity';
import { icloudTarget, type CalDavTarget } from '../dev/caldav-targets';
import { at, crmFixture, nextWeekday, type CrmFixture } from '../dev/crm-fixture';
import { CONNECT, codeOf, dataOf } from '../dev/app';
import type { ICloudEmulator } from '../dev/icloud-emulator';
import { vevent } from '../dev/phone';
import { wsClient, type WsTestClient } from './harness/ws-client';

const SUBSCRIPTIONS = {
  runs: `subscription { syncResults { integrationId outcome created warnings } }`,
  warnings: `subscription { conflictWarnings { kind userId appointmentId startsAt } }`,
  status: `subscription { integrationStatusChanged { id status statusMessage } }`,
};
const settle = () => new Promise((r) => setTimeout(r, 250));
const OPEN = [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '08:00', end: '20:00' }));

/** Front ends and dashboards see what the reconciler produces, the moment it produces it, scoped by role. */
describe('real-time subscriptions fed by the reconciler', () => {
  let target: CalDavTarget & { emulator: ICloudEmulator };
  let f: CrmFixture;
  const clients: WsTestClient[] = [];
  const day = nextWeekday(3, 5);

  beforeAll(async () => {
    target = await icloudTarget();
    f = await crmFixture(target, ['sam']);
  });
  afterAll(async () => {
    for (const c of clients) await c.client.dispose();
    await f?.app.close();
    await target?.stop();
  });

  function subscriber(token: string) {
    const ws = wsClient(f.app.url, token);
    clients.push(ws);
    return { runs: ws.subscribe(SUBSCRIPTIONS.runs), warnings: ws.subscribe(SUBSCRIPTIONS.warnings), status: ws.subscribe(SUBSCRIPTIONS.status) };
  }
  /** One reconcile interval: the integration is due, the tick runs. */
  async function tick() {
    await f.app.server.orm.fork().nativeUpdate(CalendarIntegration, {}, { nextSyncAt: new Date(0) });
    return f.app.server.reconciler.tick();
  }

  it('delivers the sync result and the double-booking warning of an iPhone change to the owner, their admin and support, and to no one else', async () => {
    const { id } = await f.createCalendar({ name: 'Consult', type: 'SERVICE', timezone: 'UTC', slotDurationMinutes: 60, openHours: OPEN, teamMembers: [{ userId: 'sam' }] });
    const booked = dataOf(await f.book({ calendarId: id, startsAt: at(day, 10), contact: { name: 'Ann' }, title: 'Consult Ann' })).bookAppointment;
    await f.pushed();
    await tick();
    const sam = subscriber(f.users.sam.token);
    const admin = subscriber(f.app.token('boss', 'tenant-a', 'admin'));
    const support = subscriber(f.app.token('sue', 'tenant-z', 'support'));
    const colleague = subscriber(f.app.token('bob', 'tenant-a', 'user'));
    const otherAdmin = subscriber(f.app.token('max', 'tenant-b', 'admin'));
    await settle();

    const { phone, account } = f.users.sam;
    await phone.put(account.primary.slug, vevent('gym', at(day, 10, 30).toISOString().replace('.000', ''), at(day, 11, 30).toISOString().replace('.000', ''), 'Gym'));
    expect(await tick()).toBe(1);
    for (const s of [sam, admin, support]) {
      expect((await s.runs.next()).data.syncResults).toMatchObject({ integrationId: f.users.sam.integrationId, outcome: 'SUCCESS', created: 1, warnings: [expect.stringMatching(/"Gym".*overlaps.*"Consult Ann"/)] });
      expect((await s.warnings.next()).data.conflictWarnings).toEqual({ kind: 'DOUBLE_BOOKING', userId: 'sam', appointmentId: booked.id, startsAt: at(day, 10, 30).toISOString() });
    }
    await settle();
    for (const s of [colleague, otherAdmin]) expect([...s.runs.results, ...s.warnings.results]).toEqual([]);
  });

  it('filters syncResults to one integration when asked', async () => {
    const ws = wsClient(f.app.url, f.users.sam.token);
    clients.push(ws);
    const other = ws.subscribe(`subscription { syncResults(integrationId: "00000000-0000-4000-8000-000000000000") { id } }`);
    const mine = ws.subscribe(`subscription($id: ID) { syncResults(integrationId: $id) { integrationId } }`, { id: f.users.sam.integrationId });
    await settle();
    await tick();
    expect((await mine.next()).data.syncResults.integrationId).toBe(f.users.sam.integrationId);
    await settle();
    expect(other.results).toEqual([]);
  });

  it('announces a revoked password once as NEEDS_RECONNECT however many ticks run, and a reconnect once as CONNECTED', async () => {
    const sam = subscriber(f.users.sam.token);
    await settle();
    target.emulator.revoke(f.users.sam.account.appleId);
    await tick();
    await tick();
    expect((await sam.status.next()).data.integrationStatusChanged).toMatchObject({ id: f.users.sam.integrationId, status: 'NEEDS_RECONNECT', statusMessage: expect.stringMatching(/app-specific password/) });
    await settle();
    expect(sam.status.results).toEqual([]);
    const fresh = target.emulator.reissue(f.users.sam.account.appleId);
    dataOf(await f.app.gql(f.users.sam.token, CONNECT, { input: { appleId: fresh.appleId, appSpecificPassword: fresh.appSpecificPassword } }));
    expect((await sam.status.next()).data.integrationStatusChanged.status).toBe('CONNECTED');
    await tick();
    await settle();
    expect(sam.status.results).toEqual([]);
  });

  it('lets support read and sync an account now, but not change anything', async () => {
    const support = f.app.token('sue', 'tenant-a', 'support');
    expect(codeOf(await f.app.gql(support, `mutation { setTimezone(timezone: "Europe/Berlin") { id } }`))).toBe('FORBIDDEN');
    expect(dataOf(await f.app.gql(support, `mutation($id: ID!) { syncNow(integrationId: $id) { integrationId } }`, { id: f.users.sam.integrationId })).syncNow).toEqual({ integrationId: f.users.sam.integrationId });
    expect(dataOf(await f.app.gql(support, `{ viewer { role } }`)).viewer.role).toBe('support');
  });
});
