import fc from 'fast-check';
import ICAL from 'ical.js';
import { parseCalendarObject, MalformedCalendarObject, type BusyContext } from '../src/sync/ical/calendar-object';
import { OBJECT_LIMITS } from '../src/sync/ical/guard';
import { EXPANSION_LIMITS } from '../src/sync/ical/recurrence-bounds';
import { instantOf, registerTimezones, requireZone } from '../src/sync/ical/timezones';
import { calendar, event, HOSTILE_CORPUS, manyEvents, nestedComponents } from '../dev/hostile-corpus';

const WINDOW = { start: new Date('2026-11-01T00:00:00Z'), end: new Date('2027-12-01T00:00:00Z') };
const ctx: BusyContext = { timezone: 'Europe/Berlin', accountAddresses: [], window: WINDOW };

const iso = (d: Date) => d.toISOString();

describe('hostile calendar data is bounded, never silently dropped', () => {
  it('stores a series that repeats every minute forever as one busy block to the end of the horizon, with a warning naming it', () => {
    const [e] = parseCalendarObject(calendar(event('m', 'Pager duty', 'DTSTART:20261120T080000Z', 'DTEND:20261120T080500Z', 'RRULE:FREQ=MINUTELY')), ctx);
    expect(e.busy.map((b) => [iso(b.start), iso(b.end)])).toEqual([['2026-11-20T08:00:00.000Z', iso(WINDOW.end)]]);
    expect(e.warnings.join()).toMatch(/"Pager duty" repeats every minute: counted as busy from 2026-11-20 08:00 UTC/);
  });

  it('stores an endless SECONDLY series begun long ago as busy for the whole horizon', () => {
    const [e] = parseCalendarObject(calendar(event('s', 'Tick', 'DTSTART:20000101T000000Z', 'DURATION:PT1S', 'RRULE:FREQ=SECONDLY')), ctx);
    expect(e.busy).toEqual([{ start: WINDOW.start, end: WINDOW.end }]);
    expect(e.warnings).toHaveLength(1);
  });

  it('keeps a MINUTELY series with a COUNT busy over its whole span, not cut off after a month', () => {
    const [e] = parseCalendarObject(calendar(event('c', 'Burst', 'DTSTART:20261110T000000Z', 'DURATION:PT1M', 'RRULE:FREQ=MINUTELY;COUNT=100000')), ctx);
    // 100,000 minutes after the start is 2027-01-18 10:39; the last occurrence lasts one minute.
    expect(e.busy.map((b) => [iso(b.start), iso(b.end)])).toEqual([['2026-11-10T00:00:00.000Z', '2027-01-18T10:40:00.000Z']]);
  });

  it('expands a daily series that starts in year 0000 from the horizon on: one interval per day, none before it, none twice', () => {
    const [e] = parseCalendarObject(calendar(event('y0', 'Ancient', 'DTSTART:00000101T090000Z', 'DTEND:00000101T093000Z', 'RRULE:FREQ=DAILY')), ctx);
    const days = Math.round((WINDOW.end.getTime() - WINDOW.start.getTime()) / 86400000);
    expect(e.warnings).toEqual([]);
    expect(e.busy).toHaveLength(days);
    expect(e.busy[0].start).toEqual(new Date('2026-11-01T09:00:00Z'));
    expect(new Set(e.busy.map((b) => b.start.getTime())).size).toBe(days);
  });

  it('stores a series with more occurrences in the horizon than the limit as one block from its first one, with a warning', () => {
    const hours = Array.from({ length: 24 }, (_, h) => h).join(',');
    const [e] = parseCalendarObject(calendar(event('h', 'Every hour', 'DTSTART:20261101T000000Z', 'DURATION:PT10M', `RRULE:FREQ=DAILY;BYHOUR=${hours}`)), ctx);
    expect(e.busy).toEqual([{ start: new Date('2026-11-01T00:00:00Z'), end: WINDOW.end }]);
    expect(e.warnings.join()).toContain(`more than ${EXPANSION_LIMITS.occurrencesInWindow} occurrences`);
  });

  it('rejects an empty object, deep nesting and too many components before parsing', () => {
    expect(() => parseCalendarObject('', ctx)).toThrow(MalformedCalendarObject);
    expect(() => parseCalendarObject(nestedComponents(20000), ctx)).toThrow(/deeper than/);
    expect(() => parseCalendarObject(manyEvents(5000), ctx)).toThrow(/more than 2000 components/);
    expect(() => parseCalendarObject(HOSTILE_CORPUS['5,000 overrides of one UID'], ctx)).toThrow(MalformedCalendarObject);
    expect(() => parseCalendarObject('x'.repeat(OBJECT_LIMITS.maxChars + 1), ctx)).toThrow(/too large/);
  });

  it('counts only the first occurrence of a series on a date that never occurs, instead of searching for one forever', () => {
    const [e] = parseCalendarObject(calendar(event('feb31', 'Never', 'DTSTART:20261201T090000Z', 'DURATION:PT1H', 'RRULE:FREQ=DAILY;BYMONTHDAY=31;BYMONTH=2')), ctx);
    expect(e.busy).toEqual([{ start: new Date('2026-12-01T09:00:00Z'), end: new Date('2026-12-01T10:00:00Z') }]);
    expect(e.warnings.join()).toMatch(/"Never" repeats on a date that never occurs/);
  });

  it('reads a time in an unknown TZID in the user zone, with a warning', () => {
    const [e] = parseCalendarObject(calendar(event('tz', 'Mars meeting', 'DTSTART;TZID=Mars/Olympus:20261201T090000', 'DTEND;TZID=Mars/Olympus:20261201T100000')), ctx);
    expect(e.busy).toEqual([{ start: new Date('2026-12-01T08:00:00Z'), end: new Date('2026-12-01T09:00:00Z') }]);
    expect(e.warnings.join()).toMatch(/"Mars meeting" uses the unknown time zone "Mars\/Olympus": read in Europe\/Berlin/);
  });

  it('keeps an event whose DTEND is before its DTSTART busy for its length, with a warning', () => {
    const [e] = parseCalendarObject(calendar(event('bk', 'Backwards', 'DTSTART:20261201T100000Z', 'DTEND:20261201T090000Z')), ctx);
    expect(e.busy).toEqual([{ start: new Date('2026-12-01T10:00:00Z'), end: new Date('2026-12-01T11:00:00Z') }]);
    expect(e.warnings.join()).toMatch(/"Backwards" ends before it starts/);
  });

  it('gives the same occurrences when it starts iterating at the horizon as when it walks from DTSTART', () => {
    registerTimezones();
    const rule = fc.record({
      freq: fc.constantFrom('DAILY', 'WEEKLY', 'MONTHLY', 'YEARLY'),
      interval: fc.integer({ min: 1, max: 5 }),
      byday: fc.option(fc.subarray(['MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU'], { minLength: 1 }), { nil: undefined }),
      year: fc.integer({ min: 2012, max: 2026 }),
      month: fc.integer({ min: 1, max: 12 }),
      day: fc.integer({ min: 1, max: 31 }),
      hour: fc.integer({ min: 0, max: 23 }),
    });
    fc.assert(
      fc.property(rule, (r) => {
        const day = Math.min(r.day, ICAL.Time.daysInMonth(r.month, r.year));
        const pad = (n: number) => String(n).padStart(2, '0');
        const start = `${r.year}${pad(r.month)}${pad(day)}T${pad(r.hour)}0000`;
        const rrule = `RRULE:FREQ=${r.freq};INTERVAL=${r.interval}${r.byday && r.freq === 'WEEKLY' ? `;BYDAY=${r.byday.join(',')}` : ''}`;
        const ics = calendar(event('p', 'Series', `DTSTART;TZID=Europe/Berlin:${start}`, 'DURATION:PT1H', rrule));
        const ours = parseCalendarObject(ics, ctx)[0];
        // The plain walk from DTSTART, as ical.js iterates without any skipping; its local times become instants by
        // the project's one rule (RFC 5545 section 3.3.5, which ical.js's toJSDate does not follow in DST gaps).
        const berlin = requireZone('Europe/Berlin');
        const vevent = new ICAL.Component(ICAL.parse(ics)).getFirstSubcomponent('vevent')!;
        const plain = new ICAL.Event(vevent);
        const expected: number[] = [];
        const it = plain.iterator();
        for (let next = it.next(); next; next = it.next()) {
          const s = instantOf(next, berlin);
          if (s >= WINDOW.end.getTime()) break;
          const end = s + 3600000;
          if (end > WINDOW.start.getTime()) expected.push(s);
        }
        expect(ours.busy.map((b) => b.start.getTime())).toEqual(expected);
      }),
      { numRuns: 60 },
    );
  });
});
