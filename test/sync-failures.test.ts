import { CalendarIntegration } from '../src/entities/calendar-integration.entity';
import { icloudTarget } from './harness/caldav-targets';
import { codeOf, dataOf, INTEGRATIONS } from './harness/app';
import { vevent } from './harness/phone';
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

  it('backs off after transient failures, honours Retry-After, and shows ERROR after five in a row until a success', async () => {
    const f = await fixture();
    const nextSync = () => f.app.server.orm.fork().findOneOrFail(CalendarIntegration, f.integrationId);
    emulator().failNext(503, { retryAfterSeconds: 900, host: 'partition' });
    const first = await f.syncNow();
    expect(first).toMatchObject({ outcome: 'FAILED', error: expect.stringMatching(/503/) });
    const after = await nextSync();
    expect(after.failureCount).toBe(1);
    expect(after.nextSyncAt!.getTime() - Date.now()).toBeGreaterThan(890 * 1000);
    emulator().failNext(500, { count: 4, host: 'partition' });
    for (let i = 0; i < 4; i++) await f.syncNow();
    expect(await status(f)).toMatchObject({ status: 'ERROR', statusMessage: expect.stringMatching(/failed 5 times.*500/) });
    expect(await f.syncNow()).toMatchObject({ outcome: 'SUCCESS' });
    expect(await status(f)).toMatchObject({ status: 'CONNECTED', statusMessage: null });
  });
});
