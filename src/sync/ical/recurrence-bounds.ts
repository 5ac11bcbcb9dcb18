import ICAL from 'ical.js';

/**
 * Limits on expanding one recurring series, so that a crafted RRULE costs the same as an honest one.
 * A series that would exceed them is stored as one conservative busy block over its span (never "free"
 * while the user may be busy) with a warning naming it (issue: hostile calendar data).
 */
export const EXPANSION_LIMITS = {
  /** Occurrences of one series inside the sync horizon (a daily series over 395 days has 395). */
  occurrencesInWindow: 1500,
  /** Steps of the iterator in all, also before the horizon (a COUNT series cannot be skipped ahead). */
  iterations: 20000,
};

/** Series repeating more often than daily are never expanded: their span is one busy block. */
export const SUB_DAILY = new Set(['SECONDLY', 'MINUTELY', 'HOURLY']);

const DAY_MS = 86400000;
const UNIT_SECONDS: Record<string, number> = { SECONDLY: 1, MINUTELY: 60, HOURLY: 3600 };

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
const lcm = (a: number, b: number) => (a * b) / gcd(a, b);

/**
 * Milliseconds since 1970 of a time's wall clock read as UTC (within a day of the truth, enough for a gap
 * counted in periods). Not ical.js's toUnixTime nor Date.UTC: both read the years 0 to 99 as 1900 to 1999.
 */
function approximateEpochMs(t: ICAL.Time): number {
  const d = new Date(0);
  d.setUTCFullYear(t.year, t.month - 1, t.day);
  d.setUTCHours(t.hour, t.minute, t.second, 0);
  return d.getTime();
}

/**
 * Returns a DTSTART moved forward by whole periods of `rule` so that iteration begins shortly before
 * `before` instead of at the original DTSTART (an event "since year 0000" must not be walked through two
 * thousand years). Whole periods keep every later occurrence where it was: the rule's candidates are
 * counted from DTSTART in steps of the period (RFC 5545 section 3.3.10). Returns `start` unchanged when
 * the rule has a COUNT (it counts from the real DTSTART) or when no shift keeps the day of month valid.
 * The moved DTSTART is itself an occurrence for ical.js; it lies before `before`, where the caller drops it.
 */
export function fastForward(start: ICAL.Time, rule: ICAL.Recur, before: Date): ICAL.Time {
  const gapMs = before.getTime() - approximateEpochMs(start);
  if (rule.count || gapMs <= 0) return start;
  const interval = rule.interval || 1;
  const shifted = start.clone();
  switch (rule.freq) {
    case 'DAILY':
    case 'WEEKLY': {
      const unitDays = rule.freq === 'DAILY' ? interval : 7 * interval;
      // One period less than the gap: a DST hour must not carry the start past `before`.
      const k = Math.floor(gapMs / (unitDays * DAY_MS)) - 1;
      if (k > 0) shifted.adjust(k * unitDays, 0, 0, 0);
      return shifted;
    }
    case 'MONTHLY':
    case 'YEARLY': {
      // Months have 28 to 31 days: a day past the 28th stays valid only in steps of whole years, and the
      // 29th of February only in steps of four (checked below for the century years).
      let unitMonths = rule.freq === 'MONTHLY' ? interval : 12 * interval;
      if (start.day > 28) unitMonths = lcm(unitMonths, start.month === 2 ? 48 : 12);
      const k = Math.floor(gapMs / (unitMonths * 31 * DAY_MS)) - 1;
      if (k <= 0) return start;
      const total = start.year * 12 + (start.month - 1) + k * unitMonths;
      const [year, month] = [Math.floor(total / 12), (total % 12) + 1];
      if (start.day > ICAL.Time.daysInMonth(month, year)) return start;
      shifted.year = year;
      shifted.month = month;
      return shifted;
    }
    default:
      return start;
  }
}

/**
 * When a series ends at the latest, as an upper bound: the latest UNTIL, or for a sub-daily COUNT rule
 * without BY-parts its last step. Returns null when it may run forever (or the bound is not cheap to know).
 */
export function seriesEnd(rules: ICAL.Recur[], start: Date, durationMs: number): Date | null {
  let end = 0;
  for (const rule of rules) {
    // A day of slack: a floating or DATE-valued UNTIL is read here as UTC.
    if (rule.until) end = Math.max(end, approximateEpochMs(rule.until) + DAY_MS + durationMs);
    else if (rule.count && UNIT_SECONDS[rule.freq] && Object.keys(rule.parts ?? {}).length === 0) {
      end = Math.max(end, start.getTime() + (rule.count - 1) * (rule.interval || 1) * UNIT_SECONDS[rule.freq] * 1000 + durationMs);
    } else return null;
  }
  return end ? new Date(end) : null;
}

/** "every 15 minutes", for the warning that names a series stored as one block. */
export function describeFrequency(rule: ICAL.Recur): string {
  const unit = { SECONDLY: 'second', MINUTELY: 'minute', HOURLY: 'hour', DAILY: 'day', WEEKLY: 'week', MONTHLY: 'month', YEARLY: 'year' }[rule.freq] ?? rule.freq;
  const n = rule.interval || 1;
  return n === 1 ? `every ${unit}` : `every ${n} ${unit}s`;
}

/**
 * Whether the rule's BYMONTH and BYMONTHDAY name no date that exists (the 31st of February): ical.js
 * searches for one forever. Such a series has DTSTART as its only occurrence (RFC 5545 section 3.8.5.3).
 */
export function neverOccurs(rule: ICAL.Recur): boolean {
  const parts = rule.parts as { BYMONTH?: number[]; BYMONTHDAY?: number[] };
  if (!parts.BYMONTHDAY?.length) return false;
  const months = parts.BYMONTH?.length ? parts.BYMONTH : [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
  // 2024 is a leap year: the 29th of February exists.
  return !months.some((m) => m >= 1 && m <= 12 && parts.BYMONTHDAY!.some((d) => d !== 0 && Math.abs(d) <= ICAL.Time.daysInMonth(m, 2024)));
}
