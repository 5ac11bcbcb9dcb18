import ICAL from 'ical.js';
import { registerTimezones, zoneFor } from './timezones';

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
}

export interface BusyContext {
  /** The user's IANA zone: all-day dates and floating times are read in it. */
  timezone: string;
  /** The account's own addresses (lowercase, without "mailto:"): an invitation they declined is not busy. */
  accountAddresses: string[];
  window: Interval;
}

/** Upper bound on iterations per recurring series, so a crafted RRULE cannot stall a sync. */
const MAX_ITERATIONS = 50000;

/** Thrown for a calendar object that cannot be used: the sync skips it with a warning naming it. */
export class MalformedCalendarObject extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedCalendarObject';
  }
}

/**
 * UTC instant of an iCalendar time. DATE values are midnights and floating times are wall-clock times,
 * both in the user's zone (RFC 5545 section 3.3.4 and 3.3.5); an unknown TZID is read the same way.
 */
function toUtc(time: ICAL.Time, userZone: ICAL.Timezone): Date {
  const tzid = time.zone?.tzid;
  const floating = time.isDate || !tzid || tzid === 'floating' || !(tzid === 'UTC' || zoneFor(tzid) || time.zone?.component);
  if (!floating) return new Date(time.toUnixTime() * 1000);
  const local = ICAL.Time.fromData({ year: time.year, month: time.month, day: time.day, hour: time.isDate ? 0 : time.hour, minute: time.isDate ? 0 : time.minute, second: time.isDate ? 0 : time.second, isDate: false }, userZone);
  return new Date(local.toUnixTime() * 1000);
}

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

function interval(component: ICAL.Component, start: ICAL.Time, end: ICAL.Time, zone: ICAL.Timezone): Interval {
  const s = toUtc(start, zone);
  return { start: new Date(s.getTime() - travelSeconds(component) * 1000), end: toUtc(end, zone) };
}

const overlaps = (i: Interval, w: Interval) => i.start < w.end && i.end > w.start && i.end > i.start;

/**
 * Busy intervals of one UID: the master's occurrences (RRULE, RDATE, EXDATE) except those an override
 * replaces, plus every override at its own time. Overrides are matched by UTC instant, not by string:
 * Apple writes RECURRENCE-ID in UTC while DTSTART has a TZID (CALDAV-FACTS.md), and matching by text
 * would put a moved occurrence at its old time.
 */
function expand(master: ICAL.Component | undefined, overrides: ICAL.Component[], ctx: BusyContext, zone: ICAL.Timezone): Interval[] {
  const busy: Interval[] = [];
  const replaced = new Set<number>();
  for (const override of overrides) {
    const event = new ICAL.Event(override);
    replaced.add(toUtc(event.recurrenceId, zone).getTime());
    if (!blocks(override, ctx.accountAddresses)) continue;
    const i = interval(override, event.startDate, event.endDate, zone);
    if (overlaps(i, ctx.window)) busy.push(i);
  }
  if (!master) return busy;
  const event = new ICAL.Event(master);
  if (!blocks(master, ctx.accountAddresses)) return busy;
  if (!event.isRecurring()) {
    const i = interval(master, event.startDate, event.endDate, zone);
    return overlaps(i, ctx.window) ? [...busy, i] : busy;
  }
  // ical.js compares DATE-valued EXDATEs against DATE-TIME occurrences by full value: compare dates here.
  const exdates = new Set(
    master.getAllProperties('exdate').flatMap((p) => p.getValues().filter((v: ICAL.Time) => v.isDate).map((v: ICAL.Time) => v.toString())),
  );
  const iterator = event.iterator();
  for (let n = 0, next = iterator.next(); next && n < MAX_ITERATIONS; n++, next = iterator.next()) {
    const start = toUtc(next, zone);
    if (start >= ctx.window.end) break;
    if (replaced.has(start.getTime()) || exdates.has(next.toString().slice(0, 10))) continue;
    // The occurrence's end is start + duration in local time: an all-day event on a DST day lasts 23 h.
    const details = event.getOccurrenceDetails(next);
    const i = interval(master, details.startDate, details.endDate, zone);
    if (overlaps(i, ctx.window)) busy.push(i);
  }
  return busy;
}

/**
 * Parses one calendar object (a VCALENDAR resource) into its events, grouped by UID, with busy time
 * inside `ctx.window`. Throws `MalformedCalendarObject` when it is not iCalendar or has no VEVENT.
 */
export function parseCalendarObject(ics: string, ctx: BusyContext): ParsedEvent[] {
  registerTimezones();
  const zone = zoneFor(ctx.timezone) ?? ICAL.Timezone.utcTimezone;
  let root: ICAL.Component;
  try {
    root = new ICAL.Component(ICAL.parse(ics));
  } catch (e) {
    throw new MalformedCalendarObject(`not valid iCalendar: ${(e as Error).message}`);
  }
  const vevents = root.getAllSubcomponents('vevent');
  if (vevents.length === 0) throw new MalformedCalendarObject('no VEVENT in the calendar object');
  const byUid = new Map<string, ICAL.Component[]>();
  for (const v of vevents) {
    const uid = text(v, 'uid') ?? '';
    byUid.set(uid, [...(byUid.get(uid) ?? []), v]);
  }
  try {
    return [...byUid].map(([uid, components]) => {
      const master = components.find((c) => !c.hasProperty('recurrence-id'));
      const overrides = components.filter((c) => c.hasProperty('recurrence-id'));
      const main = master ?? overrides[0];
      const event = new ICAL.Event(main);
      const modified = (main.getFirstPropertyValue('last-modified') ?? main.getFirstPropertyValue('dtstamp')) as ICAL.Time | null;
      return {
        uid,
        summary: text(main, 'summary'),
        description: text(main, 'description'),
        location: text(main, 'location'),
        start: event.startDate ? toUtc(event.startDate, zone) : null,
        end: event.endDate ? toUtc(event.endDate, zone) : null,
        recurring: Boolean(master && event.isRecurring()),
        lastModified: modified ? toUtc(modified, ICAL.Timezone.utcTimezone) : null,
        busy: expand(master, overrides, ctx, zone).sort((a, b) => a.start.getTime() - b.start.getTime()),
      };
    });
  } catch (e) {
    throw new MalformedCalendarObject(`cannot read event: ${(e as Error).message}`);
  }
}
