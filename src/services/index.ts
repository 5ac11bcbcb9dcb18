import type { Config } from '../config';
import { CredentialsCipher } from '../auth/credentials.cipher';
import type { Logger } from '../logger';
import { dialectOf, type Orm } from '../orm';
import type { EventBus } from '../pubsub';
import { createCalDavClients } from '../sync/caldav/caldav-clients';
import type { DavTransport } from '../sync/caldav/dav-fetch';
import { createMetrics, type Metrics } from '../metrics';
import { createIcalReader, type IcalReader } from '../sync/ical/reader.pool';
import { AvailabilityService } from './availability.service';
import { BookingService } from './booking.service';
import { BusyService } from './busy.service';
import { BusyTimeIndex } from './busy-time-index.service';
import { CrmCalendarService } from './crm-calendar.service';
import { ConflictWarningService } from './conflict-warning.service';
import { ConnectThrottle } from './connect-throttle.service';
import { IntegrationService } from './integration.service';
import { IntegrationStatusMachine } from './integration-status';
import { KeyedMutex } from './keyed-mutex';
import { OutboxService } from './outbox.service';
import { SupportService } from './support.service';
import { SyncService } from './sync.service';
import { UserService } from './user.service';

/**
 * How long an instance may answer availability from busy time it holds in memory without reading it again
 * (the bound on staleness should a BUSY_CHANGED event be lost), and how many users it holds (about 16 bytes
 * per busy interval each).
 */
const BUSY_INDEX_TTL_MS = 60_000;
const BUSY_INDEX_MAX_USERS = 10_000;

/** The services resolvers and jobs call; built once per process by `createServices`. */
export interface Services {
  users: UserService;
  calendars: CrmCalendarService;
  availability: AvailabilityService;
  /** Users' iCloud busy time in memory for pages of slots; stopped with the server. */
  busyIndex: BusyTimeIndex;
  busy: BusyService;
  integrations: IntegrationService;
  sync: SyncService;
  booking: BookingService;
  outbox: OutboxService;
  warnings: ConflictWarningService;
  support: SupportService;
  events: EventBus;
  logger: Logger;
  /** Reads calendar objects in worker threads; closed with the server. */
  ical: IcalReader;
}

/**
 * Wires the services from the configuration; `options.transport` puts something other than the network
 * behind every CalDAV client (an in-memory server in the property tests). Throws when the credentials keys are invalid.
 */
export function createServices(config: Config, orm: Orm, events: EventBus, logger: Logger, options: { transport?: DavTransport; metrics?: Metrics } = {}): Services {
  // Services built without a server (tools, property tests) count into a registry nobody scrapes.
  const metrics = options.metrics ?? createMetrics(false);
  const cipher = new CredentialsCipher(config.credentialsKeys);
  const ical = createIcalReader();
  const clients = createCalDavClients({ serverUrl: config.icloudCaldavUrl, timeoutMs: config.caldavTimeoutMs, cipher, transport: options.transport, onResponse: (method, status) => metrics.caldavRequests.inc({ method, status }) });
  const retryBaseSeconds = config.syncRetryBaseSeconds;
  const status = new IntegrationStatusMachine({ events, syncIntervalSeconds: config.syncIntervalSeconds, retryBaseSeconds });
  const outbox = new OutboxService({ clients, status, retryBaseSeconds, orm, events, logger, leaseSeconds: config.syncLeaseSeconds, reader: ical });
  const sync = new SyncService({
    clients,
    metrics,
    status,
    orm,
    leaseSeconds: config.syncLeaseSeconds,
    syncNowMinIntervalSeconds: config.syncNowMinIntervalSeconds,
    batchObjects: config.syncBatchObjects,
    reader: ical,
    events,
    logger,
    outbox,
  });
  const users = new UserService(ical, events);
  const calendars = new CrmCalendarService();
  const busyIndex = new BusyTimeIndex(events, logger, { ttlMs: BUSY_INDEX_TTL_MS, maxUsers: BUSY_INDEX_MAX_USERS });
  const availability = new AvailabilityService({ calendars, busyIndex });
  const booking = new BookingService({ calendars, users, availability, mutex: new KeyedMutex(), rowLocks: dialectOf(config.databaseUrl) === 'postgresql', afterCommit: (userIds) => {
      if (userIds.length) events.publish('BUSY_CHANGED', { userIds });
      outbox.kick();
    },
    logger,
  });
  const support = new SupportService();
  const integrations = new IntegrationService({
    users,
    clients,
    status,
    support,
    sync,
    outbox,
    cipher,
    throttle: new ConnectThrottle({ perUser: config.connectThrottleLimit, perAppleId: config.connectThrottleAppleIdLimit, windowSeconds: config.connectThrottleWindowSeconds }),
    logger,
  });
  return { users, calendars, availability, busyIndex, busy: new BusyService(users), integrations, sync, booking, outbox, warnings: new ConflictWarningService(users), support, events, logger, ical };
}
