import type { Config } from '../config';
import { CredentialsCipher } from '../auth/credentials.cipher';
import type { Logger } from '../logger';
import type { EventBus } from '../pubsub';
import { ConnectThrottle } from './connect-throttle.service';
import { IntegrationService } from './integration.service';
import { SyncService } from './sync.service';

/** The services resolvers and jobs call; built once per process by `createServices`. */
export interface Services {
  integrations: IntegrationService;
  sync: SyncService;
  events: EventBus;
  logger: Logger;
}

/** Wires the services from the configuration. Throws when the credentials keys are invalid. */
export function createServices(config: Config, events: EventBus, logger: Logger): Services {
  const cipher = new CredentialsCipher(config.credentialsKeys);
  const caldav = { icloudCaldavUrl: config.icloudCaldavUrl, caldavTimeoutMs: config.caldavTimeoutMs };
  const sync = new SyncService({ ...caldav, syncIntervalSeconds: config.syncIntervalSeconds, cipher, events, logger });
  const integrations = new IntegrationService({
    ...caldav,
    sync,
    cipher,
    throttle: new ConnectThrottle(config.connectThrottleLimit, config.connectThrottleWindowSeconds),
    events,
    logger,
  });
  return { integrations, sync, events, logger };
}
