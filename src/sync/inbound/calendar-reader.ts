import type { CalDavClient, CalendarObject } from '../caldav/caldav.client';
import { CalDavError } from '../caldav/caldav.errors';
import type { BusyContext } from '../ical/calendar-object';
import type { IcalReader } from '../ical/reader.pool';
import type { ObjectReading } from '../ical/reader.worker';
import { looksLikeFullListing, planFetch, type FetchedObject, type Listing, type StoredObject } from './inbound.planner';

/** What one calendar looks like remotely since the last sync, with the changed objects fetched (not yet read). */
export interface CalendarReading {
  listing: Listing;
  objects: CalendarObject[];
  /** The token to store after applying (null: the server has no sync-collection; ctag mode). */
  token: string | null;
  ctag: string | null;
  warnings: string[];
}

/** A calendar gets a full listing at least this often, whatever its token says. */
export const FULL_SYNC_EVERY_MS = 24 * 3600 * 1000;

/** Above this many changed objects, one calendar-query is cheaper than a multiget (Xandikos: 2.1 s per 500). */
const FETCH_ALL_ABOVE = 50;

/**
 * Lists what changed in a calendar and fetches it, at the fewest requests: one sync-collection when
 * nothing changed, one more (multiget, or calendar-query for many) when something did. A refused token
 * (Radicale 403, Xandikos 500) or a full listing posing as incremental (iCloud) leads to a full listing.
 * Servers without sync-collection fall back to getctag and an etag listing. Once a day the listing is full anyway.
 * The objects come back as text: `readObjects` parses them. Throws `CalDavError` for auth failures and unavailability.
 */
export async function readCalendar(
  client: CalDavClient,
  calendar: { href: string; syncToken: string | null; ctag: string | null; lastFullSyncAt: Date | null },
  stored: ReadonlyMap<string, StoredObject>,
): Promise<CalendarReading> {
  const warnings: string[] = [];
  let listing: Listing | undefined;
  let token: string | null = null;
  let ctag = calendar.ctag;

  const fullDue = !calendar.lastFullSyncAt || Date.now() - calendar.lastFullSyncAt.getTime() > FULL_SYNC_EVERY_MS;
  if (calendar.syncToken && !fullDue) {
    try {
      const result = await client.syncCollection(calendar.href, calendar.syncToken);
      if (!looksLikeFullListing(stored, result.changed)) {
        listing = { kind: 'incremental', changed: result.changed, removed: result.removed };
        token = result.token;
      }
    } catch (e) {
      if (e instanceof CalDavError && e.failure === 'AUTH') throw e;
      warnings.push(`the sync token of ${calendar.href} was refused (${(e as Error).message}): full resync`);
    }
  } else if (!calendar.syncToken && calendar.ctag) {
    // ctag mode (the server has no sync-collection): one request tells whether anything changed at all.
    ctag = await client.getCtag(calendar.href);
    if (ctag === calendar.ctag && !fullDue) listing = { kind: 'incremental', changed: [], removed: [] };
    else listing = { kind: 'full', members: await client.listMembers(calendar.href) };
  }

  if (!listing) {
    const full = await fullListing(client, calendar.href);
    listing = { kind: 'full', members: full.members };
    token = full.token;
    if (!full.token) ctag = await client.getCtag(calendar.href);
  }

  const objects = await fetchObjects(client, calendar.href, planFetch(stored, listing));
  return { listing, objects, token, ctag, warnings };
}

/** Parses, expands and hashes fetched objects off the event loop (`reader`): the fetched objects the planner takes, by href. */
export async function readObjects(reader: IcalReader, objects: CalendarObject[], ctx: BusyContext): Promise<Map<string, FetchedObject>> {
  const readings = await reader.readAll(objects.map((o) => o.data), ctx);
  return new Map(objects.map((o, i) => [o.href, toFetched(o, readings[i])] as const));
}

async function fullListing(client: CalDavClient, href: string): Promise<{ members: { href: string; etag: string }[]; token: string | null }> {
  try {
    const result = await client.syncCollection(href, '');
    return { members: result.changed, token: result.token };
  } catch (e) {
    if (e instanceof CalDavError && e.failure !== 'BAD_RESPONSE') throw e;
    return { members: await client.listMembers(href), token: null };
  }
}

async function fetchObjects(client: CalDavClient, href: string, wanted: string[]): Promise<CalendarObject[]> {
  if (wanted.length === 0) return [];
  if (wanted.length <= FETCH_ALL_ABOVE) return client.multiget(href, wanted);
  const set = new Set(wanted);
  return (await client.fetchAll(href)).filter((o) => set.has(o.href));
}

/** A fetched object as the planner sees it: parsed, or malformed with the reason. */
function toFetched(object: CalendarObject, reading: ObjectReading): FetchedObject {
  if ('malformed' in reading) return { href: object.href, etag: object.etag, malformed: reading.malformed, label: labelOf(object) };
  return { href: object.href, etag: object.etag, data: object.data, ...reading };
}

/**
 * How the user recognises an object that could not be read: its SUMMARY when a plain look at the first
 * lines finds one (no parser: the object is broken), and its file name.
 */
export function labelOf(object: { href: string; data: string }): string {
  const file = decodeURIComponent(new URL(object.href).pathname.split('/').filter(Boolean).pop() ?? object.href);
  const summary = /^SUMMARY[^:\r\n]*:([^\r\n]{1,80})/m.exec(typeof object.data === 'string' ? object.data.slice(0, 65536) : '')?.[1]?.trim();
  return summary ? `"${summary.replace(/\\([,;\\])/g, '$1')}" (${file})` : file;
}
