/**
 * Deterministic Apple-style calendar objects for benchmarks: Europe/Berlin wall times with the VTIMEZONE
 * iCloud writes, one in `seriesEvery` (5) a weekly series with an EXDATE and one or two moved occurrences
 * (overriding VEVENTs with RECURRENCE-ID in the same object, half of them in UTC as Apple writes them, half
 * with the TZID of DTSTART). The same seed and day give the same objects.
 */

import { prng } from './fault-proxy';

export const DAY_MS = 86400000;
const MINUTE_MS = 60000;

/** Europe/Berlin as iCloud writes it into every object. */
export const BERLIN_VTIMEZONE = [
  'BEGIN:VTIMEZONE', 'TZID:Europe/Berlin',
  'BEGIN:DAYLIGHT', 'TZOFFSETFROM:+0100', 'TZOFFSETTO:+0200', 'TZNAME:CEST', 'DTSTART:19810329T020000', 'RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU', 'END:DAYLIGHT',
  'BEGIN:STANDARD', 'TZOFFSETFROM:+0200', 'TZOFFSETTO:+0100', 'TZNAME:CET', 'DTSTART:19961027T030000', 'RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU', 'END:STANDARD',
  'END:VTIMEZONE',
];

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32), as the fault scenarios use them. */
export { prng };

/** 01:00 UTC on the last Sunday of `month` (0-based) of `year`: when the EU changes clocks. */
function lastSundayOneUtc(year: number, month: number): number {
  const last = new Date(Date.UTC(year, month + 1, 0));
  return Date.UTC(year, month, last.getUTCDate() - last.getUTCDay(), 1);
}

/** Minutes Europe/Berlin is ahead of UTC at `utcMs` (EU rule since 1996: 120 from the last Sunday of March to that of October). */
export function berlinOffsetMinutes(utcMs: number): number {
  const year = new Date(utcMs).getUTCFullYear();
  return utcMs >= lastSundayOneUtc(year, 2) && utcMs < lastSundayOneUtc(year, 9) ? 120 : 60;
}

/** The UTC instant of a Berlin wall time given as if it were UTC (`wallMs`). Not for the hour clocks skip or repeat. */
export function berlinWallToUtc(wallMs: number): number {
  const winter = wallMs - 60 * MINUTE_MS;
  return berlinOffsetMinutes(winter) === 60 ? winter : wallMs - 120 * MINUTE_MS;
}

/** `YYYYMMDDTHHMMSS` of a wall time given as if it were UTC. */
export function icalLocal(wallMs: number): string {
  return new Date(wallMs).toISOString().replace(/[-:]/g, '').slice(0, 15);
}

/** `YYYYMMDDTHHMMSSZ` of an instant. */
export function icalUtc(utcMs: number): string {
  return `${icalLocal(utcMs)}Z`;
}

export interface CalendarDataOptions {
  /** Calendar objects to write (each a single event or a whole series). */
  count: number;
  seed: number;
  /** Prefix of UIDs and summaries (unique per calendar). */
  name: string;
  /** UTC midnight the days count from (default: today). */
  today?: number;
  /** First and last day (relative to `today`) an event or series may start on. */
  firstDay?: number;
  lastDay?: number;
  /** Local start times, minutes after midnight: from `firstMinute` to `lastMinute`, on the quarter hour. */
  firstMinute?: number;
  lastMinute?: number;
  /** Monday to Friday only (a work calendar). */
  weekdaysOnly?: boolean;
  /** One object in this many is a weekly series (default 5). */
  seriesEvery?: number;
}

const wallOf = (day: number, minute: number) => day + minute * MINUTE_MS;

/**
 * Deterministic objects, `${name}-${i}.ics` -> iCalendar. Events last 15 to 90 minutes. A series repeats
 * weekly 4 to 12 times (COUNT, or one in four with UNTIL in UTC), leaves out one occurrence (EXDATE with TZID)
 * and moves one (one in three series: two) by a day and/or some hours, possibly changing its length; the
 * moved occurrence's RECURRENCE-ID is in UTC for every other series (as Apple writes it), otherwise with TZID.
 */
export function calendarObjects(options: CalendarDataOptions): Record<string, string> {
  const { count, seed, name } = options;
  const today = options.today ?? Math.floor(Date.now() / DAY_MS) * DAY_MS;
  const firstDay = options.firstDay ?? -30;
  const lastDay = options.lastDay ?? 364;
  const firstMinute = options.firstMinute ?? 7 * 60;
  const lastMinute = options.lastMinute ?? 20 * 60;
  const seriesEvery = options.seriesEvery ?? 5;
  const random = prng(seed);
  const pick = (n: number) => Math.floor(random() * n);
  const objects: Record<string, string> = {};
  for (let i = 0; i < count; i++) {
    let day = today + (firstDay + pick(lastDay - firstDay + 1)) * DAY_MS;
    if (options.weekdaysOnly) {
      const weekday = new Date(day).getUTCDay();
      if (weekday === 6) day -= DAY_MS;
      if (weekday === 0) day += DAY_MS;
    }
    const minute = firstMinute + pick(Math.floor((lastMinute - firstMinute) / 15) + 1) * 15;
    const length = (1 + pick(6)) * 15;
    const uid = `${name}-${i}@bench.example`;
    const head = (summary: string) => ['BEGIN:VEVENT', `UID:${uid}`, 'DTSTAMP:20260101T000000Z', 'SEQUENCE:0', `SUMMARY:${summary}`];
    const times = (startWall: number, minutes: number) => [`DTSTART;TZID=Europe/Berlin:${icalLocal(startWall)}`, `DTEND;TZID=Europe/Berlin:${icalLocal(startWall + minutes * MINUTE_MS)}`];
    const start = wallOf(day, minute);
    const vevents: string[] = [];
    if (i % seriesEvery !== 0) {
      vevents.push(...head(`${name} ${i}`), ...times(start, length), 'END:VEVENT');
    } else {
      const occurrences = 4 + pick(9);
      const series = i / seriesEvery;
      const rule = series % 4 === 3 ? `UNTIL=${icalUtc(berlinWallToUtc(start + (occurrences - 1) * 7 * DAY_MS))}` : `COUNT=${occurrences}`;
      const excluded = 1 + pick(occurrences - 1);
      vevents.push(...head(`${name} ${i} (weekly)`), ...times(start, length), `RRULE:FREQ=WEEKLY;${rule}`, `EXDATE;TZID=Europe/Berlin:${icalLocal(start + excluded * 7 * DAY_MS)}`, 'END:VEVENT');
      const moved = new Set<number>();
      for (let m = 0; m < (series % 3 === 0 ? 2 : 1); m++) {
        let k = pick(occurrences);
        while (k === excluded || moved.has(k)) k = (k + 1) % occurrences;
        moved.add(k);
        const original = start + k * 7 * DAY_MS;
        // A day later, or the same day some hours earlier or later (never into the hour clocks skip).
        const shifts = [DAY_MS, 2 * 60 * MINUTE_MS, -90 * MINUTE_MS, DAY_MS + 60 * MINUTE_MS, 2 * 60 * MINUTE_MS + 45 * MINUTE_MS, -DAY_MS];
        const to = original + shifts[pick(shifts.length)];
        const recurrenceId = (series + m) % 2 === 0 ? `RECURRENCE-ID:${icalUtc(berlinWallToUtc(original))}` : `RECURRENCE-ID;TZID=Europe/Berlin:${icalLocal(original)}`;
        vevents.push(...head(`${name} ${i} (weekly) moved`), recurrenceId, ...times(to, (1 + pick(6)) * 15), 'END:VEVENT');
      }
    }
    objects[`${name}-${i}.ics`] = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Apple Inc.//macOS 14.5//EN', 'CALSCALE:GREGORIAN', ...BERLIN_VTIMEZONE, ...vevents, 'END:VCALENDAR', ''].join('\r\n');
  }
  return objects;
}
