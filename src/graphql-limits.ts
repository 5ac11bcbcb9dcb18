import { costLimitRule } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { GraphQLError, parse, type ValidationContext, type ValidationRule } from 'graphql';

/** Query limits: a CRM front end needs far less; a crafted query is refused before it runs. */
export const LIMITS = { maxDepth: 8, maxCost: 5000, maxAliases: 15, maxTokens: 3000, maxQueryChars: 50000, maxArgumentChars: 10000 };

/**
 * graphql-armor throws from inside validation by default, which Apollo and graphql-ws treat as an
 * internal error; reporting instead makes the refusal an ordinary GRAPHQL_VALIDATION_FAILED error.
 */
const report = {
  exposeLimits: true,
  propagateOnRejection: false,
  onReject: [(context: ValidationContext | null, error: GraphQLError) => context?.reportError(error)],
};

/** Validation rules applied to every operation, over HTTP and WebSocket alike. */
export const limitRules: ValidationRule[] = [
  maxDepthRule({ n: LIMITS.maxDepth, ...report }),
  costLimitRule({ maxCost: LIMITS.maxCost, ...report }),
  maxAliasesRule({ n: LIMITS.maxAliases, ...report }),
] as unknown as ValidationRule[];

/** The longest string among `value`'s strings, however deeply nested (bounded by the 1 MB body). */
function longestString(value: unknown, depth = 0): number {
  if (typeof value === 'string') return value.length;
  if (value === null || typeof value !== 'object' || depth > 20) return 0;
  let longest = 0;
  for (const v of Object.values(value)) longest = Math.max(longest, longestString(v, depth + 1));
  return longest;
}

/** Query texts counted within the limit already: front ends send the same few queries over and over. */
const withinTokens = new Set<string>();

/**
 * Checks an operation before it is parsed: document length, token count (graphql-js stops counting at the
 * limit, so a huge document costs little) and the length of every variable. Returns the error to answer
 * with (which never echoes the input), or undefined when the operation may go on.
 */
export function refuseOversized(payload: { query?: unknown; variables?: unknown }): GraphQLError | undefined {
  const refuse = (message: string) => new GraphQLError(message, { extensions: { code: 'BAD_REQUEST' } });
  const query = typeof payload.query === 'string' ? payload.query : '';
  if (query.length > LIMITS.maxQueryChars) return refuse(`The query is longer than ${LIMITS.maxQueryChars} characters.`);
  if (longestString(payload.variables) > LIMITS.maxArgumentChars) return refuse(`A variable is longer than ${LIMITS.maxArgumentChars} characters.`);
  if (!query || withinTokens.has(query)) return undefined;
  try {
    parse(query, { maxTokens: LIMITS.maxTokens });
  } catch (e) {
    if (/tokens\. Parsing aborted/i.test((e as Error).message)) return refuse(`The query has more than ${LIMITS.maxTokens} tokens.`);
    return undefined; // A syntax error: Apollo answers it.
  }
  if (withinTokens.size >= 1000) withinTokens.clear();
  withinTokens.add(query);
  return undefined;
}
