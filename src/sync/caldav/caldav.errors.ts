/** Why a CalDAV exchange failed, which decides what the user and the reconciler do about it. */
export type CalDavFailure =
  /** 401: the app-specific password is wrong or was revoked; retrying will not help. */
  | 'AUTH'
  /** Unreachable, timed out, 429 or 5xx: worth retrying later (honour `retryAfterSeconds`). */
  | 'UNAVAILABLE'
  /** The server answered something this client cannot use (malformed XML, missing properties, 4xx). */
  | 'BAD_RESPONSE';

/** Thrown by the CalDAV client; mapped to a GraphQL error code in `errors.ts`. */
export class CalDavError extends Error {
  constructor(
    readonly failure: CalDavFailure,
    message: string,
    readonly status?: number,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'CalDavError';
  }
}

/** Reads `Retry-After` (seconds or an HTTP date, RFC 9110 section 10.2.3) as whole seconds. */
export function retryAfterSeconds(value: string | null): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

/** Returns the error for an HTTP status that is not a success, by status rather than by message. */
export function errorForStatus(status: number, url: string, retryAfter?: string | null): CalDavError {
  const where = new URL(url).host;
  if (status === 401) return new CalDavError('AUTH', `${where} refused the Apple ID or app-specific password (401)`, status);
  if (status === 429 || status >= 500) {
    return new CalDavError('UNAVAILABLE', `${where} is unavailable (HTTP ${status})`, status, retryAfterSeconds(retryAfter ?? null));
  }
  return new CalDavError('BAD_RESPONSE', `${where} answered HTTP ${status} for ${new URL(url).pathname}`, status);
}
