import type { CalendarIntegration, IntegrationStatus } from '../entities/calendar-integration.entity';
import type { EventBus } from '../pubsub';
import { toIntegrationDto } from '../resolvers/integration.mapper';

/**
 * Publishes `integrationStatusChanged` when the status differs from `before` (the contract: it fires
 * only when the status actually changes). The integration's user and calendars must be loaded.
 */
export function publishStatusIfChanged(events: EventBus, integration: CalendarIntegration, before: IntegrationStatus | undefined): void {
  if (before === integration.status) return;
  events.publish('INTEGRATION_STATUS_CHANGED', {
    tenantId: integration.tenantId,
    userId: integration.user.externalId,
    integration: toIntegrationDto(integration),
  });
}
