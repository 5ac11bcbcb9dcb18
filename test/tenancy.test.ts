import { radicaleTarget, type CalDavTarget } from '../dev/caldav-targets';
import { signToken } from '../src/auth/jwt';
import { CONNECT, codeOf, dataOf, INTEGRATIONS, startTestApp, TEST_JWT_SECRET, type TestApp } from '../dev/app';

/** Every query and mutation is scoped to the caller's tenant and user. */
describe('one user’s calendar account seen from another user or tenant', () => {
  let target: CalDavTarget;
  let app: TestApp;
  let integrationId: string;
  let calendarIds: string[];
  let aliceToken: string;

  beforeAll(async () => {
    target = await radicaleTarget();
    const account = await target.newAccount();
    app = await startTestApp({ caldavUrl: account.serverUrl });
    aliceToken = app.token('alice', 'tenant-a');
    const integration = dataOf(await app.gql(aliceToken, CONNECT, { input: { appleId: account.appleId, appSpecificPassword: account.appSpecificPassword } })).connectICloud;
    integrationId = integration.id;
    calendarIds = integration.calendars.filter((c: { writable: boolean }) => c.writable).map((c: { id: string }) => c.id);
    dataOf(await app.gql(aliceToken, `mutation($id: ID!) { setPrimaryCalendar(input: {calendarId: $id}) { id } }`, { id: calendarIds[0] }));
  });
  afterAll(async () => {
    await app?.close();
    await target?.stop();
  });

  const outsiders = [
    ['a colleague in the same tenant', 'bob', 'tenant-a', 'user'],
    ['an admin of another tenant', 'mallory', 'tenant-b', 'admin'],
    ['a user of another tenant with the same CRM user id', 'alice', 'tenant-b', 'user'],
  ] as const;

  describe.each(outsiders)('%s', (_label, sub, tenant, role) => {
    const token = () => app.token(sub, tenant, role);

    it('sees no integration in the list and NOT_FOUND by id', async () => {
      expect(dataOf(await app.gql(token(), INTEGRATIONS)).calendarIntegrations).toEqual([]);
      expect(codeOf(await app.gql(token(), `query($id: ID!) { calendarIntegration(id: $id) { id } }`, { id: integrationId }))).toBe('NOT_FOUND');
    });

    it('cannot change the primary, the conflict calendars, refresh or disconnect it', async () => {
      const attempts = [
        [`mutation($id: ID!) { setPrimaryCalendar(input: {calendarId: $id}) { id } }`, { id: calendarIds[1] }],
        [`mutation($ids: [ID!]!) { setConflictCalendars(input: {calendarIds: $ids}) { id } }`, { ids: calendarIds }],
        [`mutation($id: ID!) { refreshCalendarList(integrationId: $id) { id } }`, { id: integrationId }],
        [`mutation($id: ID!) { disconnectCalendarIntegration(id: $id) }`, { id: integrationId }],
      ] as const;
      for (const [query, variables] of attempts) expect(codeOf(await app.gql(token(), query, variables))).toBe('NOT_FOUND');
      const [own] = dataOf(await app.gql(aliceToken, INTEGRATIONS)).calendarIntegrations;
      expect(own.status).toBe('CONNECTED');
      expect(own.calendars.filter((c: { isPrimary: boolean }) => c.isPrimary).map((c: { id: string }) => c.id)).toEqual([calendarIds[0]]);
      expect(own.calendars.filter((c: { checkForConflicts: boolean }) => c.checkForConflicts)).toHaveLength(1);
    });
  });

  it('lets a tenant admin and support read a user\'s integrations, and no one else', async () => {
    const listOf = async (token: string) => app.gql(token, `query($u: ID) { calendarIntegrations(userId: $u) { id } }`, { u: 'alice' });
    for (const token of [app.token('boss', 'tenant-a', 'admin'), app.token('sue', 'tenant-a', 'support')]) {
      expect(dataOf(await listOf(token)).calendarIntegrations).toEqual([{ id: integrationId }]);
    }
    expect(codeOf(await listOf(app.token('bob', 'tenant-a', 'user')))).toBe('NOT_FOUND');
    // In tenant B, "alice" is another person (created on first sight above): she has no integration.
    expect(dataOf(await listOf(app.token('mallory', 'tenant-b', 'admin'))).calendarIntegrations).toEqual([]);
  });

  it('answers UNAUTHENTICATED without a token, with an expired one or with a forged one', async () => {
    expect(codeOf(await app.gql(undefined, INTEGRATIONS))).toBe('UNAUTHENTICATED');
    const expired = signToken({ sub: 'alice', tenantId: 'tenant-a', role: 'user' }, TEST_JWT_SECRET, -10);
    const res0 = await app.gql(expired, INTEGRATIONS);
    expect(codeOf(res0)).toBe('UNAUTHENTICATED');
    expect(res0.errors![0].message).toMatch(/expired/);
    const forged = signToken({ sub: 'alice', tenantId: 'tenant-a', role: 'admin' }, 'not-the-secret');
    const res = await app.gql(forged, INTEGRATIONS);
    expect(codeOf(res)).toBe('UNAUTHENTICATED');
    expect(res.data ?? null).toBeNull();
  });
});
