import { renderEvent } from '../src/sync/ical/event-renderer';
import { isTimeZone } from '../src/sync/ical/timezones';

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
