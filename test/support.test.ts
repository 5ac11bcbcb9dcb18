import { radicaleTarget, type CalDavTarget, type TargetAccount } from '../dev/caldav-targets';
import { codeOf, CONNECT, dataOf, startTestApp, type TestApp } from '../dev/app';
import { wsClient } from './harness/ws-client';

const SEARCH = `query($f: SupportIntegrationFilter, $first: Int, $after: String) {
  supportIntegrations(filter: $f, first: $first, after: $after) {
    nodes { id tenantId userId accountEmail status statusMessage lastSyncedAt nextSyncAt failureCount calendars { id name checkForConflicts isPrimary } }
    pageInfo { hasNextPage endCursor }
    totalCount
  }
}`;

/** Support staff (every tenant, read-only but for syncNow) and tenant admins looking integrations up. */
describe('support queries', () => {
  let target: CalDavTarget;
  let app: TestApp;
  const ids: Record<string, string> = {};
  const accounts: Record<string, TargetAccount> = {};
  const support = () => app.token('sue', 'support-desk', 'support');

  beforeAll(async () => {
    target = await radicaleTarget();
    const [a1, a2, b1] = await target.newAccounts(3);
    app = await startTestApp({ caldavUrl: a1.serverUrl });
    for (const [key, sub, tenant, account] of [['alice', 'alice', 'tenant-a', a1], ['bob', 'bob', 'tenant-a', a2], ['carl', 'carl', 'tenant-b', b1]] as const) {
      accounts[key] = account;
      ids[key] = dataOf(await app.gql(app.token(sub, tenant), CONNECT, { input: { appleId: account.appleId, appSpecificPassword: account.appSpecificPassword } })).connectICloud.id;
    }
  });
  afterAll(async () => {
    await app?.close();
    await target?.stop();
  });

  it('lets support find an integration of any tenant by Apple ID, whatever its case, without any credential', async () => {
    const page = dataOf(await app.gql(support(), SEARCH, { f: { appleId: accounts.carl.appleId.toUpperCase() } })).supportIntegrations;
    expect(page.totalCount).toBe(1);
    expect(page.nodes[0]).toMatchObject({ id: ids.carl, tenantId: 'tenant-b', userId: 'carl', accountEmail: accounts.carl.appleId, status: 'CONNECTED', failureCount: 0 });
    expect(page.nodes[0].calendars.length).toBeGreaterThan(0);
    expect(JSON.stringify(page)).not.toContain(accounts.carl.appSpecificPassword);
  });

  it('pages through every tenant with a cursor, and filters by tenant, user and status', async () => {
    const first = dataOf(await app.gql(support(), SEARCH, { first: 2 })).supportIntegrations;
    expect(first.totalCount).toBe(3);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const rest = dataOf(await app.gql(support(), SEARCH, { first: 2, after: first.pageInfo.endCursor })).supportIntegrations;
    expect(rest.pageInfo).toEqual({ hasNextPage: false, endCursor: expect.any(String) });
    expect([...first.nodes, ...rest.nodes].map((n: { id: string }) => n.id).sort()).toEqual(Object.values(ids).sort());
    expect(dataOf(await app.gql(support(), SEARCH, { f: { tenantId: 'tenant-a' } })).supportIntegrations.totalCount).toBe(2);
    expect(dataOf(await app.gql(support(), SEARCH, { f: { userId: 'bob' } })).supportIntegrations.nodes.map((n: { id: string }) => n.id)).toEqual([ids.bob]);
    expect(dataOf(await app.gql(support(), SEARCH, { f: { status: 'ERROR' } })).supportIntegrations.totalCount).toBe(0);
    expect(codeOf(await app.gql(support(), SEARCH, { after: 'not-a-cursor' }))).toBe('BAD_USER_INPUT');
  });

  it('limits a tenant admin to the tenant, whatever filter is asked, and refuses a user', async () => {
    const admin = app.token('boss', 'tenant-a', 'admin');
    const page = dataOf(await app.gql(admin, SEARCH, { f: { tenantId: 'tenant-b' } })).supportIntegrations;
    expect(page.nodes.map((n: { tenantId: string }) => n.tenantId)).toEqual(['tenant-a', 'tenant-a']);
    expect(codeOf(await app.gql(app.token('alice', 'tenant-a'), SEARCH, {}))).toBe('FORBIDDEN');
  });

  it('shows the status history of an integration, and hides it from another tenant exactly like an unknown id', async () => {
    const HISTORY = `query($id: ID!) { integrationHistory(id: $id) { at from to reason transition } }`;
    const history = dataOf(await app.gql(support(), HISTORY, { id: ids.alice })).integrationHistory;
    expect(history[0]).toMatchObject({ from: null, to: 'CONNECTED', transition: 'connected', reason: null });
    expect(dataOf(await app.gql(app.token('alice', 'tenant-a'), HISTORY, { id: ids.alice })).integrationHistory).toEqual(history);
    const otherAdmin = await app.gql(app.token('boss', 'tenant-b', 'admin'), HISTORY, { id: ids.alice });
    const unknown = await app.gql(app.token('boss', 'tenant-b', 'admin'), HISTORY, { id: '00000000-0000-0000-0000-000000000000' });
    expect([codeOf(otherAdmin), codeOf(unknown)]).toEqual(['NOT_FOUND', 'NOT_FOUND']);
    expect(otherAdmin.errors![0].message.replace(ids.alice, 'X')).toBe(unknown.errors![0].message.replace('00000000-0000-0000-0000-000000000000', 'X'));
  });

  it('lets support sync any integration now, and refuses every other write', async () => {
    const run = dataOf(await app.gql(support(), `mutation($id: ID!) { syncNow(integrationId: $id) { integrationId outcome } }`, { id: ids.carl })).syncNow;
    expect(run).toEqual({ integrationId: ids.carl, outcome: 'SUCCESS' });
    const writes = [
      [`mutation($id: ID!) { disconnectCalendarIntegration(id: $id) }`, { id: ids.carl }],
      [`mutation($id: ID!) { refreshCalendarList(integrationId: $id) { id } }`, { id: ids.carl }],
      [CONNECT, { input: { appleId: accounts.carl.appleId, appSpecificPassword: accounts.carl.appSpecificPassword } }],
      [`mutation { setTimezone(timezone: "Europe/Berlin") { id } }`, {}],
    ] as const;
    for (const [query, variables] of writes) expect(codeOf(await app.gql(support(), query, variables))).toBe('FORBIDDEN');
    // Hidden in a fragment, or sent over the WebSocket: refused all the same.
    expect(codeOf(await app.gql(support(), `mutation { ...M } fragment M on Mutation { setTimezone(timezone: "Europe/Berlin") { id } }`))).toBe('FORBIDDEN');
    const ws = wsClient(app.url, support());
    try {
      const answer = await ws.subscribe(`mutation { setTimezone(timezone: "Europe/Berlin") { id } }`).next();
      expect(answer.error?.[0]?.extensions?.code ?? answer.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      const synced = await ws.subscribe(`mutation($id: ID!) { syncNow(integrationId: $id) { integrationId } }`, { id: ids.bob }).next();
      expect(synced.data).toEqual({ syncNow: { integrationId: ids.bob } });
    } finally {
      await ws.client.dispose();
    }
    expect(dataOf(await app.gql(support(), SEARCH, { f: { userId: 'carl' } })).supportIntegrations.nodes[0].status).toBe('CONNECTED');
  });

  it("shows support an integration's recent runs and open warnings in any tenant, and an admin only in the tenant", async () => {
    const DETAILS = `query($f: SupportIntegrationFilter) { supportIntegrations(filter: $f) { nodes { id recentSyncRuns { integrationId outcome } openConflictWarnings { kind userId } } } }`;
    dataOf(await app.gql(support(), `mutation($id: ID!) { syncNow(integrationId: $id) { outcome } }`, { id: ids.carl }));
    const [carl] = dataOf(await app.gql(support(), DETAILS, { f: { userId: 'carl' } })).supportIntegrations.nodes;
    expect(carl.recentSyncRuns.length).toBeGreaterThan(0);
    expect(carl.recentSyncRuns.every((r: { integrationId: string; outcome: string }) => r.integrationId === ids.carl && r.outcome === 'SUCCESS')).toBe(true);
    expect(carl.openConflictWarnings).toEqual([]);
    const adminOfA = dataOf(await app.gql(app.token('boss', 'tenant-a', 'admin'), DETAILS, { f: { userId: 'carl' } })).supportIntegrations.nodes;
    expect(adminOfA).toEqual([]);
  });
});
