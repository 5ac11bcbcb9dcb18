import { createServer, type Server } from 'node:http';
import { Writable } from 'node:stream';
import { CredentialsCipher } from '../src/auth/credentials.cipher';
import { loadConfig } from '../src/config';
import { createLogger } from '../src/logger';
import { CalDavError } from '../src/sync/caldav/caldav.errors';
import { createDavFetch } from '../src/sync/caldav/dav-fetch';
import { icloudTarget, type CalDavTarget } from '../dev/caldav-targets';
import { CONNECT, dataOf, INTEGRATIONS, startTestApp } from '../dev/app';

describe('app-specific passwords at rest, in logs and in the API', () => {
  let target: CalDavTarget;
  beforeAll(async () => {
    target = await icloudTarget();
  });
  afterAll(() => target?.stop());

  it('are stored only as AES-256-GCM ciphertext, never returned and never logged', async () => {
    const account = await target.newAccount();
    const app = await startTestApp({ caldavUrl: account.serverUrl });
    try {
      const token = app.token('alice');
      const connected = await app.gql(token, CONNECT, { input: { appleId: account.appleId, appSpecificPassword: account.appSpecificPassword } });
      const failed = await app.gql(token, CONNECT, { input: { appleId: account.appleId, appSpecificPassword: 'wxyz-wxyz-wxyz-wxyz' } });
      const listed = await app.gql(token, INTEGRATIONS);
      const id = dataOf(connected).connectICloud.id;

      const rows = await app.server.orm.orm.em.getConnection().execute('select id, password_cipher from calendar_integration');
      expect(rows).toHaveLength(1);
      const sealed = rows[0].password_cipher as string;
      expect(sealed).toMatch(/^v1:[0-9a-f]{8}:/);
      expect(sealed).not.toContain(account.appSpecificPassword);
      const config = loadConfig({ DATA_DIR: app.dataDir, ICLOUD_CALDAV_URL: account.serverUrl });
      expect(new CredentialsCipher(config.credentialsKeys).decrypt(sealed, id)).toBe(account.appSpecificPassword);

      const everything = JSON.stringify([connected, failed, listed]) + app.logs.join('\n');
      for (const secret of [account.appSpecificPassword, 'wxyz-wxyz-wxyz-wxyz', sealed, 'Basic ']) expect(everything).not.toContain(secret);
      expect(app.logs.some((l) => l.includes('iCloud connected'))).toBe(true);
    } finally {
      await app.close();
    }
  });

  it('are redacted by the logger whatever object carries them', () => {
    const lines: string[] = [];
    const logger = createLogger(new Writable({ write: (c, _e, done) => (lines.push(String(c)), done()) }));
    logger.info({ appSpecificPassword: 'abcd-efgh-ijkl-mnop', input: { appSpecificPassword: 'abcd-efgh-ijkl-mnop' }, req: { headers: { authorization: 'Basic c2VjcmV0' } } }, 'x');
    expect(lines.join('')).not.toMatch(/abcd-efgh|c2VjcmV0/);
    expect(lines.join('')).toContain('[redacted]');
  });

  it('are redacted deep in a GraphQL request, in an error\'s properties and in a child logger\'s bindings, leaving the caller\'s objects as they were', () => {
    const lines: string[] = [];
    const logger = createLogger(new Writable({ write: (c, _e, done) => (lines.push(String(c)), done()) }));
    const request = { body: { query: 'mutation', variables: { input: { appleId: 'ann@icloud.com', appSpecificPassword: 'abcd-efgh-ijkl-mnop' } } }, list: [{ token: 'tok-123' }] };
    logger.info({ request }, 'deep');
    const failure = Object.assign(new Error('connect failed'), { config: { headers: { Authorization: 'Basic c2VjcmV0' } } });
    logger.error({ err: failure }, 'error');
    logger.child({ password: 'hunter2-child' }).child({ nested: { token: 'hunter2-grandchild' } }).info('child');
    const text = lines.join('');
    expect(text).not.toMatch(/abcd-efgh|c2VjcmV0|tok-123|hunter2/);
    expect(lines).toHaveLength(3);
    const [deep, error, child] = lines.map((l) => JSON.parse(l));
    expect(child).toEqual(expect.objectContaining({ password: '[redacted]', nested: { token: '[redacted]' } }));
    expect(deep.request.body.variables.input).toEqual({ appleId: 'ann@icloud.com', appSpecificPassword: '[redacted]' });
    expect(error.err).toEqual(expect.objectContaining({ message: 'connect failed', config: { headers: { Authorization: '[redacted]' } } }));
    expect(request.body.variables.input.appSpecificPassword).toBe('abcd-efgh-ijkl-mnop');
    expect(failure.config.headers.Authorization).toBe('Basic c2VjcmV0');
  });
});

describe('credentials on the wire', () => {
  it('refuses a plain-HTTP CalDAV URL to anything but loopback at start-up', () => {
    expect(() => loadConfig({ DATA_DIR: '/tmp/crm-config-test', ICLOUD_CALDAV_URL: 'http://caldav.example.com' })).toThrow(/must use https/);
    for (const ok of ['https://caldav.icloud.com', 'http://127.0.0.2:8080', 'http://localhost:5232', 'http://[::1]:5232']) {
      expect(loadConfig({ DATA_DIR: '/tmp/crm-config-test', ICLOUD_CALDAV_URL: ok }).icloudCaldavUrl).toBe(ok);
    }
  });

  describe('when a server redirects', () => {
    const servers: Server[] = [];
    let front = '';
    let partition = '';
    const seen: { path?: string; authorization?: string }[] = [];
    const listen = async (host: string) => {
      const server = createServer((req, res) => {
        seen.push({ path: req.url, authorization: req.headers.authorization });
        if (req.url === '/to-remote-http') return void res.writeHead(301, { Location: 'http://calendar.example.com/' }).end();
        if (req.url === '/to-loopback') return void res.writeHead(301, { Location: `${partition}/landed` }).end();
        res.writeHead(200).end('ok');
      });
      servers.push(server);
      await new Promise<void>((r) => server.listen(0, host, r));
      return `http://${host}:${(server.address() as { port: number }).port}`;
    };
    beforeAll(async () => {
      front = await listen('127.0.0.1');
      partition = await listen('127.0.0.2');
    });
    afterAll(() => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))));

    const davFetch = createDavFetch({ username: 'a@b.c', password: 'abcd-efgh-ijkl-mnop', timeoutMs: 2000 });

    it('follows a redirect to another loopback host and keeps the credentials (iCloud moves to a partition host)', async () => {
      seen.length = 0;
      const res = await davFetch(`${front}/to-loopback`);
      expect(await res.text()).toBe('ok');
      expect(seen.map((s) => s.path)).toEqual(['/to-loopback', '/landed']);
      expect(seen.every((s) => s.authorization?.startsWith('Basic '))).toBe(true);
    });

    it('does not follow a redirect to plain HTTP on a remote host', async () => {
      await expect(davFetch(`${front}/to-remote-http`)).rejects.toEqual(expect.any(CalDavError));
      await expect(davFetch(`${front}/to-remote-http`)).rejects.toMatchObject({ failure: 'BAD_RESPONSE', message: expect.stringMatching(/plain HTTP to calendar\.example\.com/) });
    });
  });
});
