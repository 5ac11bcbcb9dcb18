import { createPubSub } from '@graphql-yoga/subscription';
import type { CalendarIntegrationType } from './resolvers/integration.types';
import type { ConflictWarningType } from './resolvers/conflict-warning.types';
import type { SyncRunType } from './resolvers/sync-run.types';

/** Who an event concerns: subscriptions deliver it only to callers allowed to see that user's data. */
export interface Audience {
  tenantId: string;
  /** The CRM user id (JWT `sub`). */
  userId: string;
}

/** Plain, serialisable payloads (ids, ISO-able dates): they may cross processes. */
export interface Topics {
  INTEGRATION_STATUS_CHANGED: [Audience & { integration: CalendarIntegrationType }];
  SYNC_RESULT: [Audience & { run: SyncRunType }];
  CONFLICT_WARNING: [Audience & { warning: ConflictWarningType }];
}

/** The publish side the services and the reconciler use; they know nothing of the transport. */
export interface EventBus {
  publish<K extends keyof Topics>(topic: K, ...payload: Topics[K]): void;
  subscribe<K extends keyof Topics>(topic: K): AsyncIterable<Topics[K][0]>;
}

/** In-process pub/sub: the embedded default for a single instance. */
export function createEventBus(): EventBus {
  const pubsub = createPubSub<Record<string, [unknown]>>();
  return {
    publish: (topic, ...payload) => pubsub.publish(topic, payload[0]),
    subscribe: <K extends keyof Topics>(topic: K) => pubsub.subscribe(topic) as AsyncIterable<Topics[K][0]>,
  };
}
