/** After this many consecutive failures an integration shows `ERROR` (it keeps retrying). */
export const FAILURES_BEFORE_ERROR = 3;

/** A server's Retry-After is honoured up to a day: a hostile or broken value must not park an account for years. */
const MAX_RETRY_AFTER_SECONDS = 24 * 3600;

/**
 * Seconds to wait before the next attempt after `failures` consecutive failures: exponential from
 * `baseSeconds`, capped at 60 times the base (30 minutes by default, so that an account recovers soon after
 * an outage ends), and never sooner than the server's Retry-After (RFC 9110 section 10.2.3).
 */
export function backoffSeconds(baseSeconds: number, failures: number, retryAfterSeconds?: number): number {
  const exponential = Math.min(baseSeconds * 60, baseSeconds * 2 ** Math.max(0, failures - 1));
  return Math.max(exponential, Math.min(retryAfterSeconds ?? 0, MAX_RETRY_AFTER_SECONDS));
}
