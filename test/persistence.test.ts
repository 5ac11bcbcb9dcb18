import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { radicaleTarget, type CalDavTarget, type TargetAccount } from './harness/caldav-targets';
import { CONNECT, dataOf, INTEGRATION_FIELDS, INTEGRATIONS, startTestApp } from './harness/app';
import { startPostgres, type PostgresServer } from './harness/postgres';

const databases = [
  { name: 'SQLite', start: async () => ({ url: undefined as string | undefined, stop: async () => {} }) },
  { name: 'PostgreSQL', start: async (): Promise<Pick<PostgresServer, 'stop'> & { url?: string }> => startPostgres() },
];

describe.each(databases)('integrations persisted on $name', ({ start }) => {
  let target: CalDavTarget;
  let db: { url?: string; stop(): Promise<void> };
  let account: TargetAccount;
  let dataDir: string;

  beforeAll(async () => {
    [target, db] = await Promise.all([radicaleTarget(), start()]);
    account = await target.newAccount();
    dataDir = mkdtempSync(join(tmpdir(), 'crm-persist-'));
  });
  afterAll(async () => {
    await db?.stop();
    await target?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('survive a restart: calendars, choices and the encrypted password (migrations applied at each start)', async () => {
    const options = { caldavUrl: account.serverUrl, databaseUrl: db.url, dataDir };
    const first = await startTestApp(options);
    const token = first.token('alice');
    const { id, calendars } = dataOf(await first.gql(token, CONNECT, { input: { appleId: account.appleId, appSpecificPassword: account.appSpecificPassword } })).connectICloud;
    const primary = calendars.find((c: { writable: boolean }) => c.writable);
    dataOf(await first.gql(token, `mutation($id: ID!) { setPrimaryCalendar(input: {calendarId: $id}) { id } }`, { id: primary.id }));
    const before = dataOf(await first.gql(token, INTEGRATIONS)).calendarIntegrations;
    await first.close();

    const second = await startTestApp(options);
    try {
      expect(dataOf(await second.gql(second.token('alice'), INTEGRATIONS)).calendarIntegrations).toEqual(before);
      // The password decrypts with the key kept in the data folder: the list refreshes with it.
      const refreshed = dataOf(await second.gql(second.token('alice'), `mutation($id: ID!) { refreshCalendarList(integrationId: $id) { ${INTEGRATION_FIELDS} } }`, { id }));
      expect(refreshed.refreshCalendarList).toEqual(before[0]);
    } finally {
      await second.close();
    }
  });
});
