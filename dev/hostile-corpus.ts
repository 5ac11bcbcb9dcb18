/**
 * Hostile and broken calendar objects, as a careless client or an attacker writes them: shared by the
 * tests (each must be read safely) and `npm run bench:hostile` (which measures the cost of reading them).
 */

/** A VCALENDAR around the given VEVENTs (each given as its property lines). */
export function calendar(...vevents: string[][]): string {
  return ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//test//EN', ...vevents.flatMap((v) => ['BEGIN:VEVENT', ...v, 'END:VEVENT']), 'END:VCALENDAR', ''].join('\r\n');
}

/** The lines of one VEVENT with a UID, a DTSTAMP and a SUMMARY, plus `lines`. */
export function event(uid: string, summary: string, ...lines: string[]): string[] {
  return [`UID:${uid}`, 'DTSTAMP:20261101T000000Z', `SUMMARY:${summary}`, ...lines];
}

const utc = (d: Date) => d.toISOString().replace(/[-:]|\.\d+/g, '');

/** `depth` components, each inside the previous one. */
export function nestedComponents(depth: number): string {
  return ['BEGIN:VCALENDAR', ...Array(depth).fill('BEGIN:X-NEST'), ...Array(depth).fill('END:X-NEST'), 'END:VCALENDAR'].join('\r\n');
}

/** `n` separate events in one object. */
export function manyEvents(n: number): string {
  return calendar(...Array.from({ length: n }, (_, i) => event(`v${i}`, 'Many', 'DTSTART:20261201T090000Z', 'DTEND:20261201T100000Z')));
}

/** A daily series from `from` with `n` of its occurrences moved one hour later. */
export function overridesOfOneUid(n: number, from: Date): string {
  const day = (i: number, hour: number) => utc(new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate() + i, hour)));
  return calendar(
    event('o', 'Standup', `DTSTART:${day(0, 9)}`, `DTEND:${day(0, 9).replace('0000Z', '1500Z')}`, 'RRULE:FREQ=DAILY'),
    ...Array.from({ length: n }, (_, i) => event('o', 'Moved', `RECURRENCE-ID:${day(i, 9)}`, `DTSTART:${day(i, 10)}`, 'DURATION:PT15M')),
  );
}

/** The corpus of issue "robust under hostile calendar data", by what each object is. */
export const HOSTILE_CORPUS: Record<string, string> = {
  'MINUTELY, no end': calendar(event('m', 'Pager duty', 'DTSTART:20261120T080000Z', 'DURATION:PT5M', 'RRULE:FREQ=MINUTELY')),
  'SECONDLY, no end': calendar(event('s', 'Tick', 'DTSTART:20000101T000000Z', 'DURATION:PT1S', 'RRULE:FREQ=SECONDLY')),
  'DAILY from year 0000': calendar(event('y', 'Ancient', 'DTSTART:00000101T090000Z', 'DURATION:PT30M', 'RRULE:FREQ=DAILY')),
  'MINUTELY;COUNT=100000': calendar(event('c', 'Burst', 'DTSTART:20261110T000000Z', 'DURATION:PT1M', 'RRULE:FREQ=MINUTELY;COUNT=100000')),
  'empty calendar-data': '',
  '20,000 nested components': nestedComponents(20000),
  '5,000 VEVENTs': manyEvents(5000),
  '5,000 overrides of one UID': overridesOfOneUid(5000, new Date('2020-01-01')),
  '1,900 overrides of one UID': overridesOfOneUid(1900, new Date('2020-01-01')),
};
