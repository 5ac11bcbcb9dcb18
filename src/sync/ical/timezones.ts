import ICAL from 'ical.js';
import { tzlib_get_ical_block, tzlib_get_timezones } from 'timezones-ical-library';
import { WINDOWS_TO_IANA_MAP } from 'windows-iana';

let registered = false;

/**
 * Registers every IANA zone (VTIMEZONEs from timezones-ical-library) with ical.js, plus the Windows zone
 * names Outlook writes ("W. Europe Standard Time") as aliases of their IANA zone. Without this, a TZID
 * that the VCALENDAR does not define silently becomes floating time (CALDAV-FACTS.md, ical.js). Idempotent.
 */
export function registerTimezones(): void {
  if (registered) return;
  for (const tzid of tzlib_get_timezones() as string[]) {
    const block = tzlib_get_ical_block(tzid)[0];
    if (!block) continue;
    const component = new ICAL.Component(ICAL.parse(`BEGIN:VCALENDAR\r\n${block}\r\nEND:VCALENDAR`)).getFirstSubcomponent('vtimezone');
    if (component) ICAL.TimezoneService.register(new ICAL.Timezone(component), tzid);
  }
  // Territory "001" is CLDR's primary IANA zone for a Windows name.
  for (const { windowsName, territory, iana } of WINDOWS_TO_IANA_MAP) {
    const target = iana.find((z) => ICAL.TimezoneService.has(z));
    if (territory === '001' && target && !ICAL.TimezoneService.has(windowsName)) {
      ICAL.TimezoneService.register(ICAL.TimezoneService.get(target), windowsName);
    }
  }
  registered = true;
}

/** Returns the ical.js zone for an IANA or Windows name, or undefined when none is known. */
export function zoneFor(tzid: string): ICAL.Timezone | undefined {
  registerTimezones();
  return ICAL.TimezoneService.has(tzid) ? ICAL.TimezoneService.get(tzid) : undefined;
}

/**
 * True when `zone` is a time zone this server can both compute with (`Intl`, for slots and local times) and
 * write to iCloud (a VTIMEZONE from the zone database ical.js uses): the one test every input zone passes.
 */
export function isTimeZone(zone: string): boolean {
  if (zone === 'UTC') return true;
  if (!zone || !zoneFor(zone)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Returns the ical.js zone for `zone`. Throws an `Error` naming it when the server does not know it (never UTC by default). */
export function requireZone(zone: string): ICAL.Timezone {
  if (zone === 'UTC') return ICAL.Timezone.utcTimezone;
  const found = zoneFor(zone);
  if (!found) throw new Error(`unknown time zone "${zone}"`);
  return found;
}
