import { mkcalendar, TARGETS, type CalDavTarget, type TargetAccount } from '../dev/caldav-targets';
import { CONNECT, codeOf, dataOf, INTEGRATION_FIELDS, INTEGRATIONS, startTestApp, type TestApp } from '../dev/app';

interface Calendar { id: string; name: string; color: string | null; writable: boolean; isPrimary: boolean; checkForConflicts: boolean }
interface Integration { id: string; status: string; statusMessage: string | null; accountEmail: string; calendars: Calendar[] }

describe.each(TARGETS)('connecting a calendar account on $name', ({ start, checksPasswords }) => {
  let target: CalDavTarget;
  const apps: TestApp[] = [];

  beforeAll(async () => {
    target = await start();
  });
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close()));
    await target?.stop();
  });

  async function appFor(account: TargetAccount): Promise<TestApp> {
    const app = await startTestApp({ caldavUrl: account.serverUrl });
    apps.push(app);
    return app;
  }

  async function connect(app: TestApp, token: string, account: TargetAccount): Promise<Integration> {
    const res = await app.gql<{ connectICloud: Integration }>(token, CONNECT, {
      input: { appleId: account.appleId, appSpecificPassword: account.appSpecificPassword },
    });
    return dataOf(res).connectICloud;
  }

  it('lists only the VEVENT calendars, with names, colours and write access, and reports CONNECTED', async () => {
    const account = await target.newAccount();
    const app = await appFor(account);
    const integration = await connect(app, app.token('alice'), account);
    expect(integration.status).toBe('CONNECTED');
    expect(integration.accountEmail).toBe(account.appleId);
    const listed = integration.calendars.map((c) => ({ name: c.name, writable: c.writable }));
    expect(listed).toEqual(account.calendars);
    expect(integration.calendars.every((c) => !c.isPrimary && !c.checkForConflicts)).toBe(true);
    if (target.name !== 'xandikos') expect(integration.calendars.find((c) => c.name === 'Work')?.color).toBe('#FF2968');
    const stored = dataOf(await app.gql<{ calendarIntegrations: Integration[] }>(app.token('alice'), INTEGRATIONS)).calendarIntegrations;
    expect(stored).toEqual([integration]);
  });

  it('accepts an app-specific password typed with spaces, capitals and no hyphens', async () => {
    const account = await target.newAccount();
    const app = await appFor(account);
    const typed = account.appSpecificPassword.replace(/-/g, '').toUpperCase().replace(/(.{4})/g, '$1 ');
    const res = await app.gql(app.token('alice'), CONNECT, { input: { appleId: ` ${account.appleId.toUpperCase()} `, appSpecificPassword: typed } });
    expect(dataOf(res).connectICloud.status).toBe('CONNECTED');
  });

  it('sets one primary calendar per user, which is also checked for conflicts', async () => {
    const account = await target.newAccount();
    const app = await appFor(account);
    const token = app.token('alice');
    const { calendars } = await connect(app, token, account);
    const [first, second] = calendars.filter((c) => c.writable);
    const set = (id: string) => app.gql(token, `mutation($id: ID!) { setPrimaryCalendar(input: {calendarId: $id}) { id isPrimary checkForConflicts } }`, { id });
    expect(dataOf(await set(first.id)).setPrimaryCalendar).toEqual({ id: first.id, isPrimary: true, checkForConflicts: true });
    await set(second.id);
    const after = dataOf(await app.gql(token, INTEGRATIONS)).calendarIntegrations[0].calendars as Calendar[];
    expect(after.filter((c) => c.isPrimary).map((c) => c.id)).toEqual([second.id]);
  });

  it('chooses the calendars checked for conflicts, keeping the primary among them', async () => {
    const account = await target.newAccount();
    const app = await appFor(account);
    const token = app.token('alice');
    const { calendars } = await connect(app, token, account);
    const primary = calendars.find((c) => c.writable)!;
    const other = calendars.find((c) => c.id !== primary.id)!;
    await app.gql(token, `mutation($id: ID!) { setPrimaryCalendar(input: {calendarId: $id}) { id } }`, { id: primary.id });
    const res = await app.gql(token, `mutation($ids: [ID!]!) { setConflictCalendars(input: {calendarIds: $ids}) { id checkForConflicts } }`, { ids: [other.id] });
    const checked = (dataOf(res).setConflictCalendars as Calendar[]).filter((c) => c.checkForConflicts).map((c) => c.id).sort();
    expect(checked).toEqual([primary.id, other.id].sort());
  });

  it('updates the same integration when the same Apple ID connects again', async () => {
    const account = await target.newAccount();
    const app = await appFor(account);
    const token = app.token('alice');
    const first = await connect(app, token, account);
    const second = await connect(app, token, account);
    expect(second.id).toBe(first.id);
    expect(dataOf(await app.gql(token, INTEGRATIONS)).calendarIntegrations).toHaveLength(1);
  });

  it('picks up calendars added and removed in iCloud when the list is refreshed, and asks for a new primary when it goes', async () => {
    const account = await target.newAccount();
    const app = await appFor(account);
    const token = app.token('alice');
    const extraUrl = await mkcalendar(target.request, account, 'extra', 'Side Project');
    const { id, calendars } = await connect(app, token, account);
    const extra = calendars.find((c) => c.name === 'Side Project')!;
    await app.gql(token, `mutation($id: ID!) { setPrimaryCalendar(input: {calendarId: $id}) { id } }`, { id: extra.id });
    const del = await target.request(account, extraUrl, { method: 'DELETE' });
    expect(del.ok).toBe(true);
    await mkcalendar(target.request, account, 'new', 'Added on iPhone');
    const refreshed = dataOf(await app.gql(token, `mutation($id: ID!) { refreshCalendarList(integrationId: $id) { ${INTEGRATION_FIELDS} } }`, { id })).refreshCalendarList as Integration;
    const names = refreshed.calendars.map((c) => c.name);
    expect(names).toContain('Added on iPhone');
    expect(names).not.toContain('Side Project');
    expect(refreshed.calendars.some((c) => c.isPrimary)).toBe(false);
    expect(refreshed.statusMessage).toMatch(/"Side Project".*pick another primary calendar/);
  });

  it('disconnecting forgets the password, stops the integration and keeps it listed as DISCONNECTED', async () => {
    const account = await target.newAccount();
    const app = await appFor(account);
    const token = app.token('alice');
    const { id } = await connect(app, token, account);
    expect(dataOf(await app.gql(token, `mutation($id: ID!) { disconnectCalendarIntegration(id: $id) }`, { id })).disconnectCalendarIntegration).toBe(true);
    const [listed] = dataOf(await app.gql(token, INTEGRATIONS)).calendarIntegrations as Integration[];
    expect(listed.status).toBe('DISCONNECTED');
    const refresh = await app.gql(token, `mutation($id: ID!) { refreshCalendarList(integrationId: $id) { id } }`, { id });
    expect(codeOf(refresh)).toBe('INTEGRATION_DISCONNECTED');
    const again = await connect(app, token, account);
    expect(again).toMatchObject({ id, status: 'CONNECTED' });
  });

  // Xandikos has no authentication: there is no wrong password to refuse.
  (checksPasswords ? it : it.skip)('refuses a wrong app-specific password with ICLOUD_AUTH_FAILED and stores nothing', async () => {
    const account = await target.newAccount();
    const app = await appFor(account);
    const token = app.token('alice');
    const res = await app.gql(token, CONNECT, { input: { appleId: account.appleId, appSpecificPassword: 'wxyz-wxyz-wxyz-wxyz' } });
    expect(codeOf(res)).toBe('ICLOUD_AUTH_FAILED');
    expect(res.errors![0].message).toMatch(/app-specific password/);
    expect(dataOf(await app.gql(token, INTEGRATIONS)).calendarIntegrations).toEqual([]);
  });
});
