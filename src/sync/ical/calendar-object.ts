import ICAL from 'ical.js';
import { guardCalendarObject, MalformedCalendarObject } from './guard';

export { MalformedCalendarObject };
import { describeFrequency, EXPANSION_LIMITS, fastForward, neverOccurs, seriesEnd, SUB_DAILY } from './recurrence-bounds';
import { instantOf, registerTimezones, requireZone, shareZones, zoneFor } from './timezones';

/** A half-open UTC interval [start, end). */
export interface Interval {
  start: Date;
  end: Date;
}

/** One event (all VEVENTs of one UID) of a calendar object, with its busy time inside the window. */
export interface ParsedEvent {
  uid: string;
  summary: string | null;
  description: string | null;
  location: string | null;
  /** DTSTART/DTEND of the master (or the only) VEVENT, in UTC; null when it has none. */
  start: Date | null;
  end: Date | null;
  recurring: boolean;
  /** LAST-MODIFIED, else DTSTAMP: when the event was last changed in iCloud (for "later change wins"). */
  lastModified: Date | null;
  busy: Interval[];
  /** What the reader had to assume for this event (a series stored as one block, an unknown zone...), naming it. */
  warnings: string[];
}

export interface BusyContext {
  /** The user's IANA zone: all-day dates and floating times are read in it. */
  timezone: string;
  /** The account's own addresses (lowercase, without "mailto:"): an invitation they declined is not busy. */
  accountAddresses: string[];
  window: Interval;
}

/**
 * UTC instant of an iCalendar time. DATE values are midnights and floating times are wall-clock times,
 * both in the user's zone (RFC 5545 section 3.3.4 and 3.3.5). A TZID that is neither defined in the
 * object nor a known IANA or Windows name is read in the user's zone too, with a warning. Every local
 * time goes through `instantOf`, so a time in a spring-forward gap or a repeated fall-back hour gets the
 * instant RFC 5545 section 3.3.5 gives it, wherever it appears (DTSTART, DTEND, RECURRENCE-ID, occurrences).
 */
function toUtc(time: ICAL.Time, userZone: ICAL.Timezone, warn?: Warn): Date {
  const tzid = time.zone?.tzid;
  // The object's own VTIMEZONE first, then a registered zone of that name (UTC included).
  const zone = tzid === undefined || tzid === 'floating' ? undefined : time.zone?.component ? time.zone : zoneFor(tzid);
  if (!time.isDate && zone) return new Date(instantOf(time, zone));
  // ical.js keeps an unresolved TZID as text and treats the time as floating.
  const unknown = (time as unknown as { timezone?: string }).timezone;
  if (unknown && !time.isDate && warn) warn(`uses the unknown time zone "${unknown}": read in ${userZone.tzid}`);
  return new Date(instantOf(time, userZone));
}

const fmt = (d: Date) => d.toISOString().slice(0, 16).replace('T', ' ') + ' UTC';

function text(component: ICAL.Component, name: string): string | null {
  const value = component.getFirstPropertyValue(name);
  return value === null || value === undefined ? null : String(value);
}

/** Whether an occurrence blocks time: not TRANSPARENT, not CANCELLED, not declined by the account. */
function blocks(component: ICAL.Component, addresses: string[]): boolean {
  if (text(component, 'transp')?.toUpperCase() === 'TRANSPARENT') return false;
  if (text(component, 'status')?.toUpperCase() === 'CANCELLED') return false;
  for (const attendee of component.getAllProperties('attendee')) {
    const address = String(attendee.getFirstValue() ?? '').replace(/^mailto:/i, '').toLowerCase();
    const partstat = String(attendee.getParameter('partstat') ?? '').toUpperCase();
    if (addresses.includes(address) && partstat === 'DECLINED') return false;
  }
  return true;
}

/** Apple's travel time (X-APPLE-TRAVEL-DURATION, e.g. PT30M) blocks the time before the event. */
function travelSeconds(component: ICAL.Component): number {
  const value = text(component, 'x-apple-travel-duration');
  if (!value) return 0;
  try {
    return Math.max(0, ICAL.Duration.fromString(value).toSeconds());
  } catch {
    return 0;
  }
}

/**
 * The busy interval of one occurrence, travel time included. An end before the start (a client bug) is
 * read as the same length from the start, with a warning: dropping it would show the user free. So is an
 * event that spring-forward shrinks to nothing (02:30 to 03:30 on the night 02:00 becomes 03:00: both ends
 * read as 03:30 by RFC 5545 section 3.3.5): it keeps its length on the clock.
 */
function interval(component: ICAL.Component, start: ICAL.Time, end: ICAL.Time, zone: ICAL.Timezone, warn: Warn): Interval {
  const s = toUtc(start, zone, warn);
  let e = toUtc(end, zone, warn);
  const clockMs = end.subtractDate(start).toSeconds() * 1000;
  if (e.getTime() === s.getTime() && clockMs > 0) e = new Date(s.getTime() + clockMs);
  if (e < s) {
    warn(`ends before it starts: counted as busy for ${Math.round((s.getTime() - e.getTime()) / 60000)} minutes from its start`);
    e = new Date(2 * s.getTime() - e.getTime());
  }
  return { start: new Date(s.getTime() - travelSeconds(component) * 1000), end: e };
}

const overlaps = (i: Interval, w: Interval) => i.start < w.end && i.end > w.start && i.end > i.start;

/** Collects the warnings of one event, each naming it. */
type Warn = (what: string) => void;

/**
 * Busy intervals of one UID: the master's occurrences (RRULE, RDATE, EXDATE) except those an override
 * replaces, plus every override at its own time. Overrides are matched by UTC instant, not by string:
 * Apple writes RECURRENCE-ID in UTC while DTSTART has a TZID (CALDAV-FACTS.md), and matching by text
 * would put a moved occurrence at its old time.
 */
function expand(master: ICAL.Component | undefined, overrides: ICAL.Component[], ctx: BusyContext, zone: ICAL.Timezone, warn: Warn): Interval[] {
  const busy: Interval[] = [];
  const replaced = new Set<number>();
  for (const override of overrides) {
    const event = new ICAL.Event(override);
    replaced.add(toUtc(event.recurrenceId, zone).getTime());
    if (!blocks(override, ctx.accountAddresses)) continue;
    const i = interval(override, event.startDate, event.endDate, zone, warn);
    if (overlaps(i, ctx.window)) busy.push(i);
  }
  if (!master) return busy;
  const event = new ICAL.Event(master);
  if (!blocks(master, ctx.accountAddresses)) return busy;
  if (!event.isRecurring()) {
    const i = interval(master, event.startDate, event.endDate, zone, warn);
    return overlaps(i, ctx.window) ? [...busy, i] : busy;
  }
  return [...busy, ...expandSeries(master, event, replaced, ctx, zone, warn)];
}

/**
 * The occurrences of a recurring master inside the window, within `EXPANSION_LIMITS`. Iteration starts
 * shortly before the window (see `fastForward`), not at DTSTART. A sub-daily series, or one with more
 * occurrences than the limits allow, becomes one busy block over its span inside the window.
 */
function expandSeries(master: ICAL.Component, event: ICAL.Event, replaced: Set<number>, ctx: BusyContext, zone: ICAL.Timezone, warn: Warn): Interval[] {
  const rules = master.getAllProperties('rrule').map((p) => p.getFirstValue() as ICAL.Recur);
  const first = interval(master, event.startDate, event.endDate, zone, () => undefined);
  const travelMs = travelSeconds(master) * 1000;
  const durationMs = first.end.getTime() - first.start.getTime() - travelMs;
  const end = seriesEnd(rules, first.start, durationMs);
  const block = (from: Date, why: string): Interval[] => {
    const i = { start: from > ctx.window.start ? from : ctx.window.start, end: end && end < ctx.window.end ? end : ctx.window.end };
    if (!overlaps(i, ctx.window)) return [];
    warn(`${why}: counted as busy from ${fmt(i.start)} to ${fmt(i.end)}`);
    return [i];
  };
  if (rules.every(neverOccurs)) {
    warn('repeats on a date that never occurs: only its first occurrence is counted');
    return overlaps(first, ctx.window) && !replaced.has(first.start.getTime() + travelMs) ? [first] : [];
  }
  // ical.js would search forever for the impossible rule's dates: the series' span is busy instead.
  if (rules.some(neverOccurs)) return block(first.start, 'has a rule that repeats on a date that never occurs');
  const subDaily = rules.find((r) => SUB_DAILY.has(r.freq));
  if (subDaily) return block(first.start, `repeats ${describeFrequency(subDaily)}`);

  // ical.js compares DATE-valued EXDATEs against DATE-TIME occurrences by full value: compare dates here.
  const exdates = new Set(
    master.getAllProperties('exdate').flatMap((p) => p.getValues().filter((v: ICAL.Time) => v.isDate).map((v: ICAL.Time) => v.toString())),
  );
  const before = new Date(ctx.window.start.getTime() - durationMs - travelMs - 86400000);
  const iterator = event.iterator(rules.length === 1 ? fastForward(event.startDate, rules[0], before) : undefined);
  // Every occurrence lasts the same exact time as the first (RFC 5545 section 3.3.10), so one at 01:00 on
  // the night clocks go forward still lasts an hour. Days and weeks are nominal: an all-day event on a DST
  // day lasts 23 h, which the local-time arithmetic of ical.js gives.
  const duration = master.getFirstPropertyValue('duration') as ICAL.Duration | null;
  const exact = !event.startDate.isDate && !(duration && (duration.days || duration.weeks));
  const occurrence = (next: ICAL.Time) => {
    const details = event.getOccurrenceDetails(next);
    return interval(master, details.startDate, details.endDate, zone, () => undefined);
  };
  const busy: Interval[] = [];
  let last: Date | null = null;
  for (let n = 0, next = iterator.next(); next; n++, next = iterator.next()) {
    const start = toUtc(next, zone);
    if (start >= ctx.window.end) return busy;
    if (n >= EXPANSION_LIMITS.iterations) return [...busy, ...block(last ?? first.start, `repeats too many times before ${fmt(ctx.window.start)} to be expanded`)];
    last = start;
    if (replaced.has(start.getTime()) || exdates.has(next.toString().slice(0, 10))) continue;
    const i = exact ? { start: new Date(start.getTime() - travelMs), end: new Date(start.getTime() + durationMs) } : occurrence(next);
    if (!overlaps(i, ctx.window)) continue;
    if (busy.length >= EXPANSION_LIMITS.occurrencesInWindow) return block(busy[0].start, `has more than ${EXPANSION_LIMITS.occurrencesInWindow} occurrences in the sync horizon`);
    busy.push(i);
  }
  return busy;
}

/** Sorted by start, without repeats (two RRULEs may produce the same occurrence). */
function distinct(intervals: Interval[]): Interval[] {
  const sorted = intervals.sort((a, b) => a.start.getTime() - b.start.getTime() || a.end.getTime() - b.end.getTime());
  return sorted.filter((i, n) => n === 0 || i.start.getTime() !== sorted[n - 1].start.getTime() || i.end.getTime() !== sorted[n - 1].end.getTime());
}

function readEvent(uid: string, components: ICAL.Component[], ctx: BusyContext, zone: ICAL.Timezone): ParsedEvent {
  const master = components.find((c) => !c.hasProperty('recurrence-id'));
  const overrides = components.filter((c) => c.hasProperty('recurrence-id'));
  const main = master ?? overrides[0];
  const event = new ICAL.Event(main);
  const summary = text(main, 'summary');
  const warnings = new Set<string>();
  const warn: Warn = (what) => warnings.add(`"${summary ?? uid}" ${what}`);
  const modified = (main.getFirstPropertyValue('last-modified') ?? main.getFirstPropertyValue('dtstamp')) as ICAL.Time | null;
  const busy = distinct(expand(master, overrides, ctx, zone, warn));
  return {
    uid,
    summary,
    description: text(main, 'description'),
    location: text(main, 'location'),
    start: event.startDate ? toUtc(event.startDate, zone) : null,
    end: event.endDate ? toUtc(event.endDate, zone) : null,
    recurring: Boolean(master && event.isRecurring()),
    lastModified: modified ? toUtc(modified, ICAL.Timezone.utcTimezone) : null,
    busy,
    warnings: [...warnings],
  };
}

/**
 * Parses one calendar object (a VCALENDAR resource) into its events, grouped by UID, with busy time
 * inside `ctx.window`. Throws `MalformedCalendarObject` for anything it cannot read (not iCalendar, no
 * VEVENT, over the size or nesting limits of `guardCalendarObject`, or an error inside ical.js), so that
 * the caller skips this object and syncs the rest.
 */
export function parseCalendarObject(ics: string, ctx: BusyContext): ParsedEvent[] {
  guardCalendarObject(ics);
  registerTimezones();
  const zone = requireZone(ctx.timezone);
  try {
    const root = new ICAL.Component(ICAL.parse(ics));
    shareZones(root);
    const byUid = new Map<string, ICAL.Component[]>();
    for (const v of root.getAllSubcomponents('vevent')) {
      const uid = text(v, 'uid') ?? '';
      const same = byUid.get(uid);
      if (same) same.push(v);
      else byUid.set(uid, [v]);
    }
    if (byUid.size === 0) throw new MalformedCalendarObject('no VEVENT in the calendar object');
    return [...byUid].map(([uid, components]) => readEvent(uid, components, ctx, zone));
  } catch (e) {
    if (e instanceof MalformedCalendarObject) throw e;
    throw new MalformedCalendarObject(`not valid iCalendar: ${(e as Error).message}`);
  }
}
