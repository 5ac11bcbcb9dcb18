import { IntegrationStatus, type CalendarIntegration } from '../entities/calendar-integration.entity';
import type { EventBus } from '../pubsub';
import { integrationView } from '../entities/events';

/**
 * Publishes `integrationStatusChanged` when the status differs from `before` (the contract: it fires
 * only when the status actually changes). The integration's user and calendars must be loaded.
 */
export function publishStatusIfChanged(events: EventBus, integration: CalendarIntegration, before: IntegrationStatus | undefined): void {
  if (before === integration.status) return;
  events.publish('INTEGRATION_STATUS_CHANGED', {
    tenantId: integration.tenantId,
    userId: integration.user.externalId,
    integration: integrationView(integration),
  });
}

const RECONNECT_MESSAGE =
  'iCloud refused the app-specific password (it was revoked, or the Apple ID password changed, which revokes them all): ' +
  'create a new app-specific password at appleid.apple.com and connect again.';

/**
 * A 401 on a working connection: the password was revoked. The integration waits, with no more attempts,
 * until the user reconnects. Returns the status it had, for `publishStatusIfChanged`.
 */
export function markNeedsReconnect(integration: CalendarIntegration): IntegrationStatus {
  const before = integration.status;
  Object.assign(integration, { status: IntegrationStatus.NEEDS_RECONNECT, statusMessage: RECONNECT_MESSAGE, nextSyncAt: null });
  return before;
}
