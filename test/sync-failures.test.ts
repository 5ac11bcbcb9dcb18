import { nestedComponents } from '../dev/hostile-corpus';
import { CalendarIntegration } from '../src/entities/calendar-integration.entity';
import { IntegrationStatusChange } from '../src/entities/integration-status-change.entity';
import { icloudTarget } from '../dev/caldav-targets';
import { codeOf, dataOf, INTEGRATIONS } from '../dev/app';
import { vevent } from '../dev/phone';
import { dayAt, type SyncFixture } from './harness/sync-fixture';
import { syncSuite } from './support/sync-suite';
import { wsClient } from './harness/ws-client';

/** iCloud's own quirks and failures, played by the emulation. */
describe('syncing against a misbehaving iCloud', () => {
  const suite = syncSuite(icloudTarget);
  const fixture = suite.fixture;
  const emulator = () => suite.target().emulator;
  const status = async (f: SyncFixture) => dataOf(await f.app.gql(f.token, INTEGRATIONS)).calendarIntegrations[0];

  it('treats a full listing answered to an expired token as a full resync: deletions are seen, nothing doubles', async () => {
    const f = await fixture();
    await f.phone.put('work', vevent('k1', dayAt(2, 9), dayAt(2, 10), 'K1'));
    await f.phone.put('work', vevent('k2', dayAt(3, 9), dayAt(3, 10), 'K2'));
    const gone = await f.phone.put('work', vevent('k3', dayAt(4, 9), dayAt(4, 10), 'K3'));
    await f.syncNow();
    await f.phone.delete(gone);
    emulator().expireSyncTokens(true);
    try {
      const run = await f.syncNow();
      expect(run).toMatchObject({ outcome: 'SUCCESS', created: 0, updated: 0, deleted: 1 });
    } finally {
      emulator().expireSyncTokens(false);
    }
    expect((await f.blocked()).map((b) => b.title)).toEqual(['K1', 'K2']);
  });

  it('falls back to getctag and an etag listing on a server without sync-collection: one request when unchanged', async () => {
    emulator().disableSyncCollection(true);
    try {
      const f = await fixture();
      await f.phone.put('work', vevent('c1', dayAt(2, 9), dayAt(2, 10), 'C1'));
      const gone = await f.phone.put('work', vevent('c2', dayAt(3, 9), dayAt(3, 10), 'C2'));
      expect(await f.syncNow()).toMatchObject({ outcome: 'SUCCESS', created: 2 });
      expect(await f.syncNow()).toMatchObject({ requests: 1, created: 0 });
      await f.phone.delete(gone);
      await f.phone.put('work', vevent('c3', dayAt(4, 9), dayAt(4, 10), 'C3'));
      expect(await f.syncNow()).toMatchObject({ requests: 3, created: 1, deleted: 1 });
      expect((await f.blocked()).map((b) => b.title)).toEqual(['C1', 'C3']);
    } finally {
      emulator().disableSyncCollection(false);
    }
  });

  it('skips a malformed calendar object with a warning naming it, and syncs the rest', async () => {
    const f = await fixture();
    const bad = await f.phone.put('work', vevent('bad', dayAt(2, 9), dayAt(2, 10), 'Bad'), 'BROKEN-OBJECT.ics');
    await f.phone.put('work', vevent('good', dayAt(3, 9), dayAt(3, 10), 'Good'));
    emulator().corrupt('BROKEN-OBJECT.ics');
    try {
      const run = await f.syncNow();
      expect(run).toMatchObject({ outcome: 'PARTIAL', created: 1 });
      expect(run.warnings.join()).toContain(new URL(bad).pathname.split('/').pop());
    } finally {
      emulator().corrupt(null);
    }
    expect((await f.blocked()).map((b) => b.title)).toEqual(['Good']);
  });

  it('turns a revoked password into NEEDS_RECONNECT with one status event, and a reconnect back into CONNECTED', async () => {
    const f = await fixture();
    const ws = wsClient(f.app.url, f.token);
    try {
      const events = ws.subscribe(`subscription { integrationStatusChanged { status statusMessage } }`);
      await new Promise((r) => setTimeout(r, 200));
      emulator().revoke(f.account.appleId);
      const run = await f.syncNow();
      expect(run).toMatchObject({ outcome: 'FAILED', error: expect.stringMatching(/401/) });
      const changed = (await events.next()).data.integrationStatusChanged;
      expect(changed).toMatchObject({ status: 'NEEDS_RECONNECT', statusMessage: expect.stringMatching(/new app-specific password/) });
      const again = await f.app.gql(f.token, `mutation($id: ID!) { syncNow(integrationId: $id) { id } }`, { id: f.integrationId });
      expect(codeOf(again)).toBe('INTEGRATION_NEEDS_RECONNECT');
      expect(events.results).toEqual([]);
      const fresh = emulator().reissue(f.account.appleId);
      await f.app.gql(f.token, `mutation($i: ConnectICloudInput!) { connectICloud(input: $i) { id } }`, { i: { appleId: fresh.appleId, appSpecificPassword: fresh.appSpecificPassword } });
      expect((await events.next()).data.integrationStatusChanged.status).toBe('CONNECTED');
      expect(await f.syncNow()).toMatchObject({ outcome: 'SUCCESS' });
    } finally {
      await ws.client.dispose();
    }
  });

  it('backs off after transient failures, honours Retry-After, and shows ERROR after three in a row until a success', async () => {
    const f = await fixture();
    const nextSync = () => f.app.server.orm.fork().findOneOrFail(CalendarIntegration, f.integrationId);
    emulator().failNext(503, { retryAfterSeconds: 900, host: 'partition' });
    const first = await f.syncNow();
    expect(first).toMatchObject({ outcome: 'FAILED', error: expect.stringMatching(/503/) });
    const after = await nextSync();
    expect(after.failureCount).toBe(1);
    expect(after.nextSyncAt!.getTime() - Date.now()).toBeGreaterThan(890 * 1000);
    emulator().failNext(500, { count: 1, host: 'partition' });
    await f.syncNow();
    expect(await status(f)).toMatchObject({ status: 'CONNECTED', statusMessage: expect.stringMatching(/failed 2 times in a row.*500/) });
    emulator().failNext(500, { count: 1, host: 'partition' });
    await f.syncNow();
    expect(await status(f)).toMatchObject({ status: 'ERROR', statusMessage: expect.stringMatching(/failed 3 times.*500/) });
    expect(await f.syncNow()).toMatchObject({ outcome: 'SUCCESS' });
    expect(await status(f)).toMatchObject({ status: 'CONNECTED', statusMessage: null });
    // Each change of status or message is in the integration's history, written by the transition that made it.
    const history = await f.app.server.orm.fork().find(IntegrationStatusChange, { integration: f.integrationId }, { orderBy: { at: 'asc', id: 'asc' } });
    expect(history.map((h) => [h.transition, h.from, h.to, h.message?.replace(/:.*/, '')])).toEqual([
      ['connected', null, 'CONNECTED', undefined],
      ['syncFailed', 'CONNECTED', 'CONNECTED', 'Syncing failed once'],
      ['syncFailed', 'CONNECTED', 'CONNECTED', 'Syncing failed 2 times in a row'],
      ['syncFailed', 'CONNECTED', 'ERROR', 'Syncing failed 3 times in a row'],
      ['synced', 'ERROR', 'CONNECTED', undefined],
    ]);
  });
});

/** One user's hostile calendar: the run is PARTIAL, the status names what could not be read, others sync on. */
describe('syncing hostile calendar data through the API', () => {
  const suite = syncSuite(icloudTarget);
  const emulator = () => suite.target().emulator;
  const status = async (f: SyncFixture) => dataOf(await f.app.gql(f.token, INTEGRATIONS)).calendarIntegrations[0];

  it('stores an endless minutely series as a busy block, skips an empty and a deeply nested object by name, and keeps syncing the rest', async () => {
    const [f, other] = [await suite.fixture(), await suite.fixture()];
    await f.phone.put('work', vevent('pager', dayAt(2, 8), dayAt(2, 9), 'Pager duty', ['RRULE:FREQ=MINUTELY']));
    await f.phone.put('work', vevent('lunch', dayAt(1, 12), dayAt(1, 13), 'Lunch'));
    await f.phone.put('work', vevent('empty', dayAt(3, 9), dayAt(3, 10), 'Empty one'), 'EMPTY-OBJECT.ics');
    await other.phone.put('work', vevent('o1', dayAt(2, 9), dayAt(2, 10), 'Other user'));
    emulator().corrupt('EMPTY-OBJECT.ics', '');
    try {
      const [run, otherRun] = await Promise.all([f.syncNow(), other.syncNow()]);
      expect(otherRun).toMatchObject({ outcome: 'SUCCESS', created: 1 });
      expect(run).toMatchObject({ outcome: 'PARTIAL', created: 2 });
      expect(run.warnings.join('\n')).toMatch(/"Pager duty" repeats every minute: counted as busy/);
      expect(run.warnings.join('\n')).toMatch(/skipped EMPTY-OBJECT\.ics: the calendar object is empty/);
    } finally {
      emulator().corrupt(null);
    }
    const horizonEnd = new Date(Date.now() + 400 * 86400000);
    const blocked = await f.blocked(new Date(Date.now() - 86400000), new Date(Date.now() + 90 * 86400000));
    expect(blocked.map((b) => b.title)).toEqual(['Lunch', 'Pager duty']);
    expect(blocked[1].startsAt).toBe(dayAt(2, 8).replace('Z', '.000Z'));
    expect(new Date(blocked[1].endsAt).getTime()).toBeGreaterThan(Date.now() + 360 * 86400000);
    expect(new Date(blocked[1].endsAt).getTime()).toBeLessThan(horizonEnd.getTime());
    const status = dataOf(await f.app.gql(f.token, INTEGRATIONS)).calendarIntegrations[0];
    expect(status).toMatchObject({ status: 'CONNECTED', statusMessage: expect.stringMatching(/could not be read.*EMPTY-OBJECT\.ics/) });
    // The broken object is remembered by its etag: not fetched again, still named until it changes.
    expect(await f.syncNow()).toMatchObject({ outcome: 'SUCCESS', requests: 1 });
    expect(dataOf(await f.app.gql(f.token, INTEGRATIONS)).calendarIntegrations[0].statusMessage).toMatch(/EMPTY-OBJECT\.ics/);
  });

  it('skips an object the database refuses to store by name, stores the rest of the calendar, and stores it once it changes', async () => {
    const f = await suite.fixture();
    await f.phone.put('work', vevent('poison', dayAt(3, 9), dayAt(3, 10), 'Poison'), 'POISON.ics');
    await f.phone.put('work', vevent('fine2', dayAt(4, 9), dayAt(4, 10), 'Fine'));
    const db = f.app.server.orm.orm.em.getConnection();
    // A real storage failure for one row (as PostgreSQL refuses a NUL character in text): the insert aborts.
    await db.execute(`create trigger refuse_poison before insert on external_event when new.summary = 'Poison' begin select raise(abort, 'injected storage failure'); end`);
    try {
      const run = await f.syncNow();
      expect(run).toMatchObject({ outcome: 'PARTIAL', created: 1 });
      expect(run.warnings.join()).toMatch(/skipped POISON\.ics: could not be stored \(.*injected storage failure/);
      expect((await f.blocked()).map((b) => b.title)).toEqual(['Fine']);
      expect((await status(f)).statusMessage).toMatch(/could not be read.*POISON\.ics/);
    } finally {
      await db.execute('drop trigger refuse_poison');
    }
    await f.phone.put('work', vevent('poison', dayAt(3, 9), dayAt(3, 10), 'Poison edited'), 'POISON.ics');
    expect(await f.syncNow()).toMatchObject({ outcome: 'SUCCESS', updated: 1 });
    expect((await f.blocked()).map((b) => b.title)).toEqual(['Poison edited', 'Fine']);
    expect((await status(f)).statusMessage).toBeNull();
  });

  it('skips an object of 20,000 nested components with a warning naming it', async () => {
    const f = await suite.fixture();
    await f.phone.put('work', vevent('deep', dayAt(3, 9), dayAt(3, 10), 'Deep'), 'DEEP-OBJECT.ics');
    await f.phone.put('work', vevent('fine', dayAt(4, 9), dayAt(4, 10), 'Fine'));
    emulator().corrupt('DEEP-OBJECT.ics', nestedComponents(20000));
    try {
      const run = await f.syncNow();
      expect(run).toMatchObject({ outcome: 'PARTIAL', created: 1 });
      expect(run.warnings.join()).toMatch(/DEEP-OBJECT\.ics: the calendar object nests components deeper than 8 levels/);
    } finally {
      emulator().corrupt(null);
    }
    expect((await f.blocked()).map((b) => b.title)).toEqual(['Fine']);
  });
});
