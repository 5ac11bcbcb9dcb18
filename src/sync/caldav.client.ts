import { propfind, type DAVDepth, type DAVResponse } from 'tsdav';
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
    const root = await this.propfindOne(this.options.serverUrl, { 'd:current-user-principal': {} }, '0');
    const principal = hrefOf(root.props.currentUserPrincipal);
    if (!principal) throw new CalDavError('BAD_RESPONSE', 'the server did not name a current-user-principal');
    const principalUrl = new URL(principal, root.base).href;
    const home = await this.propfindOne(principalUrl, { 'c:calendar-home-set': {} }, '0');
    const homeHref = hrefOf(home.props.calendarHomeSet);
    if (!homeHref) throw new CalDavError('BAD_RESPONSE', 'the principal has no calendar-home-set');
    const homeUrl = new URL(homeHref, home.base).href;
    return { principalUrl, homeUrl, calendars: await this.listCalendars(homeUrl) };
  }

  /** Lists the VEVENT calendars directly under `homeUrl` (Depth 1). */
  async listCalendars(homeUrl: string): Promise<DiscoveredCalendar[]> {
    const { responses, base } = await this.propfind(
      homeUrl,
      {
        'd:resourcetype': {},
        'd:displayname': {},
        'd:current-user-privilege-set': {},
        'd:sync-token': {},
        'c:supported-calendar-component-set': {},
        'ca:calendar-color': {},
        'cs:getctag': {},
      },
      '1',
    );
    return responses.map((r) => toCalendar(r, base)).filter((c): c is DiscoveredCalendar => c !== undefined);
  }

  private async propfindOne(url: string, props: Props, depth: DAVDepth): Promise<{ props: Props; base: string }> {
    const { responses, base } = await this.propfind(url, props, depth);
    const own = responses.find((r) => r.ok && r.props) ?? responses[0];
    return { props: (own?.props ?? {}) as Props, base };
  }

  /** One PROPFIND; returns the multistatus responses and the URL their hrefs are relative to. */
  private async propfind(url: string, props: Props, depth: DAVDepth): Promise<{ responses: DAVResponse[]; base: string }> {
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
      responses = await propfind({ url, props, depth, fetch: fetchOnce as typeof fetch });
    } catch (e) {
      if (e instanceof CalDavError) throw e;
      // The body broke off mid-read (connection reset, bad encoding): as transient as a failed connect.
      throw new CalDavError('UNAVAILABLE', `the connection to ${new URL(base).host} broke off while reading its answer`);
    }
    if (failed) throw errorForStatus(failed.status, base, failed.headers.get('retry-after'));
    if (responses.some((r) => r.props === undefined && r.raw !== undefined)) {
      throw new CalDavError('BAD_RESPONSE', `${new URL(base).host} answered PROPFIND with something that is not a WebDAV multistatus`);
    }
    return { responses, base };
  }
}
