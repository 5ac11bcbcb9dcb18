import ICAL from 'ical.js';
import { tzlib_get_ical_block, tzlib_get_timezones } from 'timezones-ical-library';
import { WINDOWS_TO_IANA_MAP } from 'windows-iana';
import { instantOfWallTime, wallMs } from './local-time';

let registered = false;
/** IANA names timezones-ical-library has a VTIMEZONE for; Windows names to their IANA zone. Read once. */
let ianaNames: Set<string> | undefined;
let windowsNames: Map<string, string> | undefined;

/**
 * Registers the zone `tzid` with ical.js if it is an IANA name (the VTIMEZONE from timezones-ical-library)
 * or a Windows name Outlook writes ("W. Europe Standard Time", as an alias of its IANA zone); otherwise
 * leaves it unknown.
 */
function registerZone(tzid: string, has: (tzid: string) => boolean): void {
  ianaNames ??= new Set(tzlib_get_timezones() as string[]);
  if (ianaNames.has(tzid)) {
    const block = tzlib_get_ical_block(tzid)[0];
    const component = block ? new ICAL.Component(ICAL.parse(`BEGIN:VCALENDAR\r\n${block}\r\nEND:VCALENDAR`)).getFirstSubcomponent('vtimezone') : null;
    if (component) ICAL.TimezoneService.register(new ICAL.Timezone(component), tzid);
    return;
  }
  // Territory "001" is CLDR's primary IANA zone for a Windows name.
  windowsNames ??= new Map(WINDOWS_TO_IANA_MAP.filter((w) => w.territory === '001').flatMap((w) => (w.iana.some((z) => ianaNames!.has(z)) ? [[w.windowsName, w.iana.find((z) => ianaNames!.has(z))!]] : [])));
  const target = windowsNames.get(tzid);
  if (!target) return;
  if (!has(target)) registerZone(target, has);
  if (has(target)) ICAL.TimezoneService.register(ICAL.TimezoneService.get(target), tzid);
}

/**
 * Makes every IANA zone (VTIMEZONEs from timezones-ical-library) and the Windows zone names Outlook writes
 * known to ical.js, each registered the first time ical.js or this server asks for it. Without this, a
 * TZID that the VCALENDAR does not define silently becomes floating time (CALDAV-FACTS.md, ical.js).
 * Registering all 600 zones up front cost every worker thread half a second of CPU when it started.
 * Idempotent.
 */
export function registerTimezones(): void {
  if (registered) return;
  const service = ICAL.TimezoneService;
  const has = service.has.bind(service);
  const get = service.get.bind(service);
  const ensure = (tzid: string) => {
    if (typeof tzid === 'string' && tzid && !has(tzid)) registerZone(tzid, has);
  };
  service.has = (tzid: string) => (ensure(tzid), has(tzid));
  service.get = (tzid: string) => (ensure(tzid), get(tzid));
  registered = true;
}

/** Returns the ical.js zone for an IANA or Windows name, or undefined when none is known. */
export function zoneFor(tzid: string): ICAL.Timezone | undefined {
  registerTimezones();
  return ICAL.TimezoneService.has(tzid) ? ICAL.TimezoneService.get(tzid) : undefined;
}

/** ical.js zones made from VTIMEZONEs of calendar objects, by TZID and content (see `shareZones`). */
const definedZones = new Map<string, ICAL.Timezone>();
const MAX_DEFINED_ZONES = 256;
/** Longer definitions (Outlook's from 1601 are about 1 KB) are not kept: a crafted one is read on its own. */
const MAX_SHARED_DEFINITION = 16384;

/**
 * Gives the VTIMEZONEs of a parsed VCALENDAR the ical.js zones made for the same definitions in earlier
 * objects. ical.js expands a zone's changes from its first DTSTART the first time a time is converted,
 * and does it again for every object, since each object carries its own copy of the VTIMEZONE: that was
 * 70% of the CPU of an import of 4,000 Apple objects (1.1 ms per object). A zone depends only on its
 * definition, so objects with the same text share one, with its changes expanded once.
 */
export function shareZones(root: ICAL.Component): void {
  const cache = (root as unknown as { _timezoneCache?: Map<string, ICAL.Timezone> })._timezoneCache;
  if (!cache) return;
  for (const component of root.getAllSubcomponents('vtimezone')) {
    const tzid = component.getFirstPropertyValue('tzid');
    if (typeof tzid !== 'string' || cache.has(tzid)) continue;
    const key = JSON.stringify(component.jCal);
    if (key.length > MAX_SHARED_DEFINITION) continue;
    let zone = definedZones.get(key);
    if (!zone) {
      if (definedZones.size >= MAX_DEFINED_ZONES) definedZones.clear();
      zone = new ICAL.Timezone({ component, tzid });
      definedZones.set(key, zone);
    }
    cache.set(tzid, zone);
  }
}

/** Zones `isTimeZone` has accepted. */
const KNOWN_ZONES = new Set<string>();

/**
 * True when `zone` is a time zone this server can both compute with (`Intl`, for slots and local times) and
 * write to iCloud (a VTIMEZONE from the zone database ical.js uses): the one test every input zone passes.
 */
export function isTimeZone(zone: string): boolean {
  if (zone === 'UTC' || KNOWN_ZONES.has(zone)) return true;
  if (!zone || !zoneFor(zone)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
  } catch {
    return false;
  }
  // Only zones that exist are remembered (a few hundred at most): building a formatter per request cost 0.3 ms.
  KNOWN_ZONES.add(zone);
  return true;
}

/** Returns the ical.js zone for `zone`. Throws an `Error` naming it when the server does not know it (never UTC by default). */
export function requireZone(zone: string): ICAL.Timezone {
  if (zone === 'UTC') return ICAL.Timezone.utcTimezone;
  const found = zoneFor(zone);
  if (!found) throw new Error(`unknown time zone "${zone}"`);
  return found;
}

/**
 * The UTC offset changes of one ical.js zone, as instants. ical.js keeps each change of a VTIMEZONE as the
 * UTC time it happens at (`Timezone.changes`, sorted), expanded from the VTIMEZONE's first DTSTART (1601 in
 * Outlook's) to a few years past the latest one asked for. Each change's instant is computed the first time
 * a lookup needs it: a search touches a dozen of them, not all.
 */
interface Transitions {
  changes: IcalChange[];
  /** Length of `changes` when read: ical.js appends (and sorts again) when it expands the zone to later years. */
  read: number;
  /** Instant (ms) of each change, NaN until computed. */
  at: Float64Array;
  /** Instants before this one are covered by `changes` (the start of the year after the last one ensured). */
  coveredUntil: number;
}

interface IcalChange {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** Offsets in seconds: in force from this change on, and before it (TZOFFSETTO, TZOFFSETFROM). */
  utcOffset: number;
  prevUtcOffset: number;
}

const transitions = new WeakMap<ICAL.Timezone, Transitions>();

function transitionsOf(zone: ICAL.Timezone, utcMs: number): Transitions {
  let t = transitions.get(zone);
  if (t && utcMs < t.coveredUntil && t.read === t.changes.length) return t;
  const year = new Date(utcMs).getUTCFullYear();
  zone._ensureCoverage(year + 1);
  const changes = zone.changes as IcalChange[];
  if (!t || t.changes !== changes || t.read !== changes.length) {
    t = { changes, read: changes.length, at: new Float64Array(changes.length).fill(NaN), coveredUntil: -Infinity };
    transitions.set(zone, t);
  }
  t.coveredUntil = Math.max(t.coveredUntil, wallMs(year + 1, 1, 1));
  return t;
}

function changeAt(t: Transitions, i: number): number {
  let at = t.at[i];
  if (Number.isNaN(at)) {
    const c = t.changes[i];
    at = t.at[i] = wallMs(c.year, c.month, c.day, c.hour, c.minute, c.second);
  }
  return at;
}

/**
 * Offset (ms) of an ical.js zone at the instant `utcMs`: the one in force from the last change at or before
 * it; before the first change, that change's TZOFFSETFROM (ical.js's own lookup says UTC there, which puts a
 * 1960 Berlin time an hour off); 0 for a VTIMEZONE without any change.
 */
function offsetAt(zone: ICAL.Timezone, utcMs: number): number {
  const t = transitionsOf(zone, utcMs);
  if (t.read === 0) return 0;
  let lo = 0;
  let hi = t.read;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (changeAt(t, mid) <= utcMs) lo = mid + 1;
    else hi = mid;
  }
  return (lo === 0 ? t.changes[0].prevUtcOffset : t.changes[lo - 1].utcOffset) * 1000;
}

/** A zone without transitions to look up: UTC, floating, or one ical.js made from a TZID alone. */
const fixedAtZero = (zone: ICAL.Timezone) => zone === ICAL.Timezone.utcTimezone || zone === ICAL.Timezone.localTimezone || !zone.component;

/**
 * Returns the instant (ms since 1970) of a local date and time in an ical.js zone (one defined by a VTIMEZONE
 * of the calendar object, or a registered IANA or Windows zone); a DATE (`isDate`) is its midnight. This is
 * where every iCalendar local time becomes an instant, by RFC 5545 section 3.3.5 (`instantOfWallTime`): a time
 * skipped by a change takes the offset from before the gap, a repeated one is its first instant. ical.js's
 * own `toUnixTime` does neither (it reads 02:30 in Berlin's spring gap as 00:30 UTC, and a repeated 02:30 as
 * the second one). UTC and floating zones have offset 0 (read floating times in a zone of your choice).
 * Throws only what ical.js throws while expanding a malformed VTIMEZONE (as its own `toUnixTime` would).
 */
export function instantOf(time: Pick<ICAL.Time, 'year' | 'month' | 'day' | 'hour' | 'minute' | 'second' | 'isDate'>, zone: ICAL.Timezone): number {
  const wall = time.isDate ? wallMs(time.year, time.month, time.day) : wallMs(time.year, time.month, time.day, time.hour, time.minute, time.second);
  if (fixedAtZero(zone)) return wall;
  return instantOfWallTime(wall, (utc) => offsetAt(zone, utc));
}

/**
 * Returns the local time `instant` shows in `zone`, as an ical.js time in that zone (for a DTSTART or DTEND
 * with its TZID), read from the offset in force at that instant. ical.js's `convertToZone` looks the offset up
 * as if the UTC fields were local, which puts instants up to the zone's offset away from a change an hour off
 * (00:30 EDT on the night New York falls back came out as 23:30 the day before). An instant in the second
 * pass of an hour a fall-back change repeats has no local time that RFC 5545 section 3.3.5 reads back as that
 * instant (it reads the first pass): it is returned in UTC, which is exact. Throws as `instantOf` does.
 */
export function timeInZone(instant: Date, zone: ICAL.Timezone): ICAL.Time {
  const utc = ICAL.Time.fromJSDate(instant, true);
  if (fixedAtZero(zone)) return utc;
  const ms = Math.floor(instant.getTime() / 1000) * 1000;
  const wall = new Date(ms + offsetAt(zone, ms));
  const local = ICAL.Time.fromData(
    { year: wall.getUTCFullYear(), month: wall.getUTCMonth() + 1, day: wall.getUTCDate(), hour: wall.getUTCHours(), minute: wall.getUTCMinutes(), second: wall.getUTCSeconds(), isDate: false },
    zone,
  );
  return instantOf(local, zone) === ms ? local : utc;
}
