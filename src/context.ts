import type { EntityManager } from '@mikro-orm/core';
import type { Principal } from './auth/jwt';
import type { Services } from './services';

/** What every resolver receives: the caller, a request-scoped EntityManager and the services. */
export interface Context {
  principal: Principal;
  em: EntityManager;
  services: Services;
}
