import { instantOfWallTime, type OffsetAt } from '../sync/ical/local-time';
import { TextMemo } from '../text-memo';

/** Wall-clock date in a zone: year, month (1-12), day, ISO weekday (1 = Monday .. 7 = Sunday). */
export interface LocalDate {
  year: number;
  month: number;
  day: number;
  weekday: number;
}

const DAY_MS = 86400000;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Offset of `timeZone` at `utcMs` as the runtime's tz database says (one Intl call: about 18 µs). */
function intlOffset(utcMs: number, timeZone: string): number {
  const p: Record<string, number> = {};
  for (const x of formatter(timeZone).formatToParts(new Date(utcMs))) p[x.type] = +x.value;
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - Math.floor(utcMs / 1000) * 1000;
}

/**
 * The offsets of one zone during one UTC day: `offsets[0]` from the start of the day, `offsets[i]` from
 * `changes[i - 1]` (whole seconds, ascending) on. Almost every day has no change.
 */
interface DayOffsets {
  offsets: number[];
  changes: number[];
}

/** Per zone, per UTC day index: filled on first use with a few Intl calls, then read with arithmetic. */
const zones = new Map<string, Map<number, DayOffsets>>();
/** Bound on the days kept per zone (about 270 years): cleared beyond it. */
const MAX_DAYS_PER_ZONE = 100000;

/** The first whole second in (lo, hi] whose offset differs from `offLo` (lo has `offLo`, hi does not). */
function firstChange(lo: number, hi: number, offLo: number, timeZone: string): number {
  while (hi - lo > 1000) {
    const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
    if (intlOffset(mid, timeZone) === offLo) lo = mid;
    else hi = mid;
  }
  return hi;
}

function dayOffsets(day: number, timeZone: string): DayOffsets {
  const start = day * DAY_MS;
  const last = start + DAY_MS - 1000;
  const offsets = [intlOffset(start, timeZone)];
  const changes: number[] = [];
  const end = intlOffset(last, timeZone);
  // Transitions are whole seconds: find each one where the offset differs from the day's end (A -> B -> C too).
  while (offsets[offsets.length - 1] !== end) {
    const from = changes.length ? changes[changes.length - 1] : start;
    const at = firstChange(from, last, offsets[offsets.length - 1], timeZone);
    changes.push(at);
    offsets.push(intlOffset(at, timeZone));
  }
  return { offsets, changes };
}

/** The day table of the zone used last (requests mostly ask about one zone at a time). */
let lastZone: string | undefined;
let lastDays: Map<number, DayOffsets> | undefined;

function daysOf(timeZone: string): Map<number, DayOffsets> {
  if (timeZone === lastZone) return lastDays!;
  let days = zones.get(timeZone);
  if (!days) {
    days = new Map();
    zones.set(timeZone, days);
  }
  lastZone = timeZone;
  lastDays = days;
  return days;
}

/** Offset of `timeZone` from UTC at the instant `utcMs`, in ms (Europe/Berlin in summer: +7 200 000). */
function offsetAt(utcMs: number, timeZone: string): number {
  const days = daysOf(timeZone);
  const day = Math.floor(utcMs / DAY_MS);
  let d = days.get(day);
  if (!d) {
    if (days.size >= MAX_DAYS_PER_ZONE) days.clear();
    d = dayOffsets(day, timeZone);
    days.set(day, d);
  }
  if (d.changes.length === 0) return d.offsets[0];
  let i = 0;
  while (i < d.changes.length && utcMs >= d.changes[i]) i++;
  return d.offsets[i];
}

/** The wall clock of an instant in a zone, as a Date whose UTC fields are the wall-clock fields (whole seconds). */
function wallClock(utcMs: number, timeZone: string): Date {
  return new Date(Math.floor(utcMs / 1000) * 1000 + offsetAt(utcMs, timeZone));
}

/** The wall-clock date of an instant in a zone. */
export function localDateOf(instant: Date, timeZone: string): LocalDate {
  const w = wallClock(instant.getTime(), timeZone);
  return { year: w.getUTCFullYear(), month: w.getUTCMonth() + 1, day: w.getUTCDate(), weekday: ((w.getUTCDay() + 6) % 7) + 1 };
}

/** Per zone, `offsetAt` bound to it: the form `instantOfWallTime` takes, made once. */
const offsetFunctions = new Map<string, OffsetAt>();

function offsetsOf(timeZone: string): OffsetAt {
  let f = offsetFunctions.get(timeZone);
  if (!f) {
    f = (utcMs) => offsetAt(utcMs, timeZone);
    offsetFunctions.set(timeZone, f);
  }
  return f;
}

/**
 * Returns the instant at which the wall clock in `timeZone` shows the date and `minutes` after midnight, or
 * null when it never does (a wall time skipped by a spring-forward change). A wall time repeated by a
 * fall-back change is its first instant. Same rule as every iCalendar local time (`instantOfWallTime`, RFC
 * 5545 section 3.3.5), from the runtime's tz database, so it never depends on the machine's own zone.
 * Throws a RangeError (from `Intl`) for a zone the runtime does not know: inputs are checked with `isTimeZone`.
 */
export function wallTimeToUtc(date: Pick<LocalDate, 'year' | 'month' | 'day'>, minutes: number, timeZone: string): Date | null {
  const utc = wallMsToUtc(Date.UTC(date.year, date.month - 1, date.day, 0, minutes), timeZone);
  return utc === null ? null : new Date(utc);
}

/**
 * `wallTimeToUtc` on a wall time given as ms (its UTC fields are the wall-clock fields): the instant in ms,
 * or null when the wall time is skipped by a spring-forward change. Throws as `wallTimeToUtc` does.
 */
export function wallMsToUtc(wall: number, timeZone: string): number | null {
  // The common case first, as `instantOfWallTime` takes it (no change within a day: one instant), without
  // the indirection: this runs for every candidate slot.
  const here = offsetAt(wall, timeZone);
  if (offsetAt(wall - DAY_MS, timeZone) === here && offsetAt(wall + DAY_MS, timeZone) === here) return wall - here;
  const utc = instantOfWallTime(wall, offsetsOf(timeZone));
  // RFC 5545 reads a skipped wall time with the offset from before the gap, an instant whose own wall clock
  // shows a later time (02:30 -> 03:30): a slot grid does not offer a start the clock never shows.
  return utc + offsetAt(utc, timeZone) === wall ? utc : null;
}

/** Adds `days` calendar days to a wall-clock date. */
export function addDays(date: Pick<LocalDate, 'year' | 'month' | 'day'>, days: number): LocalDate {
  const d = new Date(Date.UTC(date.year, date.month - 1, date.day + days));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), weekday: ((d.getUTCDay() + 6) % 7) + 1 };
}

const pad2 = (n: number) => (n < 10 ? '0' + n : String(n));

/** Local texts made lately, by zone (`TextMemo`): each page of slots formats the same grid times again. */
const localTexts = new TextMemo(50_000);

/** `2026-03-30T09:00:00+02:00`: an instant as wall-clock time with its offset in `timeZone`. */
export function formatLocal(instant: Date, timeZone: string): string {
  return localTexts.get(timeZone, instant.getTime(), localText);
}

function localText(t: number, timeZone: string): string {
  const offsetMs = offsetAt(t, timeZone);
  const w = new Date(Math.floor(t / 1000) * 1000 + offsetMs);
  const offset = Math.round(offsetMs / 60000);
  const abs = Math.abs(offset);
  const sign = offset < 0 ? '-' : '+';
  return `${String(Math.abs(w.getUTCFullYear())).padStart(4, '0')}-${pad2(w.getUTCMonth() + 1)}-${pad2(w.getUTCDate())}T${pad2(w.getUTCHours())}:${pad2(w.getUTCMinutes())}:${pad2(w.getUTCSeconds())}${sign}${pad2(Math.trunc(abs / 60))}:${pad2(abs % 60)}`;
}
