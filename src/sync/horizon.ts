/** Busy time is kept from 30 days back to 365 days ahead (DESIGN.md, "Domain"). */
export const HORIZON_DAYS_BACK = 30;
export const HORIZON_DAYS_AHEAD = 365;

const DAY_MS = 86400000;

/** Returns the busy-time window around `now`, from the start of the UTC day 30 days back. */
export function horizon(now: Date = new Date()): { start: Date; end: Date } {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  return { start: new Date(today - HORIZON_DAYS_BACK * DAY_MS), end: new Date(today + HORIZON_DAYS_AHEAD * DAY_MS) };
}
