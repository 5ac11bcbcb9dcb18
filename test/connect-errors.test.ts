import { CalendarIntegration } from '../src/entities/calendar-integration.entity';
import { icloudTarget, type CalDavTarget, type TargetAccount } from '../dev/caldav-targets';
import { CONNECT, codeOf, INTEGRATIONS, startTestApp, type GraphQLResponse, type TestApp } from '../dev/app';
import type { ICloudEmulator } from '../dev/icloud-emulator';
import { freePort } from '../dev/ports';

/** Bad input and failing servers: each gets a clear code, no stack trace, and nothing is stored. */
describe('connectICloud with bad input or a failing iCloud', () => {
  let target: CalDavTarget & { emulator: ICloudEmulator };
  let app: TestApp;
  let account: TargetAccount;
  let n = 0;

  beforeAll(async () => {
    target = await icloudTarget();
    account = await target.newAccount();
    app = await startTestApp({ caldavUrl: account.serverUrl });
  });
  afterAll(async () => {
    await app?.close();
    await target?.stop();
  });

  /** Each attempt comes from a new user, so that the throttle does not interfere. */
  async function attempt(appleId: string, appSpecificPassword: string, on = app): Promise<{ res: GraphQLResponse; token: string }> {
    const token = on.token(`user-${++n}`);
    return { res: await on.gql(token, CONNECT, { input: { appleId, appSpecificPassword } }), token };
  }

  async function expectNothingStored(token: string, on = app): Promise<void> {
    expect((await on.gql(token, INTEGRATIONS)).data?.calendarIntegrations).toEqual([]);
    expect(await on.server.orm.fork().count(CalendarIntegration, { appleId: account.appleId })).toBe(0);
  }

  function expectCleanError(res: GraphQLResponse, code: string, message: RegExp): void {
    expect(codeOf(res)).toBe(code);
    expect(res.errors![0].message).toMatch(message);
    expect(JSON.stringify(res)).not.toMatch(/stacktrace|:\d+:\d+\)|node_modules/);
  }

  it('refuses something that is not an e-mail address as Apple ID', async () => {
    const { res, token } = await attempt('john.appleseed', account.appSpecificPassword);
    expectCleanError(res, 'INVALID_APPLE_ID', /e-mail address/);
    await expectNothingStored(token);
  });

  it.each(['Summer2024!', 'correct horse battery staple', 'abcd-efgh-ijkl', 'abcd-efgh-ijkl-mnop-qrst', 'abcd-efgh-ijkl-mn0p'])(
    'refuses "%s" as an app-specific password, saying how to create one',
    async (password) => {
      const { res, token } = await attempt(account.appleId, password);
      expectCleanError(res, 'INVALID_APP_SPECIFIC_PASSWORD', /normal Apple ID password.*appleid\.apple\.com.*App-Specific Passwords.*abcd-efgh-ijkl-mnop/);
      await expectNothingStored(token);
    },
  );

  it('refuses a revoked app-specific password with ICLOUD_AUTH_FAILED and stores nothing', async () => {
    const revoked = await target.newAccount();
    target.emulator.revoke(revoked.appleId);
    const { res, token } = await attempt(revoked.appleId, revoked.appSpecificPassword);
    expectCleanError(res, 'ICLOUD_AUTH_FAILED', /revoked.*appleid\.apple\.com/);
    expect((await app.gql(token, INTEGRATIONS)).data?.calendarIntegrations).toEqual([]);
  });

  it('reports ICLOUD_UNAVAILABLE with the Retry-After when iCloud answers 503', async () => {
    target.emulator.failNext(503, { retryAfterSeconds: 120 });
    const { res, token } = await attempt(account.appleId, account.appSpecificPassword);
    expectCleanError(res, 'ICLOUD_UNAVAILABLE', /cannot be reached.*503.*try again/);
    expect(res.errors![0].extensions?.retryAfterSeconds).toBe(120);
    await expectNothingStored(token);
  });

  it('reports ICLOUD_UNAVAILABLE when the partition host fails after discovery on the front host succeeded', async () => {
    const before = target.emulator.requests;
    const [front, partition] = [before.front, before.partition];
    target.emulator.failNext(500, { host: 'partition' });
    const { res, token } = await attempt(account.appleId, account.appSpecificPassword);
    expectCleanError(res, 'ICLOUD_UNAVAILABLE', /127\.0\.0\.2.*500/);
    expect(target.emulator.requests.front - front).toBe(2);
    expect(target.emulator.requests.partition - partition).toBe(1);
    await expectNothingStored(token);
  });

  it('reports ICLOUD_BAD_RESPONSE when iCloud answers with malformed XML, and stores nothing', async () => {
    target.emulator.failNext(207, { body: '<multistatus xmlns="DAV:"><response><href>/x</oops>' });
    const { res, token } = await attempt(account.appleId, account.appSpecificPassword);
    expectCleanError(res, 'ICLOUD_BAD_RESPONSE', /cannot use.*try again later/);
    await expectNothingStored(token);
  });

  it('reports ICLOUD_UNAVAILABLE when iCloud does not answer in time', async () => {
    const slow = await startTestApp({ caldavUrl: account.serverUrl, env: { CALDAV_TIMEOUT_MS: '300' } });
    try {
      target.emulator.delay(1000);
      const { res, token } = await attempt(account.appleId, account.appSpecificPassword, slow);
      target.emulator.delay(0);
      expectCleanError(res, 'ICLOUD_UNAVAILABLE', /did not answer within 0.3 s/);
      await expectNothingStored(token, slow);
    } finally {
      target.emulator.delay(0);
      await slow.close();
    }
  });

  it('reports ICLOUD_UNAVAILABLE when the server cannot be reached at all', async () => {
    const closed = await startTestApp({ caldavUrl: `http://127.0.0.1:${await freePort()}` });
    try {
      const { res, token } = await attempt(account.appleId, account.appSpecificPassword, closed);
      expectCleanError(res, 'ICLOUD_UNAVAILABLE', /cannot reach 127\.0\.0\.1.*ECONNREFUSED/);
      await expectNothingStored(token, closed);
    } finally {
      await closed.close();
    }
  });

  it('throttles a user after 5 failed attempts in 10 minutes, even with the right password then', async () => {
    const token = app.token('guesser');
    const tryWith = (password: string) => app.gql(token, CONNECT, { input: { appleId: account.appleId, appSpecificPassword: password } });
    for (let i = 0; i < 5; i++) expect(codeOf(await tryWith('wxyz-wxyz-wxyz-wxyz'))).toBe('ICLOUD_AUTH_FAILED');
    const blocked = await tryWith(account.appSpecificPassword);
    expectCleanError(blocked, 'TOO_MANY_ATTEMPTS', /wait \d+ minute/);
    expect(blocked.errors![0].extensions?.retryAfterSeconds).toBeGreaterThan(500);
    expect((await app.gql(token, INTEGRATIONS)).data?.calendarIntegrations).toEqual([]);
    const otherUser = await attempt(account.appleId, account.appSpecificPassword);
    expect(otherUser.res.errors).toBeUndefined();
  });

  it('lets no more than 5 of 20 parallel attempts of one user reach iCloud', async () => {
    const own = await target.newAccount();
    const token = app.token(`user-${++n}`);
    const before = target.emulator.requests.front;
    const results = await Promise.all(Array.from({ length: 20 }, () => app.gql(token, CONNECT, { input: { appleId: own.appleId, appSpecificPassword: 'wxyz-wxyz-wxyz-wxyz' } })));
    const codes = results.map(codeOf);
    expect(codes.filter((c) => c === 'ICLOUD_AUTH_FAILED')).toHaveLength(5);
    expect(codes.filter((c) => c === 'TOO_MANY_ATTEMPTS')).toHaveLength(15);
    expect(target.emulator.requests.front - before).toBe(5);
  });

  it('throttles an Apple ID across users and tenants: 10 users with 3 wrong passwords each reach iCloud 10 times', async () => {
    const own = await target.newAccount();
    const before = target.emulator.requests.front;
    const codes: (string | undefined)[] = [];
    for (let u = 0; u < 10; u++) {
      const token = app.token(`spread-${u}`, `tenant-${u % 3}`);
      for (let i = 0; i < 3; i++) codes.push(codeOf(await app.gql(token, CONNECT, { input: { appleId: own.appleId.toUpperCase(), appSpecificPassword: 'wxyz-wxyz-wxyz-wxyz' } })));
    }
    expect(codes.filter((c) => c === 'ICLOUD_AUTH_FAILED')).toHaveLength(10);
    expect(target.emulator.requests.front - before).toBe(10);
    const blocked = await app.gql(app.token('owner', 'tenant-z'), CONNECT, { input: { appleId: own.appleId, appSpecificPassword: own.appSpecificPassword } });
    expect(blocked.errors![0]).toMatchObject({ message: expect.stringMatching(/this Apple ID: wait \d+ minute/), extensions: { code: 'TOO_MANY_ATTEMPTS' } });
  });

  it('refuses a read-only calendar as primary with CALENDAR_NOT_WRITABLE and changes nothing', async () => {
    const token = app.token(`user-${++n}`);
    const own = await target.newAccount();
    const connected = await app.gql(token, CONNECT, { input: { appleId: own.appleId, appSpecificPassword: own.appSpecificPassword } });
    const calendars = connected.data!.connectICloud.calendars as { id: string; name: string; writable: boolean; isPrimary: boolean }[];
    const holidays = calendars.find((c) => c.name === 'US Holidays')!;
    expect(holidays.writable).toBe(false);
    const res = await app.gql(token, `mutation($id: ID!) { setPrimaryCalendar(input: {calendarId: $id}) { id } }`, { id: holidays.id });
    expectCleanError(res, 'CALENDAR_NOT_WRITABLE', /"US Holidays" is read-only/);
    const after = (await app.gql(token, INTEGRATIONS)).data!.calendarIntegrations[0].calendars as { isPrimary: boolean }[];
    expect(after.some((c) => c.isPrimary)).toBe(false);
  });

  it('refuses an unknown calendar id with NOT_FOUND', async () => {
    const res = await app.gql(app.token(`user-${++n}`), `mutation { setConflictCalendars(input: {calendarIds: ["3f1c2a9e-0000-4000-8000-000000000000"]}) { id } }`);
    expectCleanError(res, 'NOT_FOUND', /No calendar 3f1c2a9e/);
  });
});
