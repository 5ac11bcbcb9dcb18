import { costLimitRule } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import type { GraphQLError, ValidationContext, ValidationRule } from 'graphql';

/** Query limits: a CRM front end needs far less; a crafted query is refused before it runs. */
export const LIMITS = { maxDepth: 8, maxCost: 5000, maxAliases: 15 };

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
