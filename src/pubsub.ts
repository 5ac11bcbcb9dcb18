import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { createPubSub } from '@graphql-yoga/subscription';
import Redis from 'ioredis';
import type { ConflictWarningView, IntegrationView, SyncRunView } from './entities/events';

/** Who an event concerns: subscriptions deliver it only to callers allowed to see that user's data. */
export interface Audience {
  tenantId: string;
  /** The CRM user id (JWT `sub`). */
  userId: string;
}

/** Plain, serialisable payloads (ids, ISO-able dates): they may cross processes through Redis. */
export interface Topics {
  INTEGRATION_STATUS_CHANGED: [Audience & { integration: IntegrationView }];
  SYNC_RESULT: [Audience & { run: SyncRunView }];
  CONFLICT_WARNING: [Audience & { warning: ConflictWarningView }];
  /**
   * Internal, never sent to clients: the iCloud busy time or the CRM appointments of these users (internal ids;
   * null: everyone) changed in the database, so every instance drops what its `BusyTimeIndex` holds for them.
   * Published after the commit.
   */
  BUSY_CHANGED: [{ userIds: string[] | null }];
}

/** The publish side the services and the reconciler use; they know nothing of the transport. */
export interface EventBus {
  publish<K extends keyof Topics>(topic: K, ...payload: Topics[K]): void;
  subscribe<K extends keyof Topics>(topic: K): AsyncIterable<Topics[K][0]>;
  /** Resolves when the transport answers (Redis PING; always for the in-process bus); rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * In-process pub/sub (the embedded default, one instance), or Redis pub/sub when `redisUrl` is set, so that
 * a subscriber on one instance receives the events of a sync run on another.
 */
export function createEventBus(redisUrl?: string): EventBus {
  const clients = redisUrl ? [new Redis(redisUrl, { lazyConnect: false }), new Redis(redisUrl, { lazyConnect: false })] : [];
  const eventTarget = redisUrl ? createRedisEventTarget({ publishClient: clients[0], subscribeClient: clients[1] }) : undefined;
  const pubsub = createPubSub<Record<string, [unknown]>>(eventTarget ? { eventTarget } : undefined);
  return {
    publish: (topic, ...payload) => pubsub.publish(topic, payload[0]),
    subscribe: <K extends keyof Topics>(topic: K) => pubsub.subscribe(topic) as AsyncIterable<Topics[K][0]>,
    ping: async () => {
      for (const c of clients) await c.ping();
    },
    close: async () => {
      // QUIT on a connection that is down would wait in ioredis's offline queue for the retries to run out.
      await Promise.all(clients.map((c) => (c.status === 'ready' ? c.quit().catch(() => c.disconnect()) : c.disconnect())));
    },
  };
}
