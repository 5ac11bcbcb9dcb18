import { SaxesParser, type SaxesTagNS } from 'saxes';
import type { DavTransport } from '../src/sync/caldav/dav-fetch';
import { buildXml, el, NS, type XmlNode } from '../src/sync/caldav/webdav-xml';
import { prng } from './fault-proxy';

/**
 * An iCloud-like CalDAV server in memory, as a `DavTransport` (no sockets): pass `transport` to
 * `createServices(..., { transport })` and every CalDAV client of the server talks to it. It answers what
 * `sync/caldav.client.ts` and `sync/caldav-objects.ts` send, the iCloud way (CALDAV-FACTS.md):
 *
 * - discovery on the front host (`https://caldav.memory.test/`): PROPFIND current-user-principal gives
 *   `/<dsid>/principal/`, whose calendar-home-set is an ABSOLUTE URL on a partition host
 *   (`https://p07-caldav.memory.test/<dsid>/calendars/`); calendars are served on that host only;
 * - PROPFIND Depth 0/1 (resourcetype, displayname, current-user-privilege-set, sync-token,
 *   supported-calendar-component-set, calendar-color, getctag, getetag; anything else in a 404 propstat);
 *   the home also lists inbox, outbox, notification and a VTODO list, as iCloud's does;
 * - REPORT sync-collection (RFC 6578: changed members with etags, deleted members as 404 responses, a new
 *   token; an unknown token answered 403 with DAV:valid-sync-token), calendar-multiget, calendar-query
 *   (which must filter VCALENDAR > VEVENT);
 * - GET, PUT with If-Match / If-None-Match (412 when the precondition fails; 201 created, 204 updated),
 *   DELETE with If-Match; 403 for a write to a read-only calendar, 403 no-uid-conflict for a UID already
 *   at another href, 404 for a VEVENT without DTEND or DURATION (iCloud's answer);
 * - Basic auth: Apple's empty 401 with two challenges for a wrong or revoked password.
 *
 * The "phone" of each account edits the store directly, as the user's iPhone (or a subscription feed,
 * for the read-only calendar) would: random resource names, never derived from the UID. Faults are
 * injected per request (the next matching one, or at a seeded random rate). Writes that clients send are
 * counted per calendar, so a test can assert that a read-only calendar was never written.
 */
export interface MemoryCalDav {
  /** The front URL: what `ICLOUD_CALDAV_URL` points at. */
  url: string;
  transport: DavTransport;
  /** Adds an account with the default calendars (or `calendars`): Calendar, Work, Reminders (VTODO), US Holidays (read-only). */
  addAccount(options?: { appleId?: string; calendars?: MemoryCalendarSpec[] }): MemoryAccount;
  /** Forgets an account and everything in it (its requests are answered 401 from then on). */
  removeAccount(appleId: string): void;
  /**
   * Empties every calendar of an account and forgets their history: sync tokens handed out before are
   * unknown from then on, write counts start again at 0 (one account reused by several test runs).
   */
  resetAccount(appleId: string): void;
  /** Revokes the account's app-specific password (as changing the Apple ID password does): 401 from now on. */
  revoke(appleId: string): void;
  /** The next request matching `match` gets `fault`. Queued faults are used in order. */
  inject(fault: MemoryFault, match?: FaultMatch): void;
  /** From now on each request gets a random fault of `faults` with probability `rate` (deterministic for `seed`); rate 0 stops. */
  random(rate: number, seed: number, faults: MemoryFault[]): void;
  /** Drops queued faults and stops random ones. */
  clearFaults(): void;
  /** Whether PUT answers carry the new ETag (iCloud's sometimes do not: the client must GET it). Default true. */
  etagOnPut(on: boolean): void;
  /** Reseeds the generator of resource names and etags (a replayed seed gives the same names). */
  reseed(seed: number): void;
  /** Client writes (PUT, DELETE, PROPPATCH, MKCALENDAR, MOVE, COPY) aimed at a calendar or its objects, by calendar URL: sent and applied. */
  writes(calendarUrl: string): { attempted: number; applied: number };
  /** Faults injected so far, by kind. */
  injected: Record<string, number>;
  /** Requests received (all accounts). */
  requests: number;
  /** The last requests, oldest first: method, URL, and status or the fault that ended it (for failure reports). */
  log: string[];
  /** Calls `listener` with every authenticated request as it arrives (null stops): a test can see what a sync asked for. */
  observe(listener: ((request: { method: string; url: URL; body: string }) => void) | null): void;
}

/** A calendar an account starts with. `readOnly`: the user may only read it (privilege set `read`), as a subscribed holiday calendar. */
export interface MemoryCalendarSpec {
  slug: string;
  name: string;
  color?: string;
  components?: ('VEVENT' | 'VTODO')[];
  readOnly?: boolean;
}

export const DEFAULT_CALENDARS: MemoryCalendarSpec[] = [
  { slug: 'home', name: 'Calendar', color: '#1BADF8FF' },
  { slug: 'work', name: 'Work', color: '#FF2968FF' },
  { slug: 'tasks', name: 'Reminders', color: '#CC73E1FF', components: ['VTODO'] },
  { slug: 'holidays', name: 'US Holidays', color: '#8E8E93FF', readOnly: true },
];

/** An account of the server: its credentials, its URLs and the user's phone. */
export interface MemoryAccount {
  appleId: string;
  appSpecificPassword: string;
  dsid: string;
  principalUrl: string;
  homeUrl: string;
  /** Absolute URL of a calendar by slug ("work"). */
  calendarUrl(slug: string): string;
  phone: MemoryPhone;
}

/** One stored calendar object. */
export interface StoredObject {
  href: string;
  etag: string;
  data: string;
}

/**
 * What can go wrong with one request. `status`, `timeout` and `reset` happen before the request reaches
 * the store; `lostAnswer` after it was applied (a write took effect although its answer never arrived).
 * `invalidSyncToken` answers a sync-collection with a token 403 valid-sync-token (Radicale); `expiredSyncToken`
 * answers it with a FULL listing as if no token had been sent (iCloud); `emptyListing` answers a full
 * listing (sync-collection without a token) with no members at all; `omitObjects` leaves every object out of a multiget or query
 * answer (as 404 responses). Faults that cannot apply to a request (a sync fault to a PUT) pass it through.
 */
export type MemoryFault =
  | { kind: 'status'; status: number; retryAfterSeconds?: number }
  | { kind: 'timeout' }
  | { kind: 'reset' }
  | { kind: 'lostAnswer' }
  | { kind: 'invalidSyncToken' }
  | { kind: 'expiredSyncToken' }
  | { kind: 'emptyListing' }
  | { kind: 'omitObjects' };

export interface FaultMatch {
  /** Only requests of these methods (PUT, DELETE, GET, REPORT, PROPFIND). */
  method?: string | string[];
  /** Only requests whose URL contains this. */
  url?: string;
}

const FRONT_HOST = 'caldav.memory.test';
const PARTITION_HOST = 'p07-caldav.memory.test';
const WRITE_METHODS = new Set(['PUT', 'DELETE', 'PROPPATCH', 'MKCALENDAR', 'MKCOL', 'MOVE', 'COPY']);
const LOG_KEPT = 200;

interface Calendar {
  spec: Required<MemoryCalendarSpec>;
  /** Objects by resource name. */
  objects: Map<string, { etag: string; data: string }>;
  /** Sequence number of the last change of each resource name (deleted ones included: RFC 6578 tombstones). */
  changes: Map<string, number>;
  seq: number;
  /** A random part of this calendar's sync tokens: a token of another calendar (or server) is unknown here. */
  tokenId: string;
  writes: { attempted: number; applied: number };
}

interface Account {
  appleId: string;
  password: string;
  revoked: boolean;
  dsid: string;
  calendars: Map<string, Calendar>;
}

/** Thrown inside a handler to answer with a status (and an optional DAV:error body). */
class Answer extends Error {
  constructor(
    readonly status: number,
    readonly error?: XmlNode,
  ) {
    super(`HTTP ${status}`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Request bodies
// ---------------------------------------------------------------------------------------------------------

interface XNode {
  ns: string;
  name: string;
  attrs: Record<string, string>;
  children: XNode[];
  text: string;
}

/** Parses a request body (namespace-aware); throws `Answer(400)` when it is not well-formed XML. */
function parseXml(body: string): XNode {
  const parser = new SaxesParser({ xmlns: true });
  const stack: XNode[] = [];
  let root: XNode | undefined;
  parser.on('opentag', (tag: SaxesTagNS) => {
    const attrs: Record<string, string> = {};
    for (const a of Object.values(tag.attributes)) if (!a.uri) attrs[a.local] = a.value;
    const node: XNode = { ns: tag.uri, name: tag.local, attrs, children: [], text: '' };
    if (stack.length) stack[stack.length - 1].children.push(node);
    else root = node;
    stack.push(node);
  });
  parser.on('text', (text) => {
    if (stack.length) stack[stack.length - 1].text += text;
  });
  parser.on('closetag', () => void stack.pop());
  try {
    parser.write(body).close();
  } catch {
    throw new Answer(400);
  }
  if (!root) throw new Answer(400);
  return root;
}

const child = (node: XNode | undefined, ns: string, name: string) => node?.children.find((c) => c.ns === ns && c.name === name);
const children = (node: XNode | undefined, ns: string, name: string) => node?.children.filter((c) => c.ns === ns && c.name === name) ?? [];

// ---------------------------------------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------------------------------------

const STATUS_TEXT: Record<number, string> = { 200: 'OK', 404: 'Not Found' };
const statusLine = (code: number) => `HTTP/1.1 ${code} ${STATUS_TEXT[code] ?? 'Status'}`;

function propstat(props: XmlNode[], code: number): XmlNode[] {
  return props.length ? [el(NS.DAV, 'propstat', [el(NS.DAV, 'prop', props), el(NS.DAV, 'status', [statusLine(code)])])] : [];
}

/** A `<response>` with the requested properties: found ones in a 200 propstat, the others in a 404 one. */
function propResponse(href: string, requested: XNode[] | 'all', available: Map<string, XmlNode>): XmlNode {
  const wanted = requested === 'all' ? [...available.keys()] : requested.map((r) => `${r.ns}|${r.name}`);
  const found = wanted.filter((k) => available.has(k)).map((k) => available.get(k)!);
  const missing = requested === 'all' ? [] : requested.filter((r) => !available.has(`${r.ns}|${r.name}`)).map((r) => el(r.ns, r.name));
  return el(NS.DAV, 'response', [el(NS.DAV, 'href', [href]), ...propstat(found, 200), ...propstat(missing, 404)]);
}

function statusResponse(href: string, code: number): XmlNode {
  return el(NS.DAV, 'response', [el(NS.DAV, 'href', [href]), el(NS.DAV, 'status', [statusLine(code)])]);
}

function multistatus(responses: XmlNode[], syncToken?: string): Response {
  const body = buildXml(el(NS.DAV, 'multistatus', [...responses, ...(syncToken !== undefined ? [el(NS.DAV, 'sync-token', [syncToken])] : [])]));
  return new Response(body, { status: 207, headers: { 'Content-Type': 'application/xml; charset=utf-8' } });
}

function props(entries: XmlNode[]): Map<string, XmlNode> {
  return new Map(entries.map((p) => [`${p.ns}|${p.name}`, p]));
}

const hrefNode = (href: string) => el(NS.DAV, 'href', [href]);

// ---------------------------------------------------------------------------------------------------------
// iCalendar checks (as far as a CalDAV server looks at a body)
// ---------------------------------------------------------------------------------------------------------

const unfold = (ics: string) => ics.replace(/\r?\n[ \t]/g, '');

/** The UID and component of an object, or the status a server refuses it with. */
function inspect(ics: string, components: string[]): { uid: string } | { refuse: number; error?: XmlNode } {
  const text = unfold(ics);
  if (!/^BEGIN:VCALENDAR\r?$/m.test(text) || !/^END:VCALENDAR\r?$/m.test(text)) return { refuse: 400, error: el(NS.CALDAV, 'valid-calendar-data') };
  const component = /^BEGIN:(VEVENT|VTODO|VJOURNAL)\r?$/m.exec(text)?.[1];
  if (!component || !components.includes(component)) return { refuse: 403, error: el(NS.CALDAV, 'supported-calendar-component') };
  const uid = /^UID(?:;[^:\r\n]*)?:([^\r\n]+)/m.exec(text)?.[1]?.trim();
  if (!uid) return { refuse: 400, error: el(NS.CALDAV, 'valid-calendar-object-resource') };
  // iCloud answers a VEVENT without DTEND or DURATION with 404 (CALDAV-FACTS.md).
  if (component === 'VEVENT' && !/^(DTEND|DURATION)[;:]/m.test(text)) return { refuse: 404 };
  return { uid };
}

const uidOf = (ics: string) => /^UID(?:;[^:\r\n]*)?:([^\r\n]+)/m.exec(unfold(ics))?.[1]?.trim();

// ---------------------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------------------

/** The user's iPhone (and, for a read-only calendar, its subscription feed): edits the store directly, no HTTP, no faults. */
export class MemoryPhone {
  constructor(
    private readonly server: { store(href: string, data: string, create: boolean): StoredObject; remove(href: string): void; read(href: string): StoredObject | undefined; list(url: string): StoredObject[]; name(): string },
    private readonly account: MemoryAccount,
  ) {}

  /** Creates an event under a random name (never derived from its UID); returns its absolute href. Throws if the calendar does not exist. */
  create(slug: string, ics: string, name = this.server.name()): string {
    return this.server.store(new URL(name, this.account.calendarUrl(slug)).href, ics, true).href;
  }

  /** Replaces an existing event (new etag); returns it. Throws if it does not exist. */
  update(href: string, ics: string): StoredObject {
    return this.server.store(href, ics, false);
  }

  /** Saves an event again unchanged: a new etag, the same content (a re-save, a server-side rewrite). */
  touch(href: string): StoredObject {
    const current = this.get(href);
    if (!current) throw new Error(`${href} does not exist`);
    return this.server.store(href, current.data, false);
  }

  /** Deletes an event. Throws if it does not exist. */
  delete(href: string): void {
    this.server.remove(href);
  }

  get(href: string): StoredObject | undefined {
    return this.server.read(href);
  }

  /** The events of a calendar, by href. */
  list(slug: string): StoredObject[] {
    return this.server.list(this.account.calendarUrl(slug));
  }
}

/** Creates an empty server. `seed` makes resource names and etags replayable. */
export function createMemoryCalDav(options: { seed?: number } = {}): MemoryCalDav {
  const accounts = new Map<string, Account>();
  const byDsid = new Map<string, Account>();
  const queued: { fault: MemoryFault; match: FaultMatch }[] = [];
  let randomFaults: { rate: number; next: () => number; faults: MemoryFault[] } | undefined;
  let random = prng(options.seed ?? 1);
  let etagCounter = 0;
  let dsidCounter = 0;
  let sendEtag = true;
  let observer: ((request: { method: string; url: URL; body: string }) => void) | null = null;
  const front = `https://${FRONT_HOST}`;
  const partition = `https://${PARTITION_HOST}`;

  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join('').toUpperCase();
  const newEtag = () => `"${(++etagCounter).toString(36)}-${hex(6).toLowerCase()}"`;
  const homePath = (a: Account) => `/${a.dsid}/calendars/`;

  const server: MemoryCalDav = {
    url: `${front}/`,
    transport: (url, init) => handle(url, init),
    addAccount,
    removeAccount: (appleId) => {
      const account = accounts.get(appleId.toLowerCase());
      if (!account) return;
      accounts.delete(account.appleId);
      byDsid.delete(account.dsid);
    },
    resetAccount: (appleId) => {
      const account = accounts.get(appleId.toLowerCase());
      if (!account) throw new Error(`no account ${appleId}`);
      account.revoked = false;
      for (const calendar of account.calendars.values()) {
        Object.assign(calendar, { objects: new Map(), changes: new Map(), seq: 0, tokenId: hex(8).toLowerCase(), writes: { attempted: 0, applied: 0 } });
      }
    },
    revoke: (appleId) => void (accounts.get(appleId.toLowerCase())!.revoked = true),
    inject: (fault, match = {}) => void queued.push({ fault, match }),
    random: (rate, seed, faults) => void (randomFaults = rate > 0 && faults.length ? { rate, next: prng(seed), faults } : undefined),
    clearFaults: () => {
      queued.length = 0;
      randomFaults = undefined;
    },
    etagOnPut: (on) => void (sendEtag = on),
    reseed: (seed) => void (random = prng(seed)),
    writes: (calendarUrl) => {
      const found = locate(new URL(calendarUrl));
      if (!found?.calendar) throw new Error(`no calendar at ${calendarUrl}`);
      return { ...found.calendar.writes };
    },
    injected: {},
    requests: 0,
    log: [],
    observe: (listener) => void (observer = listener),
  };

  function addAccount({ appleId, calendars = DEFAULT_CALENDARS }: { appleId?: string; calendars?: MemoryCalendarSpec[] } = {}): MemoryAccount {
    const dsid = String(1_000_000_000 + ++dsidCounter);
    const id = (appleId ?? `user${dsid}@icloud.memory.test`).toLowerCase();
    const password = Array.from({ length: 4 }, () => Array.from({ length: 4 }, () => String.fromCharCode(97 + Math.floor(random() * 26))).join('')).join('-');
    const account: Account = { appleId: id, password, revoked: false, dsid, calendars: new Map() };
    for (const spec of calendars) {
      account.calendars.set(spec.slug, {
        spec: { color: '#1BADF8FF', components: ['VEVENT'], readOnly: false, ...spec },
        objects: new Map(),
        changes: new Map(),
        seq: 0,
        tokenId: hex(8).toLowerCase(),
        writes: { attempted: 0, applied: 0 },
      });
    }
    accounts.set(id, account);
    byDsid.set(dsid, account);
    const homeUrl = `${partition}${homePath(account)}`;
    const handle: MemoryAccount = {
      appleId: id,
      appSpecificPassword: password,
      dsid,
      principalUrl: `${front}/${dsid}/principal/`,
      homeUrl,
      calendarUrl: (slug) => new URL(`${slug}/`, homeUrl).href,
      phone: undefined as unknown as MemoryPhone,
    };
    handle.phone = new MemoryPhone({ store: storeDirect, remove: removeDirect, read: readDirect, list: listDirect, name: () => `${hex(8)}-${hex(4)}-${hex(4)}-${hex(4)}-${hex(12)}.ics` }, handle);
    return handle;
  }

  // --- the store -------------------------------------------------------------------------------------------

  /** The account, calendar and resource name a partition URL names (calendar and name absent for the home). */
  function locate(url: URL): { account: Account; calendar?: Calendar; name?: string } | undefined {
    if (url.host !== PARTITION_HOST) return undefined;
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (parts.length < 2 || parts[1] !== 'calendars') return undefined;
    const account = byDsid.get(parts[0]);
    if (!account) return undefined;
    if (parts.length === 2) return url.pathname.endsWith('/') ? { account } : undefined;
    const calendar = account.calendars.get(parts[2]);
    if (!calendar) return { account };
    if (parts.length === 3) return { account, calendar };
    if (parts.length === 4 && !url.pathname.endsWith('/')) return { account, calendar, name: parts[3] };
    return { account };
  }

  const calendarPath = (account: Account, calendar: Calendar) => `${homePath(account)}${encodeURIComponent(calendar.spec.slug)}/`;
  const objectPath = (account: Account, calendar: Calendar, name: string) => `${calendarPath(account, calendar)}${encodeURIComponent(name)}`;

  function write(calendar: Calendar, name: string, data: string | null): string | null {
    calendar.seq++;
    calendar.changes.set(name, calendar.seq);
    if (data === null) {
      calendar.objects.delete(name);
      return null;
    }
    const etag = newEtag();
    calendar.objects.set(name, { etag, data });
    return etag;
  }

  function storeDirect(href: string, data: string, create: boolean): StoredObject {
    const found = locate(new URL(href));
    if (!found?.calendar || !found.name) throw new Error(`${href} is not an object of a calendar`);
    const exists = found.calendar.objects.has(found.name);
    if (create && exists) throw new Error(`${href} exists already`);
    if (!create && !exists) throw new Error(`${href} does not exist`);
    const etag = write(found.calendar, found.name, data)!;
    return { href: new URL(objectPath(found.account, found.calendar, found.name), partition).href, etag, data };
  }

  function removeDirect(href: string): void {
    const found = locate(new URL(href));
    if (!found?.calendar || !found.name || !found.calendar.objects.has(found.name)) throw new Error(`${href} does not exist`);
    write(found.calendar, found.name, null);
  }

  function readDirect(href: string): StoredObject | undefined {
    const found = locate(new URL(href));
    const object = found?.calendar && found.name ? found.calendar.objects.get(found.name) : undefined;
    return object && { href: new URL(objectPath(found!.account, found!.calendar!, found!.name!), partition).href, ...object };
  }

  function listDirect(calendarUrl: string): StoredObject[] {
    const found = locate(new URL(calendarUrl));
    if (!found?.calendar) throw new Error(`no calendar at ${calendarUrl}`);
    return [...found.calendar.objects].map(([name, o]) => ({ href: new URL(objectPath(found.account, found.calendar!, name), partition).href, ...o }));
  }

  // --- faults ----------------------------------------------------------------------------------------------

  function matches(match: FaultMatch, method: string, url: URL): boolean {
    const methods = match.method === undefined ? undefined : Array.isArray(match.method) ? match.method : [match.method];
    return (!methods || methods.includes(method)) && (!match.url || url.href.includes(match.url));
  }

  function applies(fault: MemoryFault, method: string, body: string): boolean {
    const sync = method === 'REPORT' && body.includes('sync-collection');
    switch (fault.kind) {
      case 'invalidSyncToken':
      case 'expiredSyncToken':
        return sync && /sync-token>[^<]/.test(body);
      case 'emptyListing':
        // A full listing (no token) that comes back empty: a wrong URL or a server bug. (An empty answer to a
        // token is a valid "nothing changed".)
        return sync && !/sync-token>[^<]/.test(body);
      case 'omitObjects':
        return method === 'REPORT' && (body.includes('calendar-multiget') || body.includes('calendar-query'));
      default:
        return true;
    }
  }

  function pick(method: string, url: URL, body: string): MemoryFault | undefined {
    const index = queued.findIndex(({ fault, match }) => matches(match, method, url) && applies(fault, method, body));
    if (index >= 0) return queued.splice(index, 1)[0].fault;
    if (!randomFaults || randomFaults.next() >= randomFaults.rate) return undefined;
    const fault = randomFaults.faults[Math.floor(randomFaults.next() * randomFaults.faults.length)];
    return applies(fault, method, body) ? fault : undefined;
  }

  // --- requests --------------------------------------------------------------------------------------------

  function authenticate(headers: Headers): Account | undefined {
    const [scheme, encoded] = (headers.get('authorization') ?? '').split(' ');
    if (scheme !== 'Basic' || !encoded) return undefined;
    const decoded = Buffer.from(encoded, 'base64').toString();
    const sep = decoded.indexOf(':');
    const account = accounts.get(decoded.slice(0, sep).toLowerCase());
    return account && !account.revoked && account.password === decoded.slice(sep + 1) ? account : undefined;
  }

  function record(line: string): void {
    server.log.push(line);
    if (server.log.length > LOG_KEPT) server.log.splice(0, server.log.length - LOG_KEPT);
  }

  async function handle(url: URL, init: RequestInit): Promise<Response> {
    server.requests++;
    const method = (init.method ?? 'GET').toUpperCase();
    const headers = new Headers(init.headers);
    const body = typeof init.body === 'string' ? init.body : init.body ? new TextDecoder().decode(init.body as ArrayBuffer) : '';
    const what = `${method} ${url.href}`;
    if (init.signal?.aborted) {
      record(`${what} -> aborted`);
      throw init.signal.reason;
    }
    const account = authenticate(headers);
    if (!account) {
      record(`${what} -> 401`);
      // Apple's answer to a bad or revoked password: empty, with two challenges (CALDAV-FACTS.md).
      const challenge = new Headers([['WWW-Authenticate', 'Basic realm="MMCalDav"'], ['WWW-Authenticate', 'X-MobileMe-AuthToken realm="MMCalDav"']]);
      return new Response(null, { status: 401, headers: challenge });
    }
    observer?.({ method, url, body });
    // Counted as sent, whatever happens to it next: a read-only calendar must never even be asked.
    if (WRITE_METHODS.has(method)) {
      const target = locate(url);
      if (target?.calendar && target.account === account) target.calendar.writes.attempted++;
    }
    const fault = pick(method, url, body);
    if (fault) server.injected[fault.kind] = (server.injected[fault.kind] ?? 0) + 1;
    switch (fault?.kind) {
      case 'status': {
        record(`${what} -> injected ${fault.status}`);
        const extra: Record<string, string> = fault.retryAfterSeconds !== undefined ? { 'Retry-After': String(fault.retryAfterSeconds) } : {};
        return new Response('injected failure', { status: fault.status, headers: { 'Content-Type': 'text/plain', ...extra } });
      }
      case 'timeout':
        record(`${what} -> injected timeout`);
        // What fetch rejects with when its AbortSignal.timeout fires.
        throw new DOMException('The operation was aborted due to timeout', 'TimeoutError');
      case 'reset':
        record(`${what} -> injected reset`);
        throw new TypeError('fetch failed', { cause: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }) });
      case 'invalidSyncToken':
        record(`${what} -> injected 403 valid-sync-token`);
        return davError(403, el(NS.DAV, 'valid-sync-token'));
    }
    let response: Response;
    try {
      response = route(method, url, headers, body, account, fault);
    } catch (e) {
      if (!(e instanceof Answer)) throw e;
      response = e.error ? davError(e.status, e.error) : new Response(null, { status: e.status });
    }
    if (fault?.kind === 'lostAnswer') {
      record(`${what} -> ${response.status}, answer lost`);
      await response.body?.cancel();
      throw new TypeError('fetch failed', { cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) });
    }
    record(`${what} -> ${response.status}${fault ? ` (${fault.kind})` : ''}`);
    return response;
  }

  function davError(status: number, condition: XmlNode): Response {
    return new Response(buildXml(el(NS.DAV, 'error', [condition])), { status, headers: { 'Content-Type': 'application/xml; charset=utf-8' } });
  }

  function route(method: string, url: URL, headers: Headers, body: string, account: Account, fault: MemoryFault | undefined): Response {
    if (url.host === FRONT_HOST) return frontHost(method, url, headers, body, account);
    if (url.host !== PARTITION_HOST) throw new Answer(404);
    const target = locate(url);
    // Another account's data is not there for this one.
    if (!target || target.account !== account) throw new Answer(404);
    switch (method) {
      case 'PROPFIND':
        return propfind(url, headers, body, target);
      case 'REPORT':
        if (!target.calendar || target.name) throw new Answer(404);
        return report(url, body, target.account, target.calendar, fault);
      case 'GET':
        return get(target);
      case 'PUT':
        return put(target, headers, body);
      case 'DELETE':
        return del(target, headers);
      default:
        throw new Answer(405);
    }
  }

  function frontHost(method: string, url: URL, headers: Headers, body: string, account: Account): Response {
    if (url.pathname === '/.well-known/caldav') return new Response(null, { status: 301, headers: { Location: '/' } });
    if (method !== 'PROPFIND') throw new Answer(405);
    const requested = requestedProps(body);
    const principal = `/${account.dsid}/principal/`;
    const own = el(NS.DAV, 'current-user-principal', [hrefNode(principal)]);
    if (url.pathname === '/') return multistatus([propResponse('/', requested, props([own]))]);
    if (url.pathname !== principal || headers.get('depth') === 'infinity') throw new Answer(404);
    const available = props([
      own,
      // Absolute, on the partition host: everything after discovery goes there (CALDAV-FACTS.md).
      el(NS.CALDAV, 'calendar-home-set', [hrefNode(`${partition}:443${homePath(account)}`)]),
      el(NS.DAV, 'displayname', [account.appleId]),
      el(NS.CALDAV, 'calendar-user-address-set', [hrefNode(`mailto:${account.appleId}`)]),
      el(NS.DAV, 'resourcetype', [el(NS.DAV, 'principal')]),
    ]);
    return multistatus([propResponse(principal, requested, available)]);
  }

  /** The properties a PROPFIND asks for; `all` for allprop or an empty body (RFC 4918 section 9.1). */
  function requestedProps(body: string): XNode[] | 'all' {
    if (!body.trim()) return 'all';
    const root = parseXml(body);
    if (root.ns !== NS.DAV || root.name !== 'propfind') throw new Answer(400);
    const prop = child(root, NS.DAV, 'prop');
    return prop ? prop.children : 'all';
  }

  function token(calendar: Calendar, seq = calendar.seq): string {
    return `https://${PARTITION_HOST}/sync/${calendar.tokenId}/${seq}`;
  }

  function calendarProps(calendar: Calendar): Map<string, XmlNode> {
    const { spec } = calendar;
    const privileges = spec.readOnly ? ['read', 'read-current-user-privilege-set'] : ['read', 'read-current-user-privilege-set', 'write', 'write-properties', 'write-content', 'bind', 'unbind'];
    return props([
      el(NS.DAV, 'resourcetype', [el(NS.DAV, 'collection'), el(NS.CALDAV, 'calendar')]),
      el(NS.DAV, 'displayname', [spec.name]),
      el(NS.DAV, 'current-user-privilege-set', privileges.map((p) => el(NS.DAV, 'privilege', [el(NS.DAV, p)]))),
      el(NS.DAV, 'sync-token', [token(calendar)]),
      el(NS.CALDAV, 'supported-calendar-component-set', spec.components.map((name) => el(NS.CALDAV, 'comp', [], { name }))),
      el(NS.APPLE, 'calendar-color', [spec.color]),
      el(NS.CS, 'getctag', [`ctag-${calendar.tokenId}-${calendar.seq}`]),
      el(NS.DAV, 'supported-report-set', ['sync-collection', 'calendar-multiget', 'calendar-query'].map((r) => el(NS.DAV, 'supported-report', [el(NS.DAV, 'report', [el(r === 'sync-collection' ? NS.DAV : NS.CALDAV, r)])]))),
    ]);
  }

  function objectProps(object: { etag: string; data: string }, withData: boolean): Map<string, XmlNode> {
    return props([
      el(NS.DAV, 'getetag', [object.etag]),
      el(NS.DAV, 'resourcetype'),
      el(NS.DAV, 'getcontenttype', ['text/calendar; charset=utf-8; component=vevent']),
      ...(withData ? [el(NS.CALDAV, 'calendar-data', [object.data])] : []),
    ]);
  }

  function propfind(url: URL, headers: Headers, body: string, target: { account: Account; calendar?: Calendar; name?: string }): Response {
    const depth = headers.get('depth') ?? 'infinity';
    if (depth === 'infinity') throw new Answer(403, el(NS.DAV, 'propfind-finite-depth'));
    const requested = requestedProps(body);
    const { account, calendar, name } = target;
    if (name !== undefined) {
      const object = calendar!.objects.get(name);
      if (!object) throw new Answer(404);
      return multistatus([propResponse(objectPath(account, calendar!, name), requested, objectProps(object, false))]);
    }
    if (calendar) {
      const responses = [propResponse(calendarPath(account, calendar), requested, calendarProps(calendar))];
      if (depth === '1') for (const [n, o] of calendar.objects) responses.push(propResponse(objectPath(account, calendar, n), requested, objectProps(o, false)));
      return multistatus(responses);
    }
    if (url.pathname !== homePath(account)) throw new Answer(404);
    const responses = [propResponse(homePath(account), requested, props([el(NS.DAV, 'resourcetype', [el(NS.DAV, 'collection')]), el(NS.DAV, 'displayname', ['Calendars'])]))];
    if (depth === '1') {
      for (const c of account.calendars.values()) responses.push(propResponse(calendarPath(account, c), requested, calendarProps(c)));
      // The collections every iCloud home holds besides calendars.
      const special: [string, XmlNode][] = [
        ['inbox/', el(NS.CALDAV, 'schedule-inbox')],
        ['outbox/', el(NS.CALDAV, 'schedule-outbox')],
        ['notification/', el(NS.CS, 'notification')],
      ];
      for (const [slug, type] of special) responses.push(propResponse(`${homePath(account)}${slug}`, requested, props([el(NS.DAV, 'resourcetype', [el(NS.DAV, 'collection'), type])])));
    }
    return multistatus(responses);
  }

  function report(url: URL, body: string, account: Account, calendar: Calendar, fault: MemoryFault | undefined): Response {
    const root = parseXml(body);
    const propNode = child(root, NS.DAV, 'prop');
    const requested: XNode[] | 'all' = propNode ? propNode.children : 'all';
    const objectResponse = (name: string) => {
      const object = calendar.objects.get(name);
      return object ? propResponse(objectPath(account, calendar, name), requested, objectProps(object, true)) : statusResponse(objectPath(account, calendar, name), 404);
    };
    if (root.ns === NS.DAV && root.name === 'sync-collection') {
      const sent = child(root, NS.DAV, 'sync-token')?.text.trim() ?? '';
      if (fault?.kind === 'emptyListing') return multistatus([], token(calendar));
      let since = 0;
      const full = !sent || fault?.kind === 'expiredSyncToken';
      if (!full) {
        const match = /\/sync\/([0-9a-f]+)\/(\d+)$/.exec(sent);
        const seq = match ? Number(match[2]) : NaN;
        // RFC 6578 section 3.7: a token this collection did not hand out.
        if (!match || match[1] !== calendar.tokenId || !(seq <= calendar.seq)) throw new Answer(403, el(NS.DAV, 'valid-sync-token'));
        since = seq;
      }
      const responses: XmlNode[] = [];
      for (const [name, seq] of calendar.changes) {
        if (seq <= since) continue;
        const object = calendar.objects.get(name);
        if (object) responses.push(propResponse(objectPath(account, calendar, name), requested, objectProps(object, false)));
        // A member removed since the token; a full listing (no token) lists only what exists.
        else if (!full) responses.push(statusResponse(objectPath(account, calendar, name), 404));
      }
      return multistatus(responses, token(calendar));
    }
    if (root.ns === NS.CALDAV && root.name === 'calendar-multiget') {
      const names = children(root, NS.DAV, 'href').map((h) => {
        const found = locate(new URL(h.text.trim(), url));
        return found?.calendar === calendar && found.name !== undefined ? found.name : undefined;
      });
      if (names.some((n) => n === undefined)) throw new Answer(400);
      if (fault?.kind === 'omitObjects') return multistatus(names.map((n) => statusResponse(objectPath(account, calendar, n!), 404)));
      return multistatus(names.map((n) => objectResponse(n!)));
    }
    if (root.ns === NS.CALDAV && root.name === 'calendar-query') {
      // iCloud rejects a query that does not filter VCALENDAR > VEVENT (CALDAV-FACTS.md).
      const outer = children(child(root, NS.CALDAV, 'filter'), NS.CALDAV, 'comp-filter');
      const inner = outer.length === 1 && outer[0].attrs.name === 'VCALENDAR' ? children(outer[0], NS.CALDAV, 'comp-filter') : [];
      if (inner.length !== 1 || inner[0].attrs.name !== 'VEVENT') throw new Answer(403, el(NS.CALDAV, 'supported-filter'));
      if (fault?.kind === 'omitObjects') return multistatus([]);
      return multistatus([...calendar.objects.keys()].map(objectResponse));
    }
    throw new Answer(403, el(NS.DAV, 'supported-report'));
  }

  function get(target: { calendar?: Calendar; name?: string }): Response {
    const object = target.calendar && target.name !== undefined ? target.calendar.objects.get(target.name) : undefined;
    if (!object) throw new Answer(404);
    return new Response(object.data, { status: 200, headers: { 'Content-Type': 'text/calendar; charset=utf-8', ETag: object.etag } });
  }

  /** If-Match / If-None-Match (RFC 9110 section 13.1): whether the request may go on. */
  function preconditionHolds(headers: Headers, current: { etag: string } | undefined): boolean {
    const ifMatch = headers.get('if-match');
    const ifNoneMatch = headers.get('if-none-match');
    if (ifMatch !== null) {
      if (!current) return false;
      if (ifMatch.trim() !== '*' && !ifMatch.split(',').map((t) => t.trim()).includes(current.etag)) return false;
    }
    if (ifNoneMatch !== null && current) {
      if (ifNoneMatch.trim() === '*' || ifNoneMatch.split(',').map((t) => t.trim()).includes(current.etag)) return false;
    }
    return true;
  }

  function put(target: { account: Account; calendar?: Calendar; name?: string }, headers: Headers, body: string): Response {
    const { calendar, name } = target;
    if (!calendar || name === undefined) throw new Answer(409);
    if (calendar.spec.readOnly) throw new Answer(403, el(NS.DAV, 'need-privileges'));
    const current = calendar.objects.get(name);
    if (!preconditionHolds(headers, current)) throw new Answer(412);
    const checked = inspect(body, calendar.spec.components);
    if ('refuse' in checked) throw new Answer(checked.refuse, checked.error);
    // One UID per calendar: the same UID at another href is refused (CalendarServer's no-uid-conflict).
    for (const [other, o] of calendar.objects) if (other !== name && uidOf(o.data) === checked.uid) throw new Answer(403, el(NS.CALDAV, 'no-uid-conflict'));
    const etag = write(calendar, name, body)!;
    calendar.writes.applied++;
    return new Response(null, { status: current ? 204 : 201, headers: sendEtag ? { ETag: etag } : {} });
  }

  function del(target: { account: Account; calendar?: Calendar; name?: string }, headers: Headers): Response {
    const { calendar, name } = target;
    if (!calendar || name === undefined) throw new Answer(403);
    if (calendar.spec.readOnly) throw new Answer(403, el(NS.DAV, 'need-privileges'));
    const current = calendar.objects.get(name);
    if (!current && headers.get('if-match') === null) throw new Answer(404);
    if (!preconditionHolds(headers, current)) throw new Answer(412);
    write(calendar, name, null);
    calendar.writes.applied++;
    return new Response(null, { status: 204 });
  }

  return server;
}
