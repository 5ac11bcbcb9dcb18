import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { BERLIN_VTIMEZONE, berlinOffsetMinutes, berlinWallToUtc, calendarObjects } from '../dev/calendar-data';
import { parseCalendarObject, MalformedCalendarObject, type BusyContext } from '../src/sync/ical/calendar-object';
import { formatLocal } from '../src/availability/zoned-time';

const DIR = join(__dirname, 'fixtures', 'ics');
const FILES = readdirSync(DIR).filter((f) => f.endsWith('.ics'));
const ADDRESS = 'me@icloud.example';
const WINDOW = { start: new Date('2026-01-01T00:00:00Z'), end: new Date('2027-01-01T00:00:00Z') };

/** Busy intervals by Python's recurring_ical_events (Debian python3-recurring-ical-events): an independent implementation. */
function reference(file: string, timezone: string): string[][] {
  const out = execFileSync('/usr/bin/python3', [join(__dirname, 'fixtures', 'busy_reference.py'), resolve(DIR, file), timezone, ADDRESS, WINDOW.start.toISOString(), WINDOW.end.toISOString()]);
  return JSON.parse(out.toString());
}

/**
 * Where the oracle breaks RFC 5545, the RFC wins. Debian's recurring_ical_events 2.0.1 reads a TZID through
 * icalendar 4.0.3, which localizes with pytz and is_dst=False: a wall time that a fall-back change repeats
 * comes out as its SECOND instant (standard time), where RFC 5545 section 3.3.5 says the first ("the offset
 * before the change"). In a spring-forward gap is_dst=False is the offset from before the gap, as the RFC
 * says, and floating times go through zoneinfo's fold=0 (PEP 495), which follows the RFC in both cases: there
 * the oracle is right and is taken as it is. Per file: the interval the oracle prints, and the RFC's instead.
 */
const RFC_OVER_ORACLE: Record<string, [oracle: string[], rfc: string[]][]> = {
  // Daily 01:30-02:30 New York: on 1 November 01:30 is 05:30 UTC (EDT) first, and lasts its exact hour.
  'dst-daily-new-york.ics': [[['2026-11-01T06:30:00Z', '2026-11-01T07:30:00Z'], ['2026-11-01T05:30:00Z', '2026-11-01T06:30:00Z']]],
  'dst-gap-and-repeat-berlin.ics': [
    // 02:30-03:30 on 25 October: from the first 02:30 (CEST, 00:30 UTC) to 03:30 CET, two hours.
    [['2026-10-25T01:30:00Z', '2026-10-25T02:30:00Z'], ['2026-10-25T00:30:00Z', '2026-10-25T02:30:00Z']],
    // Weekly 02:15 for an hour: the occurrence of 25 October starts at the first 02:15 (CEST).
    [['2026-10-25T01:15:00Z', '2026-10-25T02:15:00Z'], ['2026-10-25T00:15:00Z', '2026-10-25T01:15:00Z']],
  ],
  'dst-gap-and-repeat-new-york.ics': [
    // 01:30-02:30 on 1 November: from the first 01:30 (EDT, 05:30 UTC) to 02:30 EST, two hours.
    [['2026-11-01T06:30:00Z', '2026-11-01T07:30:00Z'], ['2026-11-01T05:30:00Z', '2026-11-01T07:30:00Z']],
    // Weekly 01:15 for an hour: the occurrence of 1 November starts at the first 01:15 (EDT).
    [['2026-11-01T06:15:00Z', '2026-11-01T07:15:00Z'], ['2026-11-01T05:15:00Z', '2026-11-01T06:15:00Z']],
  ],
};

const byInterval = (a: string[], b: string[]) => (a[0] + a[1]).localeCompare(b[0] + b[1]);

/** The oracle's intervals with `RFC_OVER_ORACLE` applied, each correction checked to still be needed. */
function expectedBusy(file: string, oracle: string[][]): string[][] {
  const expected = [...oracle];
  for (const [wrong, right] of RFC_OVER_ORACLE[file] ?? []) {
    const i = expected.findIndex(([start, end]) => start === wrong[0] && end === wrong[1]);
    // When the oracle stops printing what an entry corrects, the entry is stale: remove it.
    expect({ file, oraclePrints: i >= 0 ? wrong : null }).toEqual({ file, oraclePrints: wrong });
    expected[i] = right;
  }
  return expected.sort(byInterval);
}

/** `2026-01-01T00:00:00Z`: the oracle's form of an instant. */
const isoZ = (d: Date) => d.toISOString().replace('.000Z', 'Z');

/** Our busy intervals of the iCalendar `text` for a user in `timezone`, sorted as the oracle's. */
function busyOf(text: string, timezone: string): string[][] {
  const ctx: BusyContext = { timezone, accountAddresses: [ADDRESS], window: WINDOW };
  return parseCalendarObject(text, ctx)
    .flatMap((e) => e.busy.map((b) => [isoZ(b.start), isoZ(b.end)]))
    .sort(byInterval);
}

function ours(file: string, timezone: string): string[][] {
  return busyOf(readFileSync(join(DIR, file), 'utf8'), timezone);
}

describe('busy time from iCloud events agrees with an independent implementation', () => {
  // Berlin and New York see all-day and floating events at different UTC times, and change DST on other dates.
  describe.each(['Europe/Berlin', 'America/New_York'])('for a user in %s', (timezone) => {
    it.each(FILES)('%s', (file) => {
      const oracle = reference(file, timezone);
      expect(oracle.length).toBeGreaterThan(0);
      expect(ours(file, timezone)).toEqual(expectedBusy(file, oracle));
    });
  });
});

describe("the benchmarks' generated calendars (dev/calendar-data.ts) agree with the independent implementation", () => {
  it.each(['Europe/Berlin', 'America/New_York'])('for a user in %s: 300 Berlin objects, one in five a weekly series with an EXDATE and moved occurrences', (timezone) => {
    // Days around mid-2026, so that every series, its moves and both DST changes fall inside WINDOW.
    const objects = Object.values(calendarObjects({ count: 300, seed: 7, name: 'oracle', today: Date.UTC(2026, 5, 1), firstDay: -120, lastDay: 120 }));
    // One file for the oracle: the objects' VEVENTs under one VCALENDAR and VTIMEZONE (UIDs are distinct).
    const vevents = objects.flatMap((o) => /BEGIN:VEVENT[\s\S]*END:VEVENT/.exec(o)![0].split('\r\n'));
    const dir = mkdtempSync(join(tmpdir(), 'busy-oracle-'));
    try {
      const file = join(dir, 'generated.ics');
      writeFileSync(file, ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//test//EN', ...BERLIN_VTIMEZONE, ...vevents, 'END:VCALENDAR', ''].join('\r\n'));
      const oracle = reference(file, timezone);
      const mine = objects.flatMap((o) => busyOf(o, timezone)).sort(byInterval);
      expect(oracle.length).toBeGreaterThan(300);
      // The oracle's pytz arithmetic keeps DTSTART's offset while it steps through a series: when a change of
      // offset lies between DTSTART and UNTIL (in UTC), UNTIL falls an hour before the last occurrence, which it
      // leaves out. RFC 5545 section 3.3.10: UNTIL bounds the recurrence inclusively, so that occurrence is busy.
      // Each one taken from ours is checked to be such a case (at UNTIL, across a change, missing from the oracle).
      const printed = new Set(oracle.map((i) => i.join()));
      const acrossAChange = new Set(objects.flatMap((o) => {
        const until = /RRULE:.*UNTIL=(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)00Z/.exec(o);
        const start = /DTSTART;TZID=Europe\/Berlin:(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)00/.exec(o)!;
        if (!until) return [];
        const untilMs = Date.UTC(+until[1], +until[2] - 1, +until[3], +until[4], +until[5]);
        const startWall = Date.UTC(+start[1], +start[2] - 1, +start[3], +start[4], +start[5]);
        return berlinOffsetMinutes(untilMs) !== berlinOffsetMinutes(berlinWallToUtc(startWall)) ? [isoZ(new Date(untilMs))] : [];
      }));
      const rfcOverOracle = mine.filter((i) => !printed.has(i.join()));
      expect(rfcOverOracle.filter(([start]) => !acrossAChange.has(start))).toEqual([]);
      expect(mine).toEqual([...oracle, ...rfcOverOracle].sort(byInterval));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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

/**
 * RFC 5545 section 3.3.5: a local time that a change skips (spring forward) "is interpreted using the UTC
 * offset before the gap", and one that a change repeats (fall back) is the first of its two instants. These
 * are the RFC's instants written out, as local times with their offsets (from the runtime's tz database,
 * not from the code under test): the oracle above gets the repeated hour wrong (see RFC_OVER_ORACLE).
 */
describe('local times that a daylight-saving change skips or repeats (RFC 5545 section 3.3.5)', () => {
  /** The busy intervals of one event, as local times in `zone`, for a user in `userZone`. */
  const busyOf = (ics: string, uid: string, zone: string, userZone = zone) => {
    const event = parseCalendarObject(ics, { timezone: userZone, accountAddresses: [ADDRESS], window: WINDOW }).find((e) => e.uid === uid);
    expect(event?.warnings).toEqual([]);
    return event!.busy.map((b) => [formatLocal(b.start, zone), formatLocal(b.end, zone)]);
  };
  const fixture = (file: string) => readFileSync(join(DIR, file), 'utf8');

  // iCloud sends the VTIMEZONE with the event; other clients may send the IANA name alone, which the server
  // resolves from its registered zones. Both must follow the rule.
  describe.each([
    ['defined by the VTIMEZONE of the object', (ics: string) => ics],
    ['given as an IANA name without a VTIMEZONE', (ics: string) => ics.replace(/BEGIN:VTIMEZONE[\s\S]*?END:VTIMEZONE\r\n/, '')],
  ])('with a TZID %s', (_, variant) => {
    const berlin = (uid: string) => busyOf(variant(fixture('dst-gap-and-repeat-berlin.ics')), uid, 'Europe/Berlin');
    const newYork = (uid: string) => busyOf(variant(fixture('dst-gap-and-repeat-new-york.ics')), uid, 'America/New_York');

    it('reads 02:30 on the night Berlin springs forward (02:00 -> 03:00) with the offset from before the gap, as 03:30 CEST', () => {
      expect(berlin('gap-single-berlin@test')).toEqual([['2026-03-29T03:30:00+02:00', '2026-03-29T04:00:00+02:00']]);
    });

    it('puts the occurrence of a weekly 02:15 Berlin event that falls in the spring gap at 03:15 CEST, lasting its hour', () => {
      expect(berlin('gap-weekly-berlin@test')).toEqual([
        ['2026-03-15T02:15:00+01:00', '2026-03-15T03:15:00+01:00'],
        ['2026-03-22T02:15:00+01:00', '2026-03-22T03:15:00+01:00'],
        ['2026-03-29T03:15:00+02:00', '2026-03-29T04:15:00+02:00'],
      ]);
    });

    it('reads 02:30 on the night Berlin falls back (03:00 -> 02:00) as the first 02:30, in CEST', () => {
      expect(berlin('repeat-single-berlin@test')).toEqual([['2026-10-25T02:30:00+02:00', '2026-10-25T03:30:00+01:00']]);
    });

    it('puts the occurrence of a weekly 02:15 Berlin event that falls in the repeated hour at the first 02:15, in CEST', () => {
      expect(berlin('repeat-weekly-berlin@test')).toEqual([
        ['2026-10-11T02:15:00+02:00', '2026-10-11T03:15:00+02:00'],
        ['2026-10-18T02:15:00+02:00', '2026-10-18T03:15:00+02:00'],
        // An exact hour (RFC 5545 section 3.3.10): it ends at the second 02:15.
        ['2026-10-25T02:15:00+02:00', '2026-10-25T02:15:00+01:00'],
      ]);
    });

    it('reads 02:30 on the night New York springs forward (02:00 -> 03:00) with the offset from before the gap, as 03:30 EDT', () => {
      expect(newYork('gap-single-ny@test')).toEqual([['2026-03-08T03:30:00-04:00', '2026-03-08T04:00:00-04:00']]);
    });

    it('puts the occurrence of a weekly 02:15 New York event that falls in the spring gap at 03:15 EDT, lasting its hour', () => {
      expect(newYork('gap-weekly-ny@test')).toEqual([
        ['2026-02-22T02:15:00-05:00', '2026-02-22T03:15:00-05:00'],
        ['2026-03-01T02:15:00-05:00', '2026-03-01T03:15:00-05:00'],
        ['2026-03-08T03:15:00-04:00', '2026-03-08T04:15:00-04:00'],
      ]);
    });

    it('reads 01:30 on the night New York falls back (02:00 -> 01:00) as the first 01:30, in EDT', () => {
      expect(newYork('repeat-single-ny@test')).toEqual([['2026-11-01T01:30:00-04:00', '2026-11-01T02:30:00-05:00']]);
    });

    it('puts the occurrence of a weekly 01:15 New York event that falls in the repeated hour at the first 01:15, in EDT', () => {
      expect(newYork('repeat-weekly-ny@test')).toEqual([
        ['2026-10-18T01:15:00-04:00', '2026-10-18T02:15:00-04:00'],
        ['2026-10-25T01:15:00-04:00', '2026-10-25T02:15:00-04:00'],
        ['2026-11-01T01:15:00-04:00', '2026-11-01T01:15:00-05:00'],
      ]);
    });
  });

  it("reads floating times in the user's zone by the same rule: a skipped 02:45 is 03:45 CEST, a repeated one the first", () => {
    const ics = fixture('dst-gap-and-repeat-berlin.ics');
    expect(busyOf(ics, 'floating-gap@test', 'Europe/Berlin')).toEqual([['2026-03-29T03:45:00+02:00', '2026-03-29T04:00:00+02:00']]);
    expect(busyOf(ics, 'floating-repeat@test', 'Europe/Berlin')).toEqual([['2026-10-25T02:45:00+02:00', '2026-10-25T03:30:00+01:00']]);
  });

  it('replaces the occurrence in the repeated hour that an override names by the UTC instant of the first 02:15', () => {
    // Apple writes RECURRENCE-ID in UTC (CALDAV-FACTS.md): the occurrence at the first 02:15 is 00:15 UTC.
    const override = [
      'BEGIN:VEVENT',
      'UID:repeat-weekly-berlin@test',
      'DTSTAMP:20260101T000000Z',
      'RECURRENCE-ID:20261025T001500Z',
      'DTSTART;TZID=Europe/Berlin:20261025T090000',
      'DTEND;TZID=Europe/Berlin:20261025T100000',
      'SUMMARY:Backup window moved to the morning',
      'END:VEVENT',
      'END:VCALENDAR',
    ].join('\r\n');
    const ics = fixture('dst-gap-and-repeat-berlin.ics').replace('END:VCALENDAR', override);
    expect(busyOf(ics, 'repeat-weekly-berlin@test', 'Europe/Berlin')).toEqual([
      ['2026-10-11T02:15:00+02:00', '2026-10-11T03:15:00+02:00'],
      ['2026-10-18T02:15:00+02:00', '2026-10-18T03:15:00+02:00'],
      ['2026-10-25T09:00:00+01:00', '2026-10-25T10:00:00+01:00'],
    ]);
  });
});
