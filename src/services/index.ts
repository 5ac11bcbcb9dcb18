import type { Config } from '../config';
import { CredentialsCipher } from '../auth/credentials.cipher';
import type { Logger } from '../logger';
import { dialectOf, type Orm } from '../orm';
import type { EventBus } from '../pubsub';
import { createIcalReader, type IcalReader } from '../sync/ical.pool';
import { BookingService } from './booking.service';
import { ConnectThrottle } from './connect-throttle.service';
import { IntegrationService } from './integration.service';
import { KeyedMutex } from './keyed-mutex';
import { OutboxService } from './outbox.service';
import { SyncService } from './sync.service';

/** The services resolvers and jobs call; built once per process by `createServices`. */
export interface Services {
  integrations: IntegrationService;
  sync: SyncService;
  booking: BookingService;
  outbox: OutboxService;
  events: EventBus;
  logger: Logger;
  /** Reads calendar objects in worker threads; closed with the server. */
  ical: IcalReader;
}

/** Wires the services from the configuration. Throws when the credentials keys are invalid. */
export function createServices(config: Config, orm: Orm, events: EventBus, logger: Logger): Services {
  const cipher = new CredentialsCipher(config.credentialsKeys);
  const ical = createIcalReader();
  const caldav = { icloudCaldavUrl: config.icloudCaldavUrl, caldavTimeoutMs: config.caldavTimeoutMs, retryBaseSeconds: config.syncRetryBaseSeconds };
  const outbox = new OutboxService({ ...caldav, orm, cipher, events, logger, leaseSeconds: config.syncLeaseSeconds, reader: ical });
  const sync = new SyncService({
    ...caldav,
    orm,
    syncIntervalSeconds: config.syncIntervalSeconds,
    leaseSeconds: config.syncLeaseSeconds,
    syncNowMinIntervalSeconds: config.syncNowMinIntervalSeconds,
    reader: ical,
    cipher,
    events,
    logger,
    outbox,
  });
  const booking = new BookingService({ mutex: new KeyedMutex(), rowLocks: dialectOf(config.databaseUrl) === 'postgresql', afterCommit: () => outbox.kick() });
  const integrations = new IntegrationService({
    ...caldav,
    sync,
    outbox,
    cipher,
    throttle: new ConnectThrottle({ perUser: config.connectThrottleLimit, perAppleId: config.connectThrottleAppleIdLimit, windowSeconds: config.connectThrottleWindowSeconds }),
    events,
    logger,
  });
  return { integrations, sync, booking, outbox, events, logger, ical };
}
