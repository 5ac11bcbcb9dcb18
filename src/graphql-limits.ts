import { costLimitRule } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import type { ValidationRule } from 'graphql';

/** Query limits: a CRM front end needs far less; a crafted query is refused before it runs. */
export const LIMITS = { maxDepth: 8, maxCost: 5000, maxAliases: 15 };

/** Validation rules applied to every operation, over HTTP and WebSocket alike. */
export const limitRules: ValidationRule[] = [
  maxDepthRule({ n: LIMITS.maxDepth, exposeLimits: true }),
  costLimitRule({ maxCost: LIMITS.maxCost, exposeLimits: true }),
  maxAliasesRule({ n: LIMITS.maxAliases, exposeLimits: true }),
] as unknown as ValidationRule[];
