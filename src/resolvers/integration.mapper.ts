import type { CalendarIntegration } from '../entities/calendar-integration.entity';
import type { ExternalCalendar } from '../entities/external-calendar.entity';
import type { CalendarIntegrationType, ExternalCalendarType } from './integration.types';

/** Returns the API view of a calendar: no URLs, no sync cursors. */
export function toCalendarDto(c: ExternalCalendar): ExternalCalendarType {
  return { id: c.id, name: c.name, color: c.color, writable: c.writable, isPrimary: c.isPrimary, checkForConflicts: c.checkForConflicts };
}

/**
 * Returns the API view of an integration (its calendars must be loaded), sorted by name. Plain data:
 * it is also the payload of `integrationStatusChanged`. The password is not part of it, ever.
 */
export function toIntegrationDto(i: CalendarIntegration): CalendarIntegrationType {
  return {
    id: i.id,
    provider: i.provider,
    accountEmail: i.appleId,
    status: i.status,
    statusMessage: i.statusMessage,
    lastSyncedAt: i.lastSyncedAt,
    calendars: i.calendars
      .getItems()
      .map(toCalendarDto)
      .sort((a, b) => a.name.localeCompare(b.name)),
  };
}
