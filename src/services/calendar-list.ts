import type { CalendarIntegration } from '../entities/calendar-integration.entity';
import { ExternalCalendar } from '../entities/external-calendar.entity';
import type { DiscoveredCalendar } from '../sync/caldav/caldav.client';

/** The reconciler lists an account's calendars again at most this often (calendars added or removed in iCloud). */
export const CALENDAR_LIST_EVERY_MS = 3600 * 1000;

/**
 * Brings the stored calendar list in line with iCloud's, keeping the user's choices by href. Returns the
 * name of a primary calendar that disappeared or became read-only (no longer primary), for the status message.
 */
export function applyCalendarList(integration: CalendarIntegration, listed: DiscoveredCalendar[]): string | null {
  let lostPrimary: string | null = null;
  const byHref = new Map(listed.map((c) => [c.href, c]));
  for (const stored of integration.calendars.getItems()) {
    if (byHref.has(stored.href)) continue;
    if (stored.isPrimary) lostPrimary = stored.name;
    integration.calendars.remove(stored);
  }
  for (const fresh of listed) {
    let stored = integration.calendars.getItems().find((c) => c.href === fresh.href);
    if (!stored) {
      stored = new ExternalCalendar();
      stored.href = fresh.href;
      integration.calendars.add(stored);
    }
    Object.assign(stored, { name: fresh.name, color: fresh.color, writable: fresh.writable });
    if (stored.isPrimary && !fresh.writable) {
      stored.isPrimary = false;
      lostPrimary = stored.name;
    }
  }
  integration.calendarsRefreshedAt = new Date();
  return lostPrimary;
}
