/**
 * The one rule of this project for turning a local (wall-clock) time into an instant, whatever says what
 * a zone's offset is: an iCalendar VTIMEZONE read by ical.js (`timezones.ts`) or the runtime's tz database
 * (`availability/zoned-time.ts`, for CRM open hours).
 */

/** A zone's offset from UTC at an instant, both in ms (Europe/Berlin in summer: +7 200 000). */
export type OffsetAt = (utcMs: number) => number;

const DAY_MS = 86400000;

/**
 * Returns the instant (ms since 1970) of the wall-clock time `wall` (ms whose UTC fields are the wall-clock
 * fields) in the zone whose offsets `offsetAt` gives. RFC 5545 section 3.3.5 decides the two cases where a
 * wall time is not one instant:
 * - a wall time that a change skips (spring forward) is read "using the UTC offset before the gap": 02:30
 *   on the night Berlin jumps from 02:00 to 03:00 is 01:30 UTC, which is 03:30 CEST;
 * - a wall time that a change repeats (fall back) is the first of its two instants, the one with the offset
 *   from before the change: 02:30 on the night Berlin goes back from 03:00 to 02:00 is 00:30 UTC (CEST).
 * Never throws. Calls `offsetAt` three times when no change lies within a day of `wall`, six at most.
 */
export function instantOfWallTime(wall: number, offsetAt: OffsetAt): number {
  const here = offsetAt(wall);
  const before = offsetAt(wall - DAY_MS);
  const after = offsetAt(wall + DAY_MS);
  if (before === here && after === here) return wall - here;
  // Near a change: each offset in force around it gives a candidate, valid if the zone has that offset then.
  let first: number | null = null;
  for (const offset of [before, here, after]) {
    const utc = wall - offset;
    if (offsetAt(utc) === offset && (first === null || utc < first)) first = utc;
  }
  // No candidate is valid: the wall time lies in a gap, and the offset before the gap is the one a day before.
  return first ?? wall - before;
}

/**
 * Returns the wall-clock fields of a date and time as ms since 1970 read as UTC (the form `instantOfWallTime`
 * takes): `month` 1-12, a DATE's time fields as 0. Correct for the years 0 to 99 too, which `Date.UTC` reads
 * as 1900 to 1999. Never throws; out-of-range fields roll over as in `Date`.
 */
export function wallMs(year: number, month: number, day: number, hour = 0, minute = 0, second = 0): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, 0);
  return d.getTime();
}
