import type { Principal } from '../auth/jwt';
import type { Context } from '../context';
import type { Audience } from '../pubsub';

/** Whether `principal` may see an event about `audience`'s data: their own only, for now. */
export function canSee(principal: Principal, audience: Audience): boolean {
  return principal.tenantId === audience.tenantId && principal.sub === audience.userId;
}

/** Yields only the events the subscriber may see and wants (checked per event: the caller's rights decide). */
export async function* visibleTo<T extends Audience>(context: Context, source: AsyncIterable<T>, wanted: (event: T) => boolean = () => true): AsyncIterable<T> {
  for await (const event of source) if (canSee(context.principal, event) && wanted(event)) yield event;
}
