// Baseline of bench/slots.ts: src/availability/zoned-time.ts as it was before the availability hot path was reworked (a copy, never used by the server).
/** Wall-clock date in a zone: year, month (1-12), day, ISO weekday (1 = Monday .. 7 = Sunday). */
export interface LocalDate {
  year: number;
  month: number;
  day: number;
  weekday: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric', weekday: 'short' });
    formatters.set(timeZone, f);
  }
  return f;
}

const WEEKDAYS: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };

function parts(utcMs: number, timeZone: string) {
  const p = Object.fromEntries(formatter(timeZone).formatToParts(new Date(utcMs)).map((x) => [x.type, x.value]));
  return { year: +p.year, month: +p.month, day: +p.day, hour: +p.hour, minute: +p.minute, second: +p.second, weekday: WEEKDAYS[p.weekday] };
}

/** Offset of `timeZone` from UTC at the instant `utcMs`, in ms (Europe/Berlin in summer: +7 200 000). */
function offsetAt(utcMs: number, timeZone: string): number {
  const p = parts(utcMs, timeZone);
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - Math.floor(utcMs / 1000) * 1000;
}

/** The wall-clock date of an instant in a zone. */
export function localDateOf(instant: Date, timeZone: string): LocalDate {
  const { year, month, day, weekday } = parts(instant.getTime(), timeZone);
  return { year, month, day, weekday };
}

/**
 * The instant at which the wall clock in `timeZone` shows the date and `minutes` after midnight. Returns
 * null for a wall time that does not exist (skipped by a spring-forward change); an ambiguous time
 * (repeated by a fall-back change) resolves to its first occurrence. Uses the runtime's tz database, so it
 * never depends on the machine's own zone.
 */
export function wallTimeToUtc(date: Pick<LocalDate, 'year' | 'month' | 'day'>, minutes: number, timeZone: string): Date | null {
  const wall = Date.UTC(date.year, date.month - 1, date.day, 0, minutes);
  // Try the offsets in force a day around: the earlier instant wins for repeated wall times.
  const candidates = [...new Set([offsetAt(wall - 86400000, timeZone), offsetAt(wall + 86400000, timeZone), offsetAt(wall, timeZone)])]
    .map((offset) => wall - offset)
    .filter((utc) => offsetAt(utc, timeZone) === wall - utc)
    .sort((a, b) => a - b);
  return candidates.length ? new Date(candidates[0]) : null;
}

/** Adds `days` calendar days to a wall-clock date. */
export function addDays(date: Pick<LocalDate, 'year' | 'month' | 'day'>, days: number): LocalDate {
  const d = new Date(Date.UTC(date.year, date.month - 1, date.day + days));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), weekday: ((d.getUTCDay() + 6) % 7) + 1 };
}

/** `2026-03-30T09:00:00+02:00`: an instant as wall-clock time with its offset in `timeZone`. */
export function formatLocal(instant: Date, timeZone: string): string {
  const p = parts(instant.getTime(), timeZone);
  const offset = Math.round(offsetAt(instant.getTime(), timeZone) / 60000);
  const pad = (n: number, w = 2) => String(Math.abs(n)).padStart(w, '0');
  const sign = offset < 0 ? '-' : '+';
  return `${pad(p.year, 4)}-${pad(p.month)}-${pad(p.day)}T${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)}${sign}${pad(Math.trunc(offset / 60))}:${pad(offset % 60)}`;
}
