import { randomBytes, randomInt } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listen, passableHeaders, readBody } from './http';
import { READ_ONLY_PREFIX, type RadicaleServer } from './radicale';

/** An Apple ID the emulation accepts, with its app-specific password and iCloud person id (dsid). */
export interface EmulatedAccount {
  appleId: string;
  appSpecificPassword: string;
  dsid: string;
}

/**
 * iCloud's CalDAV front emulated on loopback, forwarding calendar traffic to a real Radicale.
 * Discovery is answered the iCloud way (CALDAV-FACTS.md, "iCloud"): the front host gives the principal,
 * the principal gives an ABSOLUTE home-set URL on a partition host (127.0.0.2), and calendars are served
 * only there. A bad password gets Apple's empty 401 with two challenges.
 */
export interface ICloudEmulator {
  /** Front URL, what `ICLOUD_CALDAV_URL` points at. */
  url: string;
  partitionUrl: string;
  /** A new account; `appSpecificPassword` fixes its password (the demo's), otherwise one is generated. */
  addAccount(appleId?: string, appSpecificPassword?: string): EmulatedAccount;
  /** Revokes the account's app-specific password (as changing the Apple ID password does). */
  revoke(appleId: string): void;
  /** Issues a new app-specific password for a revoked account. */
  reissue(appleId: string): EmulatedAccount;
  /** The next `count` requests answer `status` (with `Retry-After` or a body when given). */
  failNext(status: number, options?: { count?: number; retryAfterSeconds?: number; body?: string; host?: 'front' | 'partition' }): void;
  /** From now on, sync-collection with any token answers a full listing, as iCloud does for an expired token. */
  expireSyncTokens(on: boolean): void;
  /** Answers sync-collection with 403 (a server without RFC 6578): clients must fall back to getctag. */
  disableSyncCollection(on: boolean): void;
  /** calendar-data of objects whose href ends with `suffix` comes back as `content` (default: garbage, a malformed object). */
  corrupt(suffix: string | null, content?: string): void;
  /** Every request waits `ms` before it is answered (0 turns it off). */
  delay(ms: number): void;
  /** Requests received, per host. */
  requests: { front: number; partition: number };
  stop(): Promise<void>;
}

const PARTITION_HOST = '127.0.0.2';
const MULTISTATUS_NS = 'xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:CS="http://calendarserver.org/ns/"';

function appPassword(): string {
  const letters = Array.from({ length: 16 }, () => String.fromCharCode(97 + randomInt(26))).join('');
  return letters.match(/.{4}/g)!.join('-');
}

function multistatus(responses: { href: string; props: string }[]): string {
  const body = responses
    .map((r) => `<response><href>${r.href}</href><propstat><prop>${r.props}</prop><status>HTTP/1.1 200 OK</status></propstat></response>`)
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<multistatus ${MULTISTATUS_NS}>${body}</multistatus>`;
}

/** The collections every iCloud home holds besides calendars; Radicale has no such thing, so they are added. */
function specialCollections(home: string): string {
  const special = [
    ['inbox/', '<C:schedule-inbox/>'],
    ['outbox/', '<C:schedule-outbox/>'],
    ['notification/', '<CS:notification/>'],
  ];
  return special
    .map(
      ([slug, type]) =>
        `<response ${MULTISTATUS_NS}><href>${home}${slug}</href><propstat><prop><resourcetype><collection/>${type}</resourcetype>` +
        `</prop><status>HTTP/1.1 200 OK</status></propstat></response>`,
    )
    .join('');
}

/** Where the emulation listens: free ports unless `port` fixes one (the demo's), used on both hosts. */
export interface ICloudEmulatorOptions {
  port?: number;
}

/** Listens on `port` of `host` (throwing a clear error when it is taken), or on a free port when none is given. */
function listenOn(server: ReturnType<typeof createServer>, host: string, port: number | undefined): Promise<string> {
  if (!port) return listen(server, host);
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'EADDRINUSE' ? new Error(`${host}:${port} is in use: stop what listens there or choose another port`) : e),
    );
    server.listen(port, host, () => resolve(`http://${host}:${port}`));
  });
}

/** Starts the front (127.0.0.1) and partition (127.0.0.2) hosts in front of `radicale`. */
export async function startICloudEmulator(radicale: RadicaleServer, options: ICloudEmulatorOptions = {}): Promise<ICloudEmulator> {
  const accounts = new Map<string, EmulatedAccount & { revoked: boolean; backendPassword: string }>();
  const failures: { status: number; retryAfterSeconds?: number; body?: string; host?: 'front' | 'partition' }[] = [];
  const requests = { front: 0, partition: 0 };
  let delayMs = 0;
  let expireTokens = false;
  let corruptSuffix: string | null = null;
  let corruptContent = '';
  let noSyncCollection = false;
  let partitionUrl = '';

  function authenticate(req: IncomingMessage) {
    const [scheme, encoded] = (req.headers.authorization ?? '').split(' ');
    if (scheme !== 'Basic' || !encoded) return undefined;
    const decoded = Buffer.from(encoded, 'base64').toString();
    const sep = decoded.indexOf(':');
    const account = accounts.get(decoded.slice(0, sep).toLowerCase());
    return account && !account.revoked && account.appSpecificPassword === decoded.slice(sep + 1) ? account : undefined;
  }

  function unauthorized(res: ServerResponse) {
    // Apple offers two schemes; a client must pick Basic (CALDAV-FACTS.md).
    res.writeHead(401, { 'WWW-Authenticate': ['Basic realm="MMCalDav"', 'X-MobileMe-AuthToken realm="MMCalDav"'], 'Content-Length': '0' });
    res.end();
  }

  function front(req: IncomingMessage, res: ServerResponse, account: EmulatedAccount) {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/.well-known/caldav') {
      res.writeHead(301, { Location: '/' }).end();
    } else if (req.method === 'PROPFIND' && path === '/') {
      res.writeHead(207, { 'Content-Type': 'text/xml; charset=utf-8' });
      res.end(multistatus([{ href: '/', props: `<current-user-principal><href>/${account.dsid}/principal/</href></current-user-principal>` }]));
    } else if (req.method === 'PROPFIND' && path === `/${account.dsid}/principal/`) {
      res.writeHead(207, { 'Content-Type': 'text/xml; charset=utf-8' });
      res.end(
        multistatus([
          {
            href: path,
            props:
              `<current-user-principal><href>${path}</href></current-user-principal>` +
              `<C:calendar-home-set><href>${partitionUrl}/${account.dsid}/calendars/</href></C:calendar-home-set>` +
              `<displayname>${account.appleId}</displayname>` +
              `<C:calendar-user-address-set><href>mailto:${account.appleId}</href></C:calendar-user-address-set>`,
          },
        ]),
      );
    } else {
      res.writeHead(404, { 'Content-Length': '0' }).end();
    }
  }

  async function partition(req: IncomingMessage, res: ServerResponse, account: EmulatedAccount & { backendPassword: string }) {
    const url = new URL(req.url ?? '/', 'http://x');
    const home = `/${account.dsid}/calendars/`;
    if (!url.pathname.startsWith(home)) return void res.writeHead(404, { 'Content-Length': '0' }).end();
    const rest = url.pathname.slice(home.length);
    const headers: Record<string, string> = {
      authorization: 'Basic ' + Buffer.from(`${account.dsid}:${account.backendPassword}`).toString('base64'),
    };
    for (const h of ['depth', 'content-type', 'if-match', 'if-none-match', 'prefer']) {
      const v = req.headers[h];
      if (typeof v === 'string') headers[h] = v;
    }
    // Hrefs in request bodies (calendar-multiget) name iCloud paths: map them to Radicale's.
    let body = Buffer.from((await readBody(req)).toString().split(home).join(`/${account.dsid}/`));
    if (noSyncCollection && req.method === 'REPORT' && body.includes('sync-collection')) {
      res.writeHead(403, { 'Content-Type': 'application/xml; charset=utf-8' });
      return void res.end('<?xml version="1.0"?><D:error xmlns:D="DAV:"><D:supported-report/></D:error>');
    }
    if (expireTokens && req.method === 'REPORT' && body.includes('sync-token>')) {
      body = Buffer.from(body.toString().replace(/(<(?:[A-Za-z]+:)?sync-token>)[^<]+(<\/)/, '$1$2'));
    }
    const upstream = await fetch(`${radicale.url}/${account.dsid}/${rest}${url.search}`, {
      method: req.method,
      headers,
      body: body.length ? body : undefined,
    });
    let text = await upstream.text();
    const type = upstream.headers.get('content-type') ?? '';
    if (type.includes('xml')) {
      // Radicale names the home /<dsid>/; iCloud names it /<dsid>/calendars/.
      text = text.replace(new RegExp(`(<(?:[A-Za-z]+:)?href>)/${account.dsid}/`, 'g'), `$1${home}`);
      if (corruptSuffix) {
        const pattern = new RegExp(`(${corruptSuffix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}</(?:[A-Za-z]+:)?href>[\\s\\S]*?<(?:[A-Za-z]+:)?calendar-data[^>]*>)[^<]*`, 'g');
        text = text.replace(pattern, (_m, head: string) => head + corruptContent.replace(/&/g, '&amp;').replace(/</g, '&lt;'));
      }
      if (req.method === 'PROPFIND' && rest === '' && req.headers.depth === '1') {
        const end = text.lastIndexOf('</');
        text = text.slice(0, end) + specialCollections(home) + text.slice(end);
      }
    }
    res.writeHead(upstream.status, passableHeaders(upstream.headers));
    res.end(text);
  }

  function handler(host: 'front' | 'partition') {
    return async (req: IncomingMessage, res: ServerResponse) => {
      requests[host]++;
      try {
        if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
        const index = failures.findIndex((f) => !f.host || f.host === host);
        const failure = index < 0 ? undefined : failures.splice(index, 1)[0];
        if (failure) {
          const headers: Record<string, string> = { 'Content-Type': 'text/xml; charset=utf-8' };
          if (failure.retryAfterSeconds !== undefined) headers['Retry-After'] = String(failure.retryAfterSeconds);
          return void res.writeHead(failure.status, headers).end(failure.body ?? '');
        }
        const account = authenticate(req);
        if (!account) return unauthorized(res);
        if (host === 'front') front(req, res, account);
        else await partition(req, res, account);
      } catch (e) {
        if (!res.headersSent) res.writeHead(502);
        res.end(String(e));
      }
    };
  }

  const frontServer = createServer(handler('front'));
  const partitionServer = createServer(handler('partition'));
  const url = await listenOn(frontServer, '127.0.0.1', options.port);
  partitionUrl = await listenOn(partitionServer, PARTITION_HOST, options.port).catch((e) => {
    frontServer.close();
    throw e;
  });

  function addAccount(appleId = `user${randomInt(1e9)}@icloud.example`, password = appPassword()): EmulatedAccount {
    const account = {
      appleId: appleId.toLowerCase(),
      appSpecificPassword: password,
      dsid: String(randomInt(1e9, 2e9)),
      revoked: false,
      backendPassword: randomBytes(12).toString('hex'),
    };
    radicale.addUser(account.dsid, account.backendPassword);
    radicale.createCollectionOnDisk(account.dsid, 'home', { name: 'Calendar', color: '#1BADF8FF', components: ['VEVENT'] });
    radicale.createCollectionOnDisk(account.dsid, 'work', { name: 'Work', color: '#FF2968FF', components: ['VEVENT'] });
    radicale.createCollectionOnDisk(account.dsid, 'tasks', { name: 'Reminders', color: '#CC73E1FF', components: ['VTODO'] });
    radicale.createCollectionOnDisk(account.dsid, `${READ_ONLY_PREFIX}holidays`, { name: 'US Holidays', components: ['VEVENT'] });
    accounts.set(account.appleId, account);
    const { appleId: id, appSpecificPassword, dsid } = account;
    return { appleId: id, appSpecificPassword, dsid };
  }

  return {
    url,
    partitionUrl,
    requests,
    addAccount,
    revoke: (appleId) => void (accounts.get(appleId.toLowerCase())!.revoked = true),
    reissue: (appleId) => {
      const account = accounts.get(appleId.toLowerCase())!;
      Object.assign(account, { revoked: false, appSpecificPassword: appPassword() });
      return { appleId: account.appleId, appSpecificPassword: account.appSpecificPassword, dsid: account.dsid };
    },
    failNext: (status, { count = 1, ...rest } = {}) => {
      for (let i = 0; i < count; i++) failures.push({ status, ...rest });
    },
    delay: (ms) => void (delayMs = ms),
    expireSyncTokens: (on) => void (expireTokens = on),
    corrupt: (suffix, content = 'BEGIN:VCALENDAR\nTHIS IS NOT ICALENDAR') => void ((corruptSuffix = suffix), (corruptContent = content)),
    disableSyncCollection: (on) => void (noSyncCollection = on),
    stop: async () => {
      for (const s of [frontServer, partitionServer]) {
        s.closeAllConnections();
        await new Promise((r) => s.close(r));
      }
    },
  };
}
