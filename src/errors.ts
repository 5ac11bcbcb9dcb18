import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import type { Logger } from './logger';
import { CalDavError } from './sync/caldav/caldav.errors';

/** Error codes clients see in `extensions.code`. */
export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'BAD_USER_INPUT'
  | 'INVALID_APPLE_ID'
  | 'INVALID_APP_SPECIFIC_PASSWORD'
  | 'ICLOUD_AUTH_FAILED'
  | 'ICLOUD_UNAVAILABLE'
  | 'ICLOUD_BAD_RESPONSE'
  | 'TOO_MANY_ATTEMPTS'
  | 'TOO_MANY_REQUESTS'
  | 'CALENDAR_NOT_WRITABLE'
  | 'INTEGRATION_DISCONNECTED'
  | 'INTEGRATION_NEEDS_RECONNECT'
  | 'SLOT_TAKEN'
  | 'SLOT_IN_PAST'
  | 'TOO_SOON'
  | 'TOO_FAR_AHEAD'
  | 'OUTSIDE_OPEN_HOURS'
  | 'APPOINTMENT_CANCELLED';

/**
 * An error meant for the client: its message says what happened and what to do. Services throw it;
 * `formatError` turns it into a GraphQL error with `extensions.code` in one place.
 */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const APP_PASSWORD_HELP =
  'Create an app-specific password at appleid.apple.com (Sign-In and Security > App-Specific Passwords) ' +
  'and enter it in the form abcd-efgh-ijkl-mnop.';

/** Codes of errors graphql-js and Apollo produce before execution; their messages are safe to show. */
const REQUEST_ERROR_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
  'BAD_REQUEST',
  'UNAUTHENTICATED',
]);

function originalOf(error: unknown): unknown {
  let current = error;
  while (current instanceof GraphQLError && current.originalError) current = current.originalError;
  return current;
}

/**
 * Returns an Apollo `formatError` that maps every error in one place: an `AppError` keeps its message
 * and code, argument validation becomes `BAD_USER_INPUT` with the failed constraints, request errors
 * (parse, validation, limits) pass through, and anything else is logged and shown as
 * `INTERNAL_SERVER_ERROR` without a stack trace.
 */
export function createErrorFormatter(logger: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = toAppError(originalOf(error));
    const base = { message: clip(formatted.message), locations: formatted.locations, path: formatted.path };
    if (original instanceof AppError) {
      return { ...base, message: original.message, extensions: { ...original.extensions, code: original.code } };
    }
    if (original instanceof Error && original.name === 'ArgumentValidationError') {
      const constraints = (original as Error & { extensions?: { validationErrors?: unknown[] } }).extensions?.validationErrors;
      return { ...base, message: 'Invalid input: ' + describeValidation(constraints), extensions: { code: 'BAD_USER_INPUT' } };
    }
    const code = formatted.extensions?.code;
    if (typeof code === 'string' && REQUEST_ERROR_CODES.has(code)) {
      return { ...base, extensions: { code } };
    }
    logger.error({ err: original }, 'unexpected error in a GraphQL operation');
    return { ...base, message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } };
  };
}

/** Messages of graphql-js quote the input they reject: never echo more than a short excerpt of it. */
const MAX_MESSAGE = 500;
const clip = (message: string) => (message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)}… (cut)` : message);

function describeValidation(errors: unknown[] | undefined): string {
  if (!errors?.length) return 'check the arguments';
  return errors
    .map((e) => {
      const v = e as { property?: string; constraints?: Record<string, string> };
      return Object.values(v.constraints ?? {}).join(', ') || `invalid ${v.property}`;
    })
    .join('; ');
}

/**
 * Maps a CalDAV failure to the error the user sees, with what to do about it; returns `AppError`s
 * unchanged and rethrows anything else as is (a bug, shown as an internal error by `formatError`).
 */
export function toAppError(e: unknown): unknown {
  if (!(e instanceof CalDavError)) return e;
  const extensions = e.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: e.retryAfterSeconds };
  switch (e.failure) {
    case 'AUTH':
      return new AppError(
        'ICLOUD_AUTH_FAILED',
        'iCloud did not accept this Apple ID and app-specific password. Check the Apple ID; if the password was revoked ' +
          '(changing your Apple ID password revokes them all), create a new one. ' + APP_PASSWORD_HELP,
      );
    case 'UNAVAILABLE':
      return new AppError('ICLOUD_UNAVAILABLE', `iCloud Calendar cannot be reached right now (${e.message}). Nothing was changed: try again in a few minutes.`, extensions);
    case 'BAD_RESPONSE':
      return new AppError('ICLOUD_BAD_RESPONSE', `iCloud Calendar answered in a way this server cannot use (${e.message}). Nothing was changed: try again later.`);
  }
}
