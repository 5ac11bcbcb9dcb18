import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCalendarObject, MalformedCalendarObject, type BusyContext } from '../src/sync/ical/calendar-object';

const DIR = join(__dirname, 'fixtures', 'ics');
const FILES = readdirSync(DIR).filter((f) => f.endsWith('.ics'));
const ADDRESS = 'me@icloud.example';
const WINDOW = { start: new Date('2026-01-01T00:00:00Z'), end: new Date('2027-01-01T00:00:00Z') };

/** Busy intervals by Python's recurring_ical_events (Debian python3-recurring-ical-events): an independent implementation. */
function reference(file: string, timezone: string): string[][] {
  const out = execFileSync('/usr/bin/python3', [join(__dirname, 'fixtures', 'busy_reference.py'), join(DIR, file), timezone, ADDRESS, WINDOW.start.toISOString(), WINDOW.end.toISOString()]);
  return JSON.parse(out.toString());
}

function ours(file: string, timezone: string): string[][] {
  const ctx: BusyContext = { timezone, accountAddresses: [ADDRESS], window: WINDOW };
  const iso = (d: Date) => d.toISOString().replace('.000Z', 'Z');
  return parseCalendarObject(readFileSync(join(DIR, file), 'utf8'), ctx)
    .flatMap((e) => e.busy.map((b) => [iso(b.start), iso(b.end)]))
    .sort((a, b) => (a[0] + a[1]).localeCompare(b[0] + b[1]));
}

describe('busy time from iCloud events agrees with an independent implementation', () => {
  // Berlin and New York see all-day and floating events at different UTC times, and change DST on other dates.
  describe.each(['Europe/Berlin', 'America/New_York'])('for a user in %s', (timezone) => {
    it.each(FILES)('%s', (file) => {
      const expected = reference(file, timezone);
      expect(expected.length).toBeGreaterThan(0);
      expect(ours(file, timezone)).toEqual(expected);
    });
  });
});

describe('busy time rules', () => {
  const ctx: BusyContext = { timezone: 'Europe/Berlin', accountAddresses: [ADDRESS], window: WINDOW };
  const parse = (file: string) => parseCalendarObject(readFileSync(join(DIR, file), 'utf8'), ctx);

  it('puts a moved occurrence at its new time only, matching a UTC RECURRENCE-ID to a TZID series', () => {
    const [standup] = parse('apple-weekly-override-exdate.ics');
    const starts = standup.busy.map((b) => b.start.toISOString());
    expect(starts).toContain('2026-03-24T13:00:00.000Z');
    expect(starts).not.toContain('2026-03-23T08:00:00.000Z');
    expect(starts).not.toContain('2026-03-16T08:00:00.000Z'); // EXDATE
    expect(starts).not.toContain('2026-04-06T07:00:00.000Z'); // cancelled occurrence
    expect(standup).toMatchObject({ uid: 'weekly-standup@apple', summary: 'Standup', recurring: true });
  });

  it('reads a Windows zone name even without a VTIMEZONE in the file', () => {
    const ics = readFileSync(join(DIR, 'outlook-windows-zone.ics'), 'utf8').replace(/BEGIN:VTIMEZONE[\s\S]*END:VTIMEZONE\r\n/, '');
    const [review] = parseCalendarObject(ics, ctx);
    expect(review.busy[0].start.toISOString()).toBe('2026-06-15T13:00:00.000Z');
  });

  it('blocks the travel time before an event', () => {
    expect(parse('apple-travel-time.ics')[0].busy[0].start.toISOString()).toBe('2026-05-05T11:30:00.000Z');
  });

  it('does not depend on the machine time zone', () => {
    const before = process.env.TZ;
    process.env.TZ = 'Pacific/Auckland';
    try {
      expect(ours('floating.ics', 'Europe/Berlin')[0]).toEqual(['2026-04-20T10:00:00Z', '2026-04-20T11:00:00Z']);
    } finally {
      process.env.TZ = before;
    }
  });

  it('rejects what is not iCalendar, or has no event, as malformed', () => {
    expect(() => parseCalendarObject('this is not a calendar', ctx)).toThrow(MalformedCalendarObject);
    expect(() => parseCalendarObject('BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\nUID:x\r\nEND:VTODO\r\nEND:VCALENDAR\r\n', ctx)).toThrow(/no VEVENT/);
  });
});
