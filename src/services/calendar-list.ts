import type { CalendarIntegration } from '../entities/calendar-integration.entity';
import { ExternalCalendar } from '../entities/external-calendar.entity';
import type { DiscoveredCalendar } from '../sync/caldav.client';

const PICK_ANOTHER = 'pick another primary calendar.';

/** The reconciler lists an account's calendars again at most this often (calendars added or removed in iCloud). */
export const CALENDAR_LIST_EVERY_MS = 3600 * 1000;

/** True for the status message that asks the user to choose a new primary calendar (choosing one answers it). */
export function asksForAnotherPrimary(message: string | null): boolean {
  return message?.endsWith(PICK_ANOTHER) ?? false;
}

/**
 * Brings the stored calendar list in line with iCloud's, keeping the user's choices by href. A primary that
 * disappeared or became read-only leaves a status message asking for another.
 */
export function applyCalendarList(integration: CalendarIntegration, listed: DiscoveredCalendar[]): void {
  const removedPrimary = (name: string) => {
    integration.statusMessage = `Your primary calendar "${name}" no longer exists in iCloud (or is read-only now): ${PICK_ANOTHER}`;
  };
  const byHref = new Map(listed.map((c) => [c.href, c]));
  for (const stored of integration.calendars.getItems()) {
    if (byHref.has(stored.href)) continue;
    if (stored.isPrimary) removedPrimary(stored.name);
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
      removedPrimary(stored.name);
    }
  }
  integration.calendarsRefreshedAt = new Date();
}
