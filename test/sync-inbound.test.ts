import { ExternalCalendar } from '../src/entities/external-calendar.entity';
import { CalendarIntegration } from '../src/entities/calendar-integration.entity';
import { mkcalendar, TARGETS, type CalDavTarget } from '../dev/caldav-targets';
import { dataOf } from '../dev/app';
import { vevent } from '../dev/phone';
import { dayAt } from './harness/sync-fixture';
import { syncSuite } from './support/sync-suite';

/** The same inbound sync suite against emulated iCloud, Radicale and Xandikos, with another client as the iPhone. */
describe.each(TARGETS)('inbound sync from $name', ({ start }) => {
  const suite = syncSuite<CalDavTarget>(start);
  const { fixture } = suite;

  it('blocks the time of an event created on the phone, showing its title to the owner only', async () => {
    const f = await fixture();
    await f.phone.put('work', vevent('dentist-1', dayAt(1, 9), dayAt(1, 10), 'Dentist'));
    const run = await f.syncNow();
    expect(run).toMatchObject({ outcome: 'SUCCESS', created: 1, updated: 0, deleted: 0, error: null });
    expect(await f.blocked()).toEqual([{ startsAt: dayAt(1, 9).replace('Z', '.000Z'), endsAt: dayAt(1, 10).replace('Z', '.000Z'), title: 'Dentist' }]);
    const admin = f.app.token('boss', 'tenant-a', 'admin');
    expect((await f.blocked(undefined, undefined, admin)).map((b) => b.title)).toEqual([null]);
  });

  it('costs one request for an unchanged calendar and two for a changed one', async () => {
    const f = await fixture();
    await f.phone.put('work', vevent('a', dayAt(2, 9), dayAt(2, 10), 'A'));
    await f.syncNow();
    expect((await f.syncNow()).requests).toBe(1);
    await f.phone.put('work', vevent('b', dayAt(3, 9), dayAt(3, 10), 'B'));
    const run = await f.syncNow();
    expect(run).toMatchObject({ requests: 2, created: 1 });
  });

  it('stores more changed objects than one batch in several transactions, and then syncs at the floor again', async () => {
    const f = await fixture({ SYNC_BATCH_OBJECTS: '2' });
    const urls: string[] = [];
    for (let i = 0; i < 5; i++) urls.push(await f.phone.put('work', vevent(`batch-${i}`, dayAt(1 + i, 9), dayAt(1 + i, 10), `Batch ${i}`)));
    expect(await f.syncNow()).toMatchObject({ outcome: 'SUCCESS', created: 5, requests: 2 });
    expect((await f.blocked()).map((b) => b.title)).toEqual(['Batch 0', 'Batch 1', 'Batch 2', 'Batch 3', 'Batch 4']);
    expect(await f.syncNow()).toMatchObject({ created: 0, updated: 0, requests: 1 });
    // Three changes (two batches) and a deletion (applied with the last batch, which moves the cursor).
    for (const i of [0, 2, 4]) await f.phone.put('work', vevent(`batch-${i}`, dayAt(1 + i, 14), dayAt(1 + i, 15), `Moved ${i}`), urls[i].split('/').pop());
    await f.phone.delete(urls[3]);
    expect(await f.syncNow()).toMatchObject({ outcome: 'SUCCESS', created: 0, updated: 3, deleted: 1, requests: 2 });
    expect((await f.blocked()).map((b) => [b.title, b.startsAt])).toEqual([
      ['Moved 0', dayAt(1, 14).replace('Z', '.000Z')],
      ['Batch 1', dayAt(2, 9).replace('Z', '.000Z')],
      ['Moved 2', dayAt(3, 14).replace('Z', '.000Z')],
      ['Moved 4', dayAt(5, 14).replace('Z', '.000Z')],
    ]);
    expect(await f.syncNow()).toMatchObject({ created: 0, updated: 0, deleted: 0, requests: 1 });
  });

  it('follows a move, a retitle and a deletion made on the phone', async () => {
    const f = await fixture();
    const url = await f.phone.put('work', vevent('lunch', dayAt(4, 12), dayAt(4, 13), 'Lunch'));
    await f.syncNow();
    await f.phone.put('work', vevent('lunch', dayAt(5, 14), dayAt(5, 15), 'Late lunch'), url.split('/').pop());
    expect(await f.syncNow()).toMatchObject({ updated: 1, created: 0 });
    expect(await f.blocked()).toEqual([{ startsAt: dayAt(5, 14).replace('Z', '.000Z'), endsAt: dayAt(5, 15).replace('Z', '.000Z'), title: 'Late lunch' }]);
    await f.phone.delete(url);
    expect(await f.syncNow()).toMatchObject({ deleted: 1 });
    expect(await f.blocked()).toEqual([]);
  });

  it('expands a recurring series with one moved occurrence and ignores transparent events', async () => {
    const f = await fixture();
    const start = dayAt(7, 8);
    const movedFrom = dayAt(9, 8);
    const stamp = (iso: string) => iso.replace(/[-:]/g, '');
    const series = vevent('daily', start, dayAt(7, 9), 'Daily', ['RRULE:FREQ=DAILY;COUNT=4']).replace(
      'END:VCALENDAR',
      ['BEGIN:VEVENT', 'UID:daily', 'DTSTAMP:20260101T000000Z', `RECURRENCE-ID:${stamp(movedFrom)}`, `DTSTART:${stamp(dayAt(9, 15))}`, `DTEND:${stamp(dayAt(9, 16))}`, 'SUMMARY:Daily (moved)', 'END:VEVENT', 'END:VCALENDAR'].join('\r\n'),
    );
    await f.phone.put('work', series);
    await f.phone.put('work', vevent('free', dayAt(7, 12), dayAt(7, 13), 'Free time', ['TRANSP:TRANSPARENT']));
    await f.syncNow();
    const starts = (await f.blocked()).map((b) => b.startsAt);
    expect(starts).toEqual([dayAt(7, 8), dayAt(8, 8), dayAt(9, 15), dayAt(10, 8)].map((s) => s.replace('Z', '.000Z')));
  });

  it('recovers from a refused sync token with a full resync, without duplicates', async () => {
    const f = await fixture();
    await f.phone.put('work', vevent('keep', dayAt(2, 9), dayAt(2, 10), 'Keep'));
    const gone = await f.phone.put('work', vevent('gone', dayAt(2, 11), dayAt(2, 12), 'Gone'));
    await f.syncNow();
    const em = f.app.server.orm.fork();
    await em.nativeUpdate(ExternalCalendar, { name: 'Work' }, { syncToken: 'http://radicale.org/ns/sync/bogus-token' });
    await f.phone.delete(gone);
    const run = await f.syncNow();
    expect(run).toMatchObject({ created: 0, updated: 0, deleted: 1 });
    expect(run.warnings.join()).toMatch(/sync token .* was refused/);
    expect((await f.blocked()).map((b) => b.title)).toEqual(['Keep']);
  });

  it('keeps everything when a calendar that had events suddenly lists none, until a second sync confirms', async () => {
    const f = await fixture();
    const urls = [await f.phone.put('work', vevent('x1', dayAt(2, 9), dayAt(2, 10), 'X1')), await f.phone.put('work', vevent('x2', dayAt(3, 9), dayAt(3, 10), 'X2'))];
    await f.syncNow();
    for (const url of urls) await f.phone.delete(url);
    // Force a full listing (as after an expired token): an incremental answer would name each deletion.
    await f.app.server.orm.fork().nativeUpdate(ExternalCalendar, { name: 'Work' }, { syncToken: null });
    const held = await f.syncNow();
    expect(held).toMatchObject({ outcome: 'PARTIAL', deleted: 0 });
    expect(held.warnings.join()).toMatch(/suddenly lists no events \(2 stored\)/);
    expect(await f.blocked()).toHaveLength(2);
    expect(await f.syncNow()).toMatchObject({ deleted: 2 });
    expect(await f.blocked()).toEqual([]);
  });

  it('lists the runs newest first, also as recentSyncRuns of the integration', async () => {
    const f = await fixture();
    const first = await f.syncNow();
    const second = await f.syncNow();
    const runs = dataOf(await f.app.gql(f.token, `query($id: ID!) { syncRuns(integrationId: $id, limit: 5) { requests } calendarIntegration(id: $id) { recentSyncRuns { requests } } }`, { id: f.integrationId }));
    expect(runs.syncRuns).toEqual([{ requests: second.requests }, { requests: first.requests }]);
    expect(runs.calendarIntegration.recentSyncRuns).toEqual(runs.syncRuns);
  });

  it('picks up a calendar added in iCloud at the hourly list refresh, at one extra request', async () => {
    const f = await fixture();
    await f.syncNow();
    await mkcalendar(suite.target().request, f.account, 'added', 'Added on Mac');
    expect((await f.syncNow()).requests).toBe(1);
    await f.app.server.orm.fork().nativeUpdate(CalendarIntegration, { id: f.integrationId }, { calendarsRefreshedAt: new Date(0) });
    expect((await f.syncNow()).requests).toBe(2);
    const names = dataOf(await f.app.gql(f.token, `{ calendarIntegrations { calendars { name } } }`)).calendarIntegrations[0].calendars.map((c: { name: string }) => c.name);
    expect(names).toContain('Added on Mac');
  });
});
