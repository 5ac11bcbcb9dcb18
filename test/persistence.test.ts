import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keyId } from '../src/auth/credentials.cipher';
import { radicaleTarget, type CalDavTarget, type TargetAccount } from '../dev/caldav-targets';
import { CONNECT, dataOf, INTEGRATION_FIELDS, INTEGRATIONS, startTestApp } from '../dev/app';
import { startPostgres, type PostgresServer } from '../dev/postgres';
import { ConnectThrottle } from '../src/services/connect-throttle.service';
import { OutboxEntry } from '../src/entities/outbox-entry.entity';

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

  it('survive a restart: calendars, choices and the encrypted password (migrations applied at each start), and a key rotation', async () => {
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

    // Key rotation: a new CREDENTIALS_KEY with the old one listed as previous; the next sync seals the password anew.
    const oldKey = readFileSync(join(dataDir, 'dev-credentials-key'), 'utf8').trim();
    const newKey = randomBytes(32);
    const third = await startTestApp({ ...options, env: { CREDENTIALS_KEY: newKey.toString('base64'), CREDENTIALS_PREVIOUS_KEYS: oldKey } });
    try {
      const sealed = async () => ((await third.server.orm.orm.em.getConnection().execute('select password_cipher from calendar_integration'))[0].password_cipher as string).split(':')[1];
      expect(await sealed()).toBe(keyId(Buffer.from(oldKey, 'base64')));
      expect(dataOf(await third.gql(third.token('alice'), `mutation($id: ID!) { syncNow(integrationId: $id) { outcome } }`, { id })).syncNow.outcome).toBe('SUCCESS');
      expect(await sealed()).toBe(keyId(newKey));
    } finally {
      await third.close();
    }
  });

  it('never lets parallel connect attempts of one user past the limit, counted in the database', async () => {
    const app = await startTestApp({ caldavUrl: account.serverUrl, databaseUrl: db.url, dataDir });
    try {
      const throttle = new ConnectThrottle({ perUser: 5, perAppleId: 10, windowSeconds: 600 });
      const tries = await Promise.allSettled(Array.from({ length: 20 }, () => throttle.forUser(app.server.orm.fork(), 'parallel-user')));
      expect(tries.filter((t) => t.status === 'fulfilled')).toHaveLength(5);
      expect(tries.filter((t) => t.status === 'rejected').map((t) => (t as PromiseRejectedResult).reason.code)).toEqual(Array(15).fill('TOO_MANY_ATTEMPTS'));
      // A released attempt (a success) is available again.
      await (tries.find((t) => t.status === 'fulfilled') as PromiseFulfilledResult<() => Promise<void>>).value();
      await expect(throttle.forUser(app.server.orm.fork(), 'parallel-user')).resolves.toBeInstanceOf(Function);
    } finally {
      await app.close();
    }
  });

  it('writes nothing back for a loaded entity that did not change: a lease released meanwhile by another unit of work stays released', async () => {
    const app = await startTestApp({ caldavUrl: account.serverUrl, databaseUrl: db.url, dataDir });
    try {
      const setup = app.server.orm.fork();
      const entry = setup.create(OutboxEntry, { syncKey: 'appt:flush-test', userId: randomUUID(), leaseUntil: new Date(Date.now() + 300000) });
      await setup.flush();
      // A sync run reads the entry while a drain holds it; the drain then fails the push and releases it.
      const reader = app.server.orm.fork();
      await reader.findOneOrFail(OutboxEntry, entry.id);
      await app.server.orm.fork().nativeUpdate(OutboxEntry, { id: entry.id }, { leaseUntil: null, attempts: 1 });
      await reader.flush();
      expect(await app.server.orm.fork().findOneOrFail(OutboxEntry, entry.id)).toMatchObject({ leaseUntil: null, attempts: 1 });
    } finally {
      await app.close();
    }
  });
});
