import jwt from 'jsonwebtoken';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { signToken } from '../src/auth/jwt';
import { SyncRun } from '../src/entities/sync-run.entity';
import { faultyRadicaleTarget, radicaleTarget } from '../dev/caldav-targets';
import { codeOf, dataOf, TEST_JWT_SECRET } from '../dev/app';
import { wsClient } from './harness/ws-client';
import { vevent } from '../dev/phone';
import { dayAt, SYNC_RUN_FIELDS, syncFixture } from './harness/sync-fixture';
import { WS_LIMITS } from '../src/ws-policy';
import { syncSuite } from './support/sync-suite';

/** Requests a hostile or careless client can send: each is refused cheaply or folded into work already under way. */
describe('abuse of the API', () => {
  const suite = syncSuite(radicaleTarget);

  it('joins parallel syncNow calls on one integration into one run instead of doing the work three times', async () => {
    const f = await suite.fixture();
    await f.phone.put('work', vevent('p1', dayAt(2, 9), dayAt(2, 10), 'P1'));
    const before = await f.app.server.orm.fork().count(SyncRun, { integration: f.integrationId });
    const sync = () => f.app.gql(f.token, `mutation($id: ID!) { syncNow(integrationId: $id) { ${SYNC_RUN_FIELDS} } }`, { id: f.integrationId });
    const runs = (await Promise.all([sync(), sync(), sync()])).map((r) => dataOf(r).syncNow);
    expect(new Set(runs.map((r) => r.id)).size).toBe(1);
    expect(runs[0]).toMatchObject({ outcome: 'SUCCESS', created: 1 });
    expect(await f.app.server.orm.fork().count(SyncRun, { integration: f.integrationId })).toBe(before + 1);
  });

  const post = (url: string, body: string, headers: Record<string, string> = {}) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

  it('answers malformed JSON and a body over 1 MB with a JSON error, never an HTML page or a stack trace', async () => {
    const f = await suite.fixture();
    const big = JSON.stringify({ query: '{ viewer { id } }', pad: 'x'.repeat(1_100_000) });
    // Without a length, in chunks: the limit is counted as the body arrives.
    const chunked = () => new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode(big)), c.close()) });
    const send = (body: string | ReadableStream, headers: Record<string, string> = {}) =>
      fetch(f.app.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body, duplex: 'half' } as RequestInit);
    for (const [label, res, status, message] of [
      ['malformed', await send('{"query": '), 400, /not valid JSON/],
      ['not an object', await send('"{ viewer { id } }"'), 400, /not valid JSON/],
      ['over 1 MB', await send(big), 413, /larger than 1 MB/],
      ['over 1 MB in chunks', await send(chunked()), 413, /larger than 1 MB/],
      // A compressed body is read by express's parser, with the same answers.
      ['malformed, gzipped', await send(gzipSync('{"query": ') as never, { 'content-encoding': 'gzip' }), 400, /not valid JSON/],
    ] as const) {
      expect([label, res.status]).toEqual([label, status]);
      const text = await res.text();
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
      expect(JSON.parse(text).errors[0]).toMatchObject({ message: expect.stringMatching(message), extensions: { code: 'BAD_REQUEST' } });
      expect(text).not.toMatch(/<html|node_modules|\/work\/|at [A-Za-z]+ \(/i);
    }
    const gzipped = await send(gzipSync(JSON.stringify({ query: '{ viewer { id } }' })) as never, { 'content-encoding': 'gzip', authorization: `Bearer ${f.token}` });
    expect(((await gzipped.json()) as any).data.viewer.id).toBeTruthy();
    const unknown = await fetch(new URL('/nowhere', f.app.url));
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as any).errors[0].extensions.code).toBe('NOT_FOUND');
  });

  it('refuses a huge query and a huge variable before parsing them, without echoing them', async () => {
    const f = await suite.fixture();
    const huge = `{ ${'viewer { id } '.repeat(60000)} }`;
    const res = await post(f.app.url, JSON.stringify({ query: huge }), { authorization: `Bearer ${f.token}` });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).errors[0]).toMatchObject({ message: expect.stringMatching(/longer than 50000 characters/), extensions: { code: 'BAD_REQUEST' } });
    const many = `{ ${'__typename '.repeat(4000)} }`;
    expect((await f.app.gql(f.token, many)).errors![0].message).toMatch(/more than 3000 tokens/);
    const big = 'A'.repeat(900_000);
    const echoed = await post(f.app.url, JSON.stringify({ query: 'mutation($i: ConnectICloudInput!) { connectICloud(input: $i) { id } }', variables: { i: { appleId: big, appSpecificPassword: 'abcd-efgh-ijkl-mnop' } } }), { authorization: `Bearer ${f.token}` });
    const text = await echoed.text();
    expect(text.length).toBeLessThan(2000);
    expect(JSON.parse(text).errors[0].message).toMatch(/variable is longer than 10000 characters/);
  });

  it('refuses tokens without an expiry or with an empty subject or tenant', async () => {
    const f = await suite.fixture();
    const noExp = jwt.sign({ tenantId: 'tenant-a', role: 'user' }, TEST_JWT_SECRET, { algorithm: 'HS256', subject: 'alice' });
    const emptySub = jwt.sign({ tenantId: 'tenant-a', role: 'user' }, TEST_JWT_SECRET, { algorithm: 'HS256', subject: ' ', expiresIn: 60 });
    const emptyTenant = jwt.sign({ tenantId: '', role: 'user' }, TEST_JWT_SECRET, { algorithm: 'HS256', subject: 'alice', expiresIn: 60 });
    for (const token of [noExp, emptySub, emptyTenant]) expect(codeOf(await f.app.gql(token, '{ viewer { id } }'))).toBe('UNAUTHENTICATED');
  });

  it('refuses a token over HTTP once it expires, though it was accepted moments before', async () => {
    const f = await suite.fixture();
    const token = signToken({ sub: 'alice', tenantId: 'tenant-a', role: 'user' }, TEST_JWT_SECRET, 2);
    expect(dataOf(await f.app.gql(token, '{ viewer { id } }')).viewer.id).toBe('alice');
    await new Promise((r) => setTimeout(r, 2100));
    const refused = await f.app.gql(token, '{ viewer { id } }');
    expect([codeOf(refused), refused.errors![0].message]).toEqual(['UNAUTHENTICATED', 'Token expired: get a new token.']);
  });

  it('ends a WebSocket when its token expires', async () => {
    const f = await suite.fixture();
    const ws = wsClient(f.app.url, signToken({ sub: 'alice', tenantId: 'tenant-a', role: 'user' }, TEST_JWT_SECRET, 2));
    try {
      ws.subscribe('subscription { conflictWarnings { id } }');
      expect(await ws.closed).toEqual({ code: 4401, reason: 'Token expired: get a new token.' });
    } finally {
      await ws.client.dispose();
    }
  });

  it('keeps the SQLite file, its write-ahead log and the data folder private to the user running the server', async () => {
    const f = await suite.fixture();
    expect(statSync(f.app.dataDir).mode & 0o777).toBe(0o700);
    // The write-ahead log (commits without waiting for fsync on the event loop) and its index take the file's mode.
    expect(await f.app.server.orm.fork().getConnection().execute('pragma journal_mode')).toEqual([{ journal_mode: 'wal' }]);
    for (const file of ['crm-calendar.sqlite', 'crm-calendar.sqlite-wal', 'crm-calendar.sqlite-shm']) {
      expect([file, statSync(join(f.app.dataDir, file)).mode & 0o777]).toEqual([file, 0o600]);
    }
  });

  it('refuses a syncNow moments after the last run, saying when to try again, but still joins a run under way', async () => {
    // Behind a proxy that slows every CalDAV answer: the run outlasts the burst (a fast run could end before
    // the third request arrived, which is then refused as "moments after the last run").
    const slow = await faultyRadicaleTarget();
    const f = await syncFixture(slow, { SYNC_NOW_MIN_INTERVAL_SECONDS: '30' });
    try {
      const sync = () => f.app.gql(f.token, `mutation($id: ID!) { syncNow(integrationId: $id) { id outcome } }`, { id: f.integrationId });
      slow.proxy.delay(300);
      const burst = await Promise.all([sync(), sync(), sync()]);
      slow.proxy.delay(0);
      expect(new Set(burst.map((r) => dataOf(r).syncNow.id)).size).toBe(1);
      const again = await sync();
      expect(again.errors![0]).toMatchObject({ message: expect.stringMatching(/synced moments ago: try again in \d+ s/), extensions: { code: 'TOO_MANY_REQUESTS', retryAfterSeconds: expect.any(Number) } });
      expect(await f.app.server.orm.fork().count(SyncRun, { integration: f.integrationId })).toBe(1);
    } finally {
      await f.app.close();
      await slow.stop();
    }
  });

  it('bounds subscriptions per connection and per user, and connections per user', async () => {
    const f = await suite.fixture();
    const first = wsClient(f.app.url, f.token);
    const sockets = [first];
    try {
      const subs = Array.from({ length: WS_LIMITS.subscriptionsPerSocket + 1 }, () => first.subscribe('subscription { conflictWarnings { id } }'));
      const refused = await subs[WS_LIMITS.subscriptionsPerSocket].next();
      expect(refused.error[0]).toMatchObject({ message: `At most ${WS_LIMITS.subscriptionsPerSocket} subscriptions per connection.`, extensions: { code: 'TOO_MANY_REQUESTS' } });
      for (let i = 1; i < WS_LIMITS.socketsPerUser; i++) sockets.push(wsClient(f.app.url, f.token));
      // Each further socket may hold subscriptions until the user's total is reached.
      const perUser = sockets.slice(1).flatMap((s) => Array.from({ length: 40 }, () => s.subscribe('subscription { syncResults { id } }')));
      // Refusals come as results; the subscriptions within the limit stay silent. Wait for the expected number
      // (however busy the machine), then a moment more for any refusal too many.
      const expected = WS_LIMITS.subscriptionsPerSocket + perUser.length - WS_LIMITS.subscriptionsPerUser;
      const answered = () => perUser.filter((p) => p.results.length > 0);
      for (const deadline = Date.now() + 30000; answered().length < expected && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 500));
      const refusedForUser = answered().map((p) => p.results[0]);
      expect(refusedForUser.length).toBe(expected);
      expect((refusedForUser[0] as { error: { message: string }[] }).error[0].message).toBe(`At most ${WS_LIMITS.subscriptionsPerUser} subscriptions per user.`);
      const oneTooMany = wsClient(f.app.url, f.token);
      sockets.push(oneTooMany);
      expect(await oneTooMany.closed).toEqual({ code: 4429, reason: `At most ${WS_LIMITS.socketsPerUser} connections per user: close one first.` });
    } finally {
      await Promise.all(sockets.map((s) => s.client.dispose()));
    }
  });
});

