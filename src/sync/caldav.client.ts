import { davRequest, type DAVDepth, type DAVResponse } from 'tsdav';
import { CalDavError, errorForStatus } from './caldav.errors';
import { createDavFetch, type DavFetch } from './dav-fetch';

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
}

type Props = Record<string, unknown>;

const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Text of an href-valued property (`<x><href>…</href></x>`), as xml-js compact output gives it. */
function hrefOf(prop: unknown): string | undefined {
  const href = (prop as { href?: unknown } | undefined)?.href;
  const first = asArray(href)[0];
  return first === undefined ? undefined : String(typeof first === 'object' ? (first as { _text?: unknown })._text : first);
}

/** Apple writes `#RRGGBBAA`; front ends expect `#RRGGBB`. */
function normaliseColor(value: unknown): string | null {
  if (typeof value !== 'string' || !value.startsWith('#')) return null;
  return /^#[0-9a-f]{8}$/i.test(value) ? value.slice(0, 7) : value;
}

const WRITE_PRIVILEGES = ['all', 'write', 'writeContent', 'bind'];

/**
 * Which collections of a home are calendars for this product: resourcetype `calendar` with VEVENT in
 * `supported-calendar-component-set` (absent means every type, RFC 4791 section 5.2.3). Inbox, outbox,
 * notification collections and VTODO lists (Reminders) are left out.
 */
export function toCalendar(response: DAVResponse, base: string): DiscoveredCalendar | undefined {
  const props = (response.props ?? {}) as Props;
  const types = (props.resourcetype ?? {}) as Props;
  if (!('calendar' in types)) return undefined;
  const comps = asArray((props.supportedCalendarComponentSet as Props | undefined)?.comp as Props | Props[] | undefined);
  const names = comps.map((c) => String((c._attributes as Props | undefined)?.name).toUpperCase());
  if (comps.length > 0 && !names.includes('VEVENT')) return undefined;
  const href = new URL(String(response.href), base).href;
  const privileges = asArray((props.currentUserPrivilegeSet as Props | undefined)?.privilege as Props | Props[] | undefined);
  const granted = privileges.flatMap((p) => Object.keys(p));
  // No privilege set reported: assume writable and let the first write tell (412/403 are handled there).
  const writable = !('subscribed' in types) && (privileges.length === 0 || granted.some((p) => WRITE_PRIVILEGES.includes(p)));
  const name = props.displayname === undefined || props.displayname === '' ? decodeURIComponent(href.split('/').filter(Boolean).pop() ?? href) : String(props.displayname);
  return {
    href,
    name,
    color: normaliseColor(props.calendarColor),
    writable,
    ctag: props.getctag === undefined ? null : String(props.getctag),
    syncToken: props.syncToken === undefined ? null : String(props.syncToken),
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
    const root = await this.propfindOne(this.options.serverUrl, '<d:current-user-principal/>');
    const principal = hrefOf(root.props.currentUserPrincipal);
    if (!principal) throw new CalDavError('BAD_RESPONSE', 'the server did not name a current-user-principal');
    const principalUrl = new URL(principal, root.base).href;
    const home = await this.propfindOne(principalUrl, '<c:calendar-home-set/>');
    const homeHref = hrefOf(home.props.calendarHomeSet);
    if (!homeHref) throw new CalDavError('BAD_RESPONSE', 'the principal has no calendar-home-set');
    const homeUrl = new URL(homeHref, home.base).href;
    return { principalUrl, homeUrl, calendars: await this.listCalendars(homeUrl) };
  }

  /** Lists the VEVENT calendars directly under `homeUrl` (Depth 1). */
  async listCalendars(homeUrl: string): Promise<DiscoveredCalendar[]> {
    const { responses, base } = await this.dav(
      'PROPFIND',
      homeUrl,
      propfindBody(
        '<d:resourcetype/><d:displayname/><d:current-user-privilege-set/><d:sync-token/>' +
          '<c:supported-calendar-component-set/><a:calendar-color/><cs:getctag/>',
      ),
      '1',
    );
    return responses.map((r) => toCalendar(r, base)).filter((c): c is DiscoveredCalendar => c !== undefined);
  }

  /**
   * sync-collection REPORT (RFC 6578 section 3.2) from `token` ('' for everything). Throws `CalDavError`
   * with the status when the token is refused (Radicale 403, Xandikos 500, RFC 6578 section 3.7).
   */
  async syncCollection(url: string, token: string): Promise<SyncCollectionResult> {
    const body =
      `<?xml version="1.0" encoding="utf-8"?><d:sync-collection xmlns:d="DAV:"><d:sync-token>${escapeXml(token)}</d:sync-token>` +
      `<d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>`;
    const { responses, base, raw } = await this.dav('REPORT', url, body, undefined);
    const newToken = (raw as { multistatus?: { syncToken?: unknown } } | undefined)?.multistatus?.syncToken;
    if (newToken === undefined) throw new CalDavError('BAD_RESPONSE', `${new URL(url).host} answered sync-collection without a sync-token`);
    const own = new URL(url).href;
    const members = responses.filter((r) => r.href !== undefined && new URL(String(r.href), base).href !== own);
    return {
      changed: membersOf(url, members.filter((r) => r.ok), base),
      removed: members.filter((r) => r.status === 404).map((r) => new URL(String(r.href), base).href),
      token: String(newToken),
    };
  }

  /** Lists every member with its etag (PROPFIND Depth 1): for servers without sync-collection. */
  async listMembers(url: string): Promise<Member[]> {
    const { responses, base } = await this.dav('PROPFIND', url, propfindBody('<d:getetag/><d:resourcetype/>'), '1');
    const own = new URL(url).href;
    return membersOf(url, responses.filter((r) => r.ok && new URL(String(r.href), base).href !== own), base);
  }

  /** The collection's getctag (a change counter, calendarserver.org); null when the server has none. */
  async getCtag(url: string): Promise<string | null> {
    const { props } = await this.propfindOne(url, '<cs:getctag/>');
    return props.getctag === undefined ? null : String(props.getctag);
  }

  /** Fetches the given objects in one calendar-multiget REPORT (RFC 4791 section 7.9). */
  async multiget(url: string, hrefs: string[]): Promise<CalendarObject[]> {
    if (hrefs.length === 0) return [];
    const list = hrefs.map((h) => `<d:href>${escapeXml(new URL(h).pathname)}</d:href>`).join('');
    const body =
      `<?xml version="1.0" encoding="utf-8"?><c:calendar-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">` +
      `<d:prop><d:getetag/><c:calendar-data/></d:prop>${list}</c:calendar-multiget>`;
    return this.objects(await this.dav('REPORT', url, body, '1'));
  }

  /**
   * Fetches every event of a collection in one calendar-query REPORT. iCloud rejects a query that does
   * not filter `VCALENDAR > VEVENT` (CALDAV-FACTS.md).
   */
  async fetchAll(url: string): Promise<CalendarObject[]> {
    const body =
      `<?xml version="1.0" encoding="utf-8"?><c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">` +
      `<d:prop><d:getetag/><c:calendar-data/></d:prop><c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT"/>` +
      `</c:comp-filter></c:filter></c:calendar-query>`;
    return this.objects(await this.dav('REPORT', url, body, '1'));
  }

  private objects({ responses, base }: { responses: DAVResponse[]; base: string }): CalendarObject[] {
    return responses
      .filter((r) => r.ok && r.props?.calendarData !== undefined)
      .map((r) => ({ ...toMember(r, base), data: textOf(r.props!.calendarData) }));
  }

  /**
   * A plain request with the account's credentials (counted like every other), for object reads and
   * writes. Returns the response whatever its status; throws `CalDavError` on network failure only.
   */
  request(url: string, init: RequestInit): Promise<Response> {
    return this.fetch(url, init);
  }

  private async propfindOne(url: string, props: string): Promise<{ props: Props; base: string }> {
    const { responses, base } = await this.dav('PROPFIND', url, propfindBody(props), '0');
    const own = responses.find((r) => r.ok && r.props) ?? responses[0];
    return { props: (own?.props ?? {}) as Props, base };
  }

  /**
   * One WebDAV request; returns the multistatus responses, the parsed document and the URL hrefs are
   * relative to. Throws `CalDavError` for an HTTP error status or an answer that is not a multistatus.
   */
  private async dav(method: 'PROPFIND' | 'REPORT', url: string, body: string, depth: DAVDepth | undefined): Promise<{ responses: DAVResponse[]; base: string; raw: unknown }> {
    let base = url;
    let failed: Response | undefined;
    const fetchOnce: DavFetch = async (input, init) => {
      const response = await this.fetch(input, init);
      base = response.url || base;
      if (!response.ok) failed = response;
      return response;
    };
    let responses: DAVResponse[];
    try {
      responses = await davRequest({
        url,
        init: { method, headers: { 'Content-Type': 'application/xml; charset=utf-8', ...(depth ? { Depth: depth } : {}) }, body },
        convertIncoming: false,
        fetch: fetchOnce as typeof fetch,
      });
    } catch (e) {
      if (e instanceof CalDavError) throw e;
      // The body broke off mid-read (connection reset, bad encoding): as transient as a failed connect.
      throw new CalDavError('UNAVAILABLE', `the connection to ${new URL(base).host} broke off while reading its answer`);
    }
    if (failed) throw errorForStatus(failed.status, base, failed.headers.get('retry-after'));
    // tsdav gives an empty multistatus as one entry without href, and a non-multistatus answer as `raw` text.
    const multistatus = responses.every((r) => r.href !== undefined || (r.raw as { multistatus?: unknown } | undefined)?.multistatus !== undefined);
    if (!multistatus) throw new CalDavError('BAD_RESPONSE', `${new URL(base).host} answered ${method} with something that is not a WebDAV multistatus`);
    return { responses: responses.filter((r) => r.href !== undefined), base, raw: responses[0]?.raw };
  }
}

function propfindBody(props: string): string {
  return (
    `<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" ` +
    `xmlns:cs="http://calendarserver.org/ns/" xmlns:a="http://apple.com/ns/ical/"><d:prop>${props}</d:prop></d:propfind>`
  );
}

function escapeXml(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Text content as xml-js gives it: a string, or `{ _text }` / `{ _cdata }`. */
function textOf(value: unknown): string {
  if (typeof value === 'object' && value !== null) {
    const v = value as { _text?: unknown; _cdata?: unknown };
    return String(v._cdata ?? v._text ?? '');
  }
  return String(value ?? '');
}

/**
 * The members of a listing of `collection`, refused as a whole when any of them is not a member with an
 * etag: a garbled or cut answer that parsed as a short listing would otherwise read as mass deletions.
 */
function membersOf(collection: string, responses: DAVResponse[], base: string): Member[] {
  const members = responses.map((r) => toMember(r, base));
  const path = new URL(collection).pathname;
  const stray = members.find((m) => !m.etag || !new URL(m.href).pathname.startsWith(path));
  if (stray) throw new CalDavError('BAD_RESPONSE', `${new URL(collection).host} listed ${stray.href} ${stray.etag ? 'outside the calendar' : 'without an etag'}: the listing was not used`);
  return members;
}

function toMember(r: DAVResponse, base: string): Member {
  return { href: new URL(String(r.href), base).href, etag: textOf(r.props?.getetag) };
}
