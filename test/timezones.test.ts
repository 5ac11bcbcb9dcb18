import { wallTimeToUtc } from '../src/availability/zoned-time';
import { parseCalendarObject } from '../src/sync/ical/calendar-object';
import { renderEvent } from '../src/sync/ical/event-renderer';
import { instantOf, isTimeZone, requireZone } from '../src/sync/ical/timezones';

const event = (timezone: string) => ({
  uid: 'tz-test@crm-calendar-core',
  summary: 'Consultation',
  description: '',
  location: null,
  start: new Date('2026-12-01T09:00:00Z'),
  end: new Date('2026-12-01T10:00:00Z'),
  timezone,
  lastModified: new Date('2026-11-30T12:00:00Z'),
  appointmentIds: ['a1'],
});

describe('time zones: one engine decides which zones exist', () => {
  it('accepts IANA zones that both the slot computation and the iCalendar writer know, and UTC', () => {
    for (const zone of ['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Australia/Lord_Howe']) expect(isTimeZone(zone)).toBe(true);
  });

  it('refuses an empty name, a made-up zone and a Windows zone name (which only the iCalendar reader maps)', () => {
    for (const zone of ['', 'Mars/Olympus_Mons', 'W. Europe Standard Time', 'Europe/Berlin ']) expect(isTimeZone(zone)).toBe(false);
  });

  it('writes an event in its zone with the VTIMEZONE, and refuses an unknown zone instead of writing UTC', () => {
    const ics = renderEvent(event('Europe/Berlin'));
    expect(ics).toMatch(/DTSTART;TZID=Europe\/Berlin:20261201T100000/);
    expect(ics).toMatch(/BEGIN:VTIMEZONE\r\nTZID:Europe\/Berlin/);
    expect(() => renderEvent(event('Mars/Olympus_Mons'))).toThrow('unknown time zone "Mars/Olympus_Mons"');
  });
});

describe('one rule turns a local time into an instant (RFC 5545 section 3.3.5)', () => {
  const HOUR = 3600000;
  /** Every quarter hour of local time from 00:00 to 05:45 on a day, with its wall clock as UTC fields. */
  const night = (year: number, month: number, day: number) =>
    Array.from({ length: 24 }, (_, i) => ({ date: { year, month, day }, minutes: i * 15, wall: Date.UTC(year, month - 1, day, 0, i * 15) }));
  const icalTime = (wall: number) => {
    const d = new Date(wall);
    return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes(), second: 0, isDate: false };
  };
  const nights: [string, number[], number, number][] = [
    // zone, [year, month, day], offset before and after the change (hours)
    ['Europe/Berlin', [2026, 3, 29], 1, 2],
    ['Europe/Berlin', [2026, 10, 25], 2, 1],
    ['America/New_York', [2026, 3, 8], -5, -4],
    ['America/New_York', [2026, 11, 1], -4, -5],
  ];

  it.each(nights)('gives the same instants from a VTIMEZONE and from the runtime tz database through the change night in %s on %j', (zone, [y, m, d], before) => {
    const ical = requireZone(zone);
    for (const { date, minutes, wall } of night(y, m, d)) {
      const fromVtimezone = instantOf(icalTime(wall), ical);
      const fromIntl = wallTimeToUtc(date, minutes, zone);
      // Open hours leave out a start the clock skips (null); the instant RFC 5545 gives it has the offset from before the gap.
      expect([minutes, fromVtimezone]).toEqual([minutes, fromIntl ? fromIntl.getTime() : wall - before * HOUR]);
    }
  });

  it('reads a wall time in the spring gap with the offset from before it, and a repeated one as its first instant', () => {
    const at = (zone: string, s: string) => new Date(instantOf(icalTime(Date.parse(s + 'Z')), requireZone(zone))).toISOString();
    expect(at('Europe/Berlin', '2026-03-29T02:30:00')).toBe('2026-03-29T01:30:00.000Z'); // 03:30 CEST
    expect(at('Europe/Berlin', '2026-10-25T02:30:00')).toBe('2026-10-25T00:30:00.000Z'); // first 02:30, CEST
    expect(at('America/New_York', '2026-03-08T02:30:00')).toBe('2026-03-08T07:30:00.000Z'); // 03:30 EDT
    expect(at('America/New_York', '2026-11-01T01:30:00')).toBe('2026-11-01T05:30:00.000Z'); // first 01:30, EDT
    // Open hours: a repeated wall time is its first instant too; a skipped one is no slot start.
    expect(wallTimeToUtc({ year: 2026, month: 11, day: 1 }, 90, 'America/New_York')?.toISOString()).toBe('2026-11-01T05:30:00.000Z');
    expect(wallTimeToUtc({ year: 2026, month: 3, day: 8 }, 150, 'America/New_York')).toBeNull();
  });

  it('keeps an event that spring-forward would shrink to nothing busy for its length on the clock', () => {
    const ics = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//test//EN', 'BEGIN:VEVENT', 'UID:gap@test', 'DTSTAMP:20260101T000000Z', 'DTSTART;TZID=Europe/Berlin:20260329T023000', 'DTEND;TZID=Europe/Berlin:20260329T033000', 'SUMMARY:In the gap', 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n');
    const [e] = parseCalendarObject(ics, { timezone: 'UTC', accountAddresses: [], window: { start: new Date('2026-03-01T00:00:00Z'), end: new Date('2026-04-01T00:00:00Z') } });
    // 02:30 reads as 03:30 CEST (01:30Z), and so does the end 03:30: one hour from the start, not zero.
    expect(e.busy).toEqual([{ start: new Date('2026-03-29T01:30:00Z'), end: new Date('2026-03-29T02:30:00Z') }]);
  });

  it("reads a time before a VTIMEZONE's first observance with that observance's TZOFFSETFROM, not as UTC", () => {
    // The registered Europe/Berlin starts in 1970: June 1960 in Berlin was CET (+01:00).
    expect(new Date(instantOf(icalTime(Date.UTC(1960, 5, 1, 12)), requireZone('Europe/Berlin'))).toISOString()).toBe('1960-06-01T11:00:00.000Z');
  });

  it('writes every instant through the change nights so that reading the event back gives the same instant', () => {
    const read = (ics: string) => parseCalendarObject(ics, { timezone: 'UTC', accountAddresses: [], window: { start: new Date('2026-01-01T00:00:00Z'), end: new Date('2027-01-01T00:00:00Z') } })[0];
    for (const [zone, [y, m, d]] of nights) {
      for (let t = Date.UTC(y, m - 1, d) - 6 * HOUR; t < Date.UTC(y, m - 1, d) + 12 * HOUR; t += HOUR / 2) {
        const written = read(renderEvent({ ...event(zone), start: new Date(t), end: new Date(t + HOUR) }));
        expect([zone, new Date(t).toISOString(), written.start?.toISOString(), written.end?.toISOString()]).toEqual([zone, new Date(t).toISOString(), new Date(t).toISOString(), new Date(t + HOUR).toISOString()]);
      }
    }
  });

  it('writes the local time of the instant, and the second pass of a repeated hour in UTC (no local time reads back as it)', () => {
    const lines = (zone: string, start: string) =>
      renderEvent({ ...event(zone), start: new Date(start), end: new Date(Date.parse(start) + HOUR) })
        .split('\r\n')
        .filter((l) => /^DT(START|END)[;:]/.test(l) && !l.includes(':19'));
    // 00:30 EDT, hours before the change at 06:00 UTC: ical.js's convertToZone wrote 23:30 the day before.
    expect(lines('America/New_York', '2026-11-01T04:30:00Z')).toEqual(['DTSTART;TZID=America/New_York:20261101T003000', 'DTEND;TZID=America/New_York:20261101T013000']);
    // 01:30 EST (second pass) to 02:30 EST.
    expect(lines('America/New_York', '2026-11-01T06:30:00Z')).toEqual(['DTSTART:20261101T063000Z', 'DTEND;TZID=America/New_York:20261101T023000']);
    expect(lines('Europe/Berlin', '2026-10-25T01:00:00Z')).toEqual(['DTSTART:20261025T010000Z', 'DTEND;TZID=Europe/Berlin:20261025T030000']);
  });
});
