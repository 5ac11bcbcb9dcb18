import type { CalendarIntegration } from '../entities/calendar-integration.entity';
import { integrationView, type IntegrationView } from '../entities/events';
import type { CalendarIntegrationType } from './integration.types';

export { calendarView as toCalendarDto } from '../entities/events';

/** Returns the GraphQL view of an integration event (the payload of `integrationStatusChanged`). */
export function fromIntegrationView(v: IntegrationView): CalendarIntegrationType {
  return { ...v, lastSyncedAt: v.lastSyncedAt ? new Date(v.lastSyncedAt) : null, nextSyncAt: v.nextSyncAt ? new Date(v.nextSyncAt) : null };
}

/** Returns the API view of an integration (its calendars must be loaded). The password is not part of it, ever. */
export function toIntegrationDto(i: CalendarIntegration): CalendarIntegrationType {
  return fromIntegrationView(integrationView(i));
}
