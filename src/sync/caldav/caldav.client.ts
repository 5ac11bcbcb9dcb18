import { CalDavError, errorForStatus } from './caldav.errors';
import { createDavFetch, type DavFetch, type DavTransport } from './dav-fetch';
import { buildXml, childrenNamed, el, findProp, hasChild, hrefOf, NS, readMultistatus, succeeded, textOf, type DavResponse, type XmlNode } from './webdav-xml';

/** The largest WebDAV answer read (bytes): a full listing of 500 events is about 430 KB (CALDAV-FACTS.md). */
export const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

/** A VEVENT calendar as listed in the calendar home. */
export interface DiscoveredCalendar {
  /** Absolute URL, resolved against the response it was listed in (CALDAV-FACTS.md, tsdav pitfalls). */
  href: string;
  name: string;
  color: string | null;
  writable: boolean;
  ctag: string | null;
  syncToken: string | null;
}

export interface Discovery {
  principalUrl: string;
  /** Absolute calendar-home-set URL, on iCloud a partition host other than the one discovery began on. */
  homeUrl: string;
  calendars: DiscoveredCalendar[];
}

/** A member of a collection listing: href (absolute) and etag. */
export interface Member {
  href: string;
  etag: string;
}

/** A calendar object with its content. */
export interface CalendarObject extends Member {
  data: string;
}

/** What changed in a collection since a sync token (RFC 6578). */
export interface SyncCollectionResult {
  changed: Member[];
  /** Hrefs reported 404: deleted since the token. */
  removed: string[];
  token: string;
}

export interface CalDavClientOptions {
  serverUrl: string;
  username: string;
  password: string;
  timeoutMs: number;
  /** How requests travel (the global fetch by default). */
  transport?: DavTransport;
  /** Told the method and status of each answer. */
  onResponse?: (method: string, status: string) => void;
}

/** Apple writes `#RRGGBBAA`; front ends expect `#RRGGBB`. */
function normaliseColor(value: string | undefined): string | null {
  if (value === undefined || !value.startsWith('#')) return null;
  return /^#[0-9a-f]{8}$/i.test(value) ? value.slice(0, 7) : value;
}

const WRITE_PRIVILEGES = ['all', 'write', 'write-content', 'bind'];

/**
 * Which collections of a home are calendars for this product: resourcetype `calendar` with VEVENT in
 * `supported-calendar-component-set` (absent means every type, RFC 4791 section 5.2.3). Inbox, outbox,
 * notification collections and VTODO lists (Reminders) are left out.
 */
export function toCalendar(response: DavResponse, base: string): DiscoveredCalendar | undefined {
  const types = findProp(response, NS.DAV, 'resourcetype');
  if (!hasChild(types, NS.CALDAV, 'calendar')) return undefined;
  const comps = childrenNamed(findProp(response, NS.CALDAV, 'supported-calendar-component-set'), NS.CALDAV, 'comp');
  const names = comps.map((c) => String(c.attrs.name).toUpperCase());
  if (comps.length > 0 && !names.includes('VEVENT')) return undefined;
  const href = new URL(response.href, base).href;
  const privileges = childrenNamed(findProp(response, NS.DAV, 'current-user-privilege-set'), NS.DAV, 'privilege');
  const granted = privileges.flatMap((p) => p.children.filter((c) => c.ns === NS.DAV).map((c) => c.name));
  // No privilege set reported: assume writable and let the first write tell (412/403 are handled there).
  const writable = !hasChild(types, NS.CS, 'subscribed') && (privileges.length === 0 || granted.some((p) => WRITE_PRIVILEGES.includes(p)));
  const displayname = textOf(findProp(response, NS.DAV, 'displayname'));
  const name = displayname ? displayname : decodeURIComponent(href.split('/').filter(Boolean).pop() ?? href);
  return {
    href,
    name,
    color: normaliseColor(textOf(findProp(response, NS.APPLE, 'calendar-color'))),
    writable,
    ctag: textOf(findProp(response, NS.CS, 'getctag')) ?? null,
    syncToken: textOf(findProp(response, NS.DAV, 'sync-token')) ?? null,
  };
}

/**
 * A CalDAV client for one account. Counts its requests (`requests`). Every method throws
 * `CalDavError`: `AUTH` on 401, `UNAVAILABLE` when unreachable, timed out, 429 or 5xx, `BAD_RESPONSE`
 * when the answer cannot be used.
 */
export class CalDavClient {
  requests = 0;
  private readonly fetch: DavFetch;

  constructor(private readonly options: CalDavClientOptions) {
    this.fetch = createDavFetch({ ...options, onRequest: () => this.requests++ });
  }

  /**
   * Finds the principal and the calendar home, then lists the home's VEVENT calendars. Returns absolute
   * URLs: on iCloud the home is on a partition host, where everything after discovery must go.
   */
  async discover(): Promise<Discovery> {
    const root = await this.propfindOne(this.options.serverUrl, [el(NS.DAV, 'current-user-principal')]);
    const principal = hrefOf(root.prop(NS.DAV, 'current-user-principal'));
    if (!principal) throw new CalDavError('BAD_RESPONSE', 'the server did not name a current-user-principal');
    const principalUrl = new URL(principal, root.base).href;
    const home = await this.propfindOne(principalUrl, [el(NS.CALDAV, 'calendar-home-set')]);
    const homeHref = hrefOf(home.prop(NS.CALDAV, 'calendar-home-set'));
    if (!homeHref) throw new CalDavError('BAD_RESPONSE', 'the principal has no calendar-home-set');
    const homeUrl = new URL(homeHref, home.base).href;
    return { principalUrl, homeUrl, calendars: await this.listCalendars(homeUrl) };
  }

  /** Lists the VEVENT calendars directly under `homeUrl` (Depth 1). */
  async listCalendars(homeUrl: string): Promise<DiscoveredCalendar[]> {
    const props = [
      el(NS.DAV, 'resourcetype'),
      el(NS.DAV, 'displayname'),
      el(NS.DAV, 'current-user-privilege-set'),
      el(NS.DAV, 'sync-token'),
      el(NS.CALDAV, 'supported-calendar-component-set'),
      el(NS.APPLE, 'calendar-color'),
      el(NS.CS, 'getctag'),
    ];
    const { responses, base } = await this.dav('PROPFIND', homeUrl, propfindBody(props), '1');
    return responses.map((r) => toCalendar(r, base)).filter((c): c is DiscoveredCalendar => c !== undefined);
  }

  /**
   * sync-collection REPORT (RFC 6578 section 3.2) from `token` ('' for everything). Throws `CalDavError`
   * with the status when the token is refused (Radicale 403, Xandikos 500, RFC 6578 section 3.7).
   */
  async syncCollection(url: string, token: string): Promise<SyncCollectionResult> {
    const body = buildXml(
      el(NS.DAV, 'sync-collection', [el(NS.DAV, 'sync-token', [token]), el(NS.DAV, 'sync-level', ['1']), el(NS.DAV, 'prop', [el(NS.DAV, 'getetag')])]),
    );
    const { responses, base, syncToken } = await this.dav('REPORT', url, body, undefined);
    // The new token is a child of the multistatus itself (RFC 6578 section 6.4), also when nothing changed.
    if (!syncToken) throw new CalDavError('BAD_RESPONSE', `${new URL(url).host} answered sync-collection without a sync-token`);
    const own = new URL(url).href;
    const members = responses.filter((r) => new URL(r.href, base).href !== own);
    return {
      changed: membersOf(url, members.filter(succeeded), base),
      removed: members.filter((r) => r.status === 404).map((r) => new URL(r.href, base).href),
      token: syncToken,
    };
  }

  /** Lists every member with its etag (PROPFIND Depth 1): for servers without sync-collection. */
  async listMembers(url: string): Promise<Member[]> {
    const { responses, base } = await this.dav('PROPFIND', url, propfindBody([el(NS.DAV, 'getetag'), el(NS.DAV, 'resourcetype')]), '1');
    const own = new URL(url).href;
    return membersOf(url, responses.filter((r) => succeeded(r) && new URL(r.href, base).href !== own), base);
  }

  /** The collection's getctag (a change counter, calendarserver.org); null when the server has none. */
  async getCtag(url: string): Promise<string | null> {
    const { prop } = await this.propfindOne(url, [el(NS.CS, 'getctag')]);
    return textOf(prop(NS.CS, 'getctag')) ?? null;
  }

  /** Fetches the given objects in one calendar-multiget REPORT (RFC 4791 section 7.9). */
  async multiget(url: string, hrefs: string[]): Promise<CalendarObject[]> {
    if (hrefs.length === 0) return [];
    const body = buildXml(el(NS.CALDAV, 'calendar-multiget', [objectProps(), ...hrefs.map((h) => el(NS.DAV, 'href', [new URL(h).pathname]))]));
    return this.objects(await this.dav('REPORT', url, body, '1'));
  }

  /**
   * Fetches every event of a collection in one calendar-query REPORT. iCloud rejects a query that does
   * not filter `VCALENDAR > VEVENT` (CALDAV-FACTS.md).
   */
  async fetchAll(url: string): Promise<CalendarObject[]> {
    const filter = el(NS.CALDAV, 'filter', [el(NS.CALDAV, 'comp-filter', [el(NS.CALDAV, 'comp-filter', [], { name: 'VEVENT' })], { name: 'VCALENDAR' })]);
    return this.objects(await this.dav('REPORT', url, buildXml(el(NS.CALDAV, 'calendar-query', [objectProps(), filter])), '1'));
  }

  private objects({ responses, base }: { responses: DavResponse[]; base: string }): CalendarObject[] {
    return responses.flatMap((r) => {
      const data = succeeded(r) ? textOf(findProp(r, NS.CALDAV, 'calendar-data')) : undefined;
      return data === undefined ? [] : [{ ...toMember(r, base), data }];
    });
  }

  /**
   * A plain request with the account's credentials (counted like every other), for object reads and
   * writes. Returns the response whatever its status; throws `CalDavError` on network failure only.
   */
  request(url: string, init: RequestInit): Promise<Response> {
    return this.fetch(url, init);
  }

  /** PROPFIND Depth 0; returns a lookup of the properties of the first successful response and the URL it came from. */
  private async propfindOne(url: string, props: XmlNode[]): Promise<{ prop: (ns: string, name: string) => ReturnType<typeof findProp>; base: string }> {
    const { responses, base } = await this.dav('PROPFIND', url, propfindBody(props), '0');
    const own = responses.find(succeeded) ?? responses[0];
    return { prop: (ns, name) => (own ? findProp(own, ns, name) : undefined), base };
  }

  /**
   * One WebDAV request; returns the multistatus responses, its sync token and the URL hrefs are relative
   * to. Throws `CalDavError` for an HTTP error status, an answer that is not a multistatus or is larger
   * than `MAX_ANSWER_BYTES` (BAD_RESPONSE), or a body that broke off (UNAVAILABLE).
   */
  private async dav(method: 'PROPFIND' | 'REPORT', url: string, body: string, depth: '0' | '1' | undefined): Promise<{ responses: DavResponse[]; base: string; syncToken: string | null }> {
    const response = await this.fetch(url, { method, headers: { 'Content-Type': 'application/xml; charset=utf-8', ...(depth ? { Depth: depth } : {}) }, body });
    const base = response.url || url;
    if (!response.ok) {
      // The error body is not read: let the connection go rather than download an error page.
      await response.body?.cancel().catch(() => undefined);
      throw errorForStatus(response.status, base, response.headers.get('retry-after'));
    }
    const { responses, syncToken } = await readMultistatus(response.body, { maxBytes: MAX_ANSWER_BYTES, host: new URL(base).host });
    return { responses, base, syncToken };
  }
}

/** A PROPFIND body asking for `props` (RFC 4918 section 9.1). */
function propfindBody(props: XmlNode[]): string {
  return buildXml(el(NS.DAV, 'propfind', [el(NS.DAV, 'prop', props)]));
}

/** The properties a calendar object is fetched with: etag and content (RFC 4791 section 9.6). */
function objectProps(): XmlNode {
  return el(NS.DAV, 'prop', [el(NS.DAV, 'getetag'), el(NS.CALDAV, 'calendar-data')]);
}

/**
 * The members of a listing of `collection`, refused as a whole when any of them is not a member with an
 * etag: a garbled or cut answer that parsed as a short listing would otherwise read as mass deletions.
 */
function membersOf(collection: string, responses: DavResponse[], base: string): Member[] {
  const members = responses.map((r) => toMember(r, base));
  const path = new URL(collection).pathname;
  const stray = members.find((m) => !m.etag || !new URL(m.href).pathname.startsWith(path));
  if (stray) throw new CalDavError('BAD_RESPONSE', `${new URL(collection).host} listed ${stray.href} ${stray.etag ? 'outside the calendar' : 'without an etag'}: the listing was not used`);
  return members;
}

function toMember(r: DavResponse, base: string): Member {
  return { href: new URL(r.href, base).href, etag: textOf(findProp(r, NS.DAV, 'getetag')) ?? '' };
}
