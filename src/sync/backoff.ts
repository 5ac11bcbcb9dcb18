/** After this many consecutive failures an integration shows `ERROR` (it keeps retrying, less often). */
export const FAILURES_BEFORE_ERROR = 5;

const BASE_SECONDS = 60;
const MAX_SECONDS = 6 * 3600;

/**
 * Seconds to wait before the next attempt after `failures` consecutive failures: exponential from one
 * minute, capped at six hours, and never sooner than the server's Retry-After (RFC 9110 section 10.2.3).
 */
export function backoffSeconds(failures: number, retryAfterSeconds?: number): number {
  const exponential = Math.min(MAX_SECONDS, BASE_SECONDS * 2 ** Math.max(0, failures - 1));
  return Math.max(exponential, retryAfterSeconds ?? 0);
}
