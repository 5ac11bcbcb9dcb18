import type { Principal } from '../auth/jwt';
import type { Audience } from '../pubsub';

/** Whether `principal` may see an event about `audience`'s data: their own only, for now. */
export function canSee(principal: Principal, audience: Audience): boolean {
  return principal.tenantId === audience.tenantId && principal.sub === audience.userId;
}
