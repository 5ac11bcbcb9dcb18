import { signToken } from '../src/auth/jwt';
import { radicaleTarget, type CalDavTarget, type TargetAccount } from '../dev/caldav-targets';
import { CONNECT, dataOf, startTestApp, TEST_JWT_SECRET, type TestApp } from '../dev/app';
import { wsClient } from './harness/ws-client';

const STATUS = `subscription { integrationStatusChanged { id accountEmail status statusMessage } }`;
const settle = () => new Promise((r) => setTimeout(r, 200));

describe('GraphQL over WebSocket (graphql-ws on /graphql)', () => {
  let target: CalDavTarget;
  let account: TargetAccount;
  let app: TestApp;

  beforeAll(async () => {
    target = await radicaleTarget();
    account = await target.newAccount();
    app = await startTestApp({ caldavUrl: account.serverUrl });
  });
  afterAll(async () => {
    await app?.close();
    await target?.stop();
  });

  it.each([
    ['no token', undefined],
    ['a forged token', signToken({ sub: 'alice', tenantId: 'tenant-a', role: 'admin' }, 'wrong-secret')],
    ['an expired token', signToken({ sub: 'alice', tenantId: 'tenant-a', role: 'user' }, TEST_JWT_SECRET, -5)],
  ])('closes a connection with %s, saying why', async (_label, token) => {
    const ws = wsClient(app.url, token);
    const { code, reason } = await ws.closed;
    expect(code).toBe(4401);
    expect(reason).toMatch(/token/i);
  });

  it('streams integrationStatusChanged to its owner only, once per actual change', async () => {
    const alice = wsClient(app.url, app.token('alice', 'tenant-a'));
    const colleague = wsClient(app.url, app.token('bob', 'tenant-a'));
    const stranger = wsClient(app.url, app.token('alice', 'tenant-b', 'admin'));
    try {
      const mine = alice.subscribe(STATUS);
      const theirs = [colleague.subscribe(STATUS), stranger.subscribe(STATUS)];
      await settle();
      const token = app.token('alice', 'tenant-a');
      const input = { appleId: account.appleId, appSpecificPassword: account.appSpecificPassword };
      const { id } = dataOf(await app.gql(token, CONNECT, { input })).connectICloud;
      expect((await mine.next()).data.integrationStatusChanged).toEqual({ id, accountEmail: account.appleId, status: 'CONNECTED', statusMessage: null });
      dataOf(await app.gql(token, CONNECT, { input })); // same status again: no event
      dataOf(await app.gql(token, `mutation($id: ID!) { disconnectCalendarIntegration(id: $id) }`, { id }));
      expect((await mine.next()).data.integrationStatusChanged.status).toBe('DISCONNECTED');
      await settle();
      expect(mine.results).toEqual([]);
      expect(theirs.flatMap((s) => s.results)).toEqual([]);
    } finally {
      for (const c of [alice, colleague, stranger]) await c.client.dispose();
    }
  });

  it('answers queries over the socket too, with the same limits', async () => {
    const ws = wsClient(app.url, app.token('carol'));
    try {
      const viewer = ws.subscribe(`{ viewer { id tenantId } }`);
      expect((await viewer.next()).data.viewer).toEqual({ id: 'carol', tenantId: 'tenant-a' });
      const aliases = Array.from({ length: 20 }, (_, i) => `a${i}: viewer { id }`).join(' ');
      const limited = ws.subscribe(`{ ${aliases} }`);
      expect(JSON.stringify(await limited.next())).toMatch(/Aliases limit of 15 exceeded/);
    } finally {
      await ws.client.dispose();
    }
  });
});
