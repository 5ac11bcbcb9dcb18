import type { MiddlewareFn } from 'type-graphql';
import type { Principal } from '../auth/jwt';
import type { Context } from '../context';
import { AppError } from '../errors';
import type { Audience } from '../pubsub';

/**
 * Whether `principal` may see an event about `audience`'s data: users their own, a tenant admin the whole
 * tenant, support every tenant (read-only).
 */
export function canSee(principal: Principal, audience: Audience): boolean {
  if (principal.role === 'support') return true;
  if (principal.tenantId !== audience.tenantId) return false;
  return principal.role === 'admin' || principal.sub === audience.userId;
}

/** Yields only the events the subscriber may see and wants (checked per event: the caller's rights decide). */
export async function* visibleTo<T extends Audience>(context: Context, source: AsyncIterable<T>, wanted: (event: T) => boolean = () => true): AsyncIterable<T> {
  for await (const event of source) if (canSee(context.principal, event) && wanted(event)) yield event;
}

/** The one write support staff may do: sync an account now (it changes nothing the user chose). */
const SUPPORT_MAY = new Set(['syncNow']);

/** Support staff read; apart from `syncNow` they never change anything. Applied to every resolver. */
export const supportIsReadOnly: MiddlewareFn<Context> = ({ info, context }, next) => {
  // Checked on the mutation's root fields: the fields of an allowed mutation's result resolve as usual.
  if (context.principal.role === 'support' && info.parentType === info.schema.getMutationType() && !SUPPORT_MAY.has(info.fieldName)) {
    throw new AppError('FORBIDDEN', 'Support access is read-only.');
  }
  return next();
};
