import ICAL from 'ical.js';
import { createHash } from 'node:crypto';
import { CRM_UID_SUFFIX } from '../sync-key';
import { registerTimezones, requireZone, timeInZone } from './timezones';

/** What the CRM wants an iCloud event to say. */
export interface DesiredEvent {
  uid: string;
  summary: string;
  description: string;
  location: string | null;
  start: Date;
  end: Date;
  /** The CRM calendar's zone: the event is written in it, with its VTIMEZONE. */
  timezone: string;
  lastModified: Date;
  appointmentIds: string[];
}

/** A stable UID of ours for one copy of a sync key: recognisable (origin CRM) and never reused. */
export function uidFor(syncKey: string, userId: string): string {
  return createHash('sha256').update(`${syncKey}|${userId}`).digest('hex').slice(0, 32) + CRM_UID_SUFFIX;
}

function time(date: Date, zone: ICAL.Timezone | undefined): ICAL.Time {
  return zone ? timeInZone(date, zone) : ICAL.Time.fromJSDate(date, true);
}

/**
 * Renders the event as iCalendar: DTEND always (iCloud rejects a VEVENT without it), no METHOD, no
 * ORGANIZER or ATTENDEE (so iCloud sends no invitation on our behalf), the zone's VTIMEZONE included
 * (CALDAV-FACTS.md). Escaping and line folding are ical.js's.
 */
export function renderEvent(event: DesiredEvent): string {
  registerTimezones();
  // A zone the server does not know is an error, never a silent UTC (inputs are checked with isTimeZone).
  const zone = requireZone(event.timezone);
  const calendar = new ICAL.Component('vcalendar');
  calendar.updatePropertyWithValue('version', '2.0');
  calendar.updatePropertyWithValue('prodid', '-//CRM Calendar Core//EN');
  calendar.updatePropertyWithValue('calscale', 'GREGORIAN');
  if (zone.component && event.timezone !== 'UTC') calendar.addSubcomponent(ICAL.Component.fromString(zone.component.toString()));
  const vevent = new ICAL.Component('vevent');
  vevent.updatePropertyWithValue('uid', event.uid);
  vevent.updatePropertyWithValue('dtstamp', ICAL.Time.fromJSDate(new Date(), true));
  vevent.updatePropertyWithValue('last-modified', ICAL.Time.fromJSDate(event.lastModified, true));
  for (const [name, date] of [['dtstart', event.start], ['dtend', event.end]] as const) {
    const property = new ICAL.Property(name);
    const value = time(date, event.timezone === 'UTC' ? undefined : zone);
    property.setValue(value);
    if (value.zone?.tzid && value.zone.tzid !== 'UTC') property.setParameter('tzid', value.zone.tzid);
    vevent.addProperty(property);
  }
  vevent.updatePropertyWithValue('summary', event.summary);
  vevent.updatePropertyWithValue('description', event.description);
  if (event.location) vevent.updatePropertyWithValue('location', event.location);
  vevent.updatePropertyWithValue('transp', 'OPAQUE');
  vevent.updatePropertyWithValue('x-crm-appointment-ids', event.appointmentIds.join(','));
  calendar.addSubcomponent(vevent);
  return calendar.toString() + '\r\n';
}
