import { faultyRadicaleTarget, type CalDavTarget } from '../dev/caldav-targets';
import { dataOf, type GraphQLResponse } from '../dev/app';
import { APPOINTMENT_FIELDS, at, crmFixture, nextWeekday, type CrmFixture } from '../dev/crm-fixture';
import type { FaultProxy } from '../dev/fault-proxy';
import { vevent } from '../dev/phone';

/**
 * iCloud down for five minutes, played at 1:30 by default: the first retry after 1 s instead of 30 s, an
 * outage of 10 s instead of 300 s. `OUTAGE_SECONDS=300` plays it at full length (first retry after 30 s).
 */
const OUTAGE_SECONDS = Number(process.env.OUTAGE_SECONDS ?? 10);
const RETRY_BASE_SECONDS = Math.max(1, Math.round(OUTAGE_SECONDS / 10));

const ISO = (d: Date) => d.toISOString().replace('.000', '');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const OPEN = [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '08:00', end: '18:00' }));

async function until<T>(what: string, seconds: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

describe('iCloud down for five minutes', () => {
  let target: CalDavTarget & { proxy: FaultProxy };
  let f: CrmFixture;
  beforeAll(async () => {
    target = await faultyRadicaleTarget();
    // The reconciler runs every second, as it runs every 30 s in production.
    f = await crmFixture(target, ['sam'], { env: { SYNC_CRON: '* * * * * *', SYNC_INTERVAL_SECONDS: '1', SYNC_RETRY_BASE_SECONDS: String(RETRY_BASE_SECONDS) } });
  });
  afterAll(async () => {
    await f?.app.close();
    await target?.stop();
  });

  it('keeps answering from local data, shows ERROR with the reason, and recovers by itself: what was booked meanwhile lands in iCloud once', async () => {
    const sam = f.users.sam;
    const day = nextWeekday(3, 3);
    const { id: calendarId } = await f.createCalendar({ name: 'Consult', type: 'SERVICE', timezone: 'UTC', slotDurationMinutes: 60, openHours: OPEN, teamMembers: [{ userId: 'sam' }] });
    const before = dataOf(await f.book({ calendarId, startsAt: at(day, 9), contact: { name: 'Before' }, title: 'Booked before' })).bookAppointment;
    await sam.phone.put(sam.account.primary.slug, vevent('dentist', ISO(at(day, 11)), ISO(at(day, 12)), 'Dentist'));
    const gql = (query: string, variables?: Record<string, unknown>) => f.app.gql(sam.token, query, variables);
    const blocked = async () => dataOf(await gql(`query($f: DateTimeISO!, $t: DateTimeISO!) { blockedTimes(from: $f, to: $t) { title } }`, { f: day, t: at(day, 24) })).blockedTimes;
    await until('the reconciler to read the phone event', 30, async () => ((await blocked()).length ? true : undefined));
    const integration = async () => dataOf(await gql(`{ calendarIntegrations { status statusMessage } }`)).calendarIntegrations[0];

    await target.proxy.down();
    const errors: string[] = [];
    const statuses = new Set<string>();
    let slowestMs = 0;
    let during: { id: string; syncState: string } | undefined;
    let held = [9];
    const ends = Date.now() + OUTAGE_SECONDS * 1000;
    // At least the outage's length, and until the reconciler has failed often enough to say ERROR (a busy
    // machine runs fewer ticks in the same time); never more than four times the length.
    const sawError = () => [...statuses].some((s) => s.startsWith('ERROR'));
    while (Date.now() < ends || (!sawError() && Date.now() < ends + OUTAGE_SECONDS * 3000)) {
      const started = Date.now();
      const answers: GraphQLResponse[] = await Promise.all([
        f.app.gql(f.admin, `query($c: ID!, $f: DateTimeISO!, $t: DateTimeISO!) { availableSlots(calendarId: $c, from: $f, to: $t) { startsAt } }`, { c: calendarId, f: day, t: at(day, 24) }),
        gql(`query($f: DateTimeISO!, $t: DateTimeISO!) { appointments(from: $f, to: $t) { id } }`, { f: day, t: at(day, 24) }),
        gql(`query($f: DateTimeISO!, $t: DateTimeISO!) { blockedTimes(from: $f, to: $t) { title } }`, { f: day, t: at(day, 24) }),
        gql(`{ calendarIntegrations { status statusMessage } }`),
      ]);
      slowestMs = Math.max(slowestMs, Date.now() - started);
      for (const a of answers) for (const e of a.errors ?? []) errors.push(e.message);
      const [slots, , busy, integrations] = answers.map((a) => a.data);
      // Local data: the phone's event still blocks 11:00, the appointment still holds 9:00.
      expect(busy?.blockedTimes).toEqual([{ title: 'Dentist' }]);
      const free = slots?.availableSlots.map((s: { startsAt: string }) => s.startsAt);
      for (const hour of [11, ...held]) expect(free).not.toContain(at(day, hour).toISOString());
      statuses.add(`${integrations?.calendarIntegrations[0].status}: ${integrations?.calendarIntegrations[0].statusMessage}`);
      if (!during && Date.now() > ends - OUTAGE_SECONDS * 800) {
        during = dataOf(await f.book({ calendarId, startsAt: at(day, 14), contact: { name: 'During' }, title: 'Booked during the outage' })).bookAppointment;
        dataOf(await f.app.gql(f.admin, `mutation($i: RescheduleAppointmentInput!) { rescheduleAppointment(input: $i) { id } }`, { i: { id: before.id, startsAt: at(day, 10) } }));
        held = [10, 14];
      }
      await sleep(250);
    }
    console.log(`outage of ${OUTAGE_SECONDS} s: slowest round of four API calls ${slowestMs} ms; statuses seen: ${[...statuses].join(' | ')}`);
    expect(errors).toEqual([]);
    expect(during?.syncState).toBe('PENDING');
    expect([...statuses].some((s) => /^ERROR: Syncing failed \d+ times in a row: cannot reach 127\.0\.0\.1:\d+.*retried automatically/.test(s))).toBe(true);

    await target.proxy.up();
    await until('the account to recover', 40 * RETRY_BASE_SECONDS, async () => ((await integration()).status === 'CONNECTED' ? true : undefined));
    expect((await integration()).statusMessage).toBeNull();
    const state = async (id: string) => dataOf(await f.app.gql(f.admin, `query($id: ID!) { appointment(id: $id) { ${APPOINTMENT_FIELDS} } }`, { id })).appointment.syncState;
    await until('the pushes made during the outage', 10, async () => ((await state(during!.id)) === 'SYNCED' && (await state(before.id)) === 'SYNCED' ? true : undefined));
    const events = (await f.icloudEvents('sam')).map((e) => [e.summary, e.start]);
    expect(events.filter(([s]) => s !== 'Dentist')).toEqual([
      ['Booked before', at(day, 10).toISOString()],
      ['Booked during the outage', at(day, 14).toISOString()],
    ]);
  }, (OUTAGE_SECONDS * 6 + 60) * 1000);
});
