import { getOperationAST, GraphQLError, Kind, type DocumentNode, type FragmentDefinitionNode, type SelectionNode } from 'graphql';
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

/**
 * Support staff read; apart from `syncNow` they never change anything. Checked once per operation, on the
 * root fields of a mutation (through fragments too), by Apollo and by graphql-ws alike: a field middleware
 * did the same on every field of every answer and cost a large share of a big answer's CPU.
 * Returns the refusal, or undefined.
 */
export function supportWriteRefusal(principal: Principal | undefined, document: DocumentNode, operationName?: string | null): GraphQLError | undefined {
  if (principal?.role !== 'support') return undefined;
  const operation = getOperationAST(document, operationName ?? undefined);
  if (operation?.operation !== 'mutation') return undefined;
  const fragments = new Map(document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]));
  const roots: string[] = [];
  const seen = new Set<string>();
  const walk = (selections: readonly SelectionNode[]) => {
    for (const s of selections) {
      if (s.kind === Kind.FIELD) roots.push(s.name.value);
      else if (s.kind === Kind.INLINE_FRAGMENT) walk(s.selectionSet.selections);
      else if (!seen.has(s.name.value) && fragments.has(s.name.value)) {
        seen.add(s.name.value);
        walk(fragments.get(s.name.value)!.selectionSet.selections);
      }
    }
  };
  walk(operation.selectionSet.selections);
  if (roots.every((name) => SUPPORT_MAY.has(name) || name === '__typename')) return undefined;
  const refused = new AppError('FORBIDDEN', 'Support access is read-only (syncNow excepted).');
  return new GraphQLError(refused.message, { extensions: { code: refused.code, http: { status: 200 } }, originalError: refused });
}
