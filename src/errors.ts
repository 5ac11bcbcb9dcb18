import type { ValidationError } from 'class-validator';
import { getNamedType, GraphQLError, isObjectType, Kind, parse, visit, type FieldNode, type GraphQLFormattedError, type GraphQLSchema, type ValueNode } from 'graphql';
import { ArgumentValidationError } from 'type-graphql';
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
 * and code; argument validation (class-validator through type-graphql) becomes `BAD_USER_INPUT` naming
 * each failing argument path and constraint (`input.title: must be shorter than or equal to 300
 * characters`, `input.contact.email: must be an email`); request errors (parse, validation, limits, variable coercion) pass through with the
 * argument or variable path they concern in front; anything else is logged and shown as
 * `INTERNAL_SERVER_ERROR` without a stack trace. No message echoes more than a short excerpt of the input.
 * `schema` lets a validation failure name its argument (`input`, `filter`); without it the path starts
 * at the argument's field. The returned function never throws.
 */
export function createErrorFormatter(logger: Logger, schema?: GraphQLSchema) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = toAppError(originalOf(error));
    const base = { message: clip(formatted.message), locations: formatted.locations, path: formatted.path };
    if (original instanceof AppError) {
      return { ...base, message: original.message, extensions: { ...original.extensions, code: original.code } };
    }
    if (original instanceof ArgumentValidationError) {
      const field = error instanceof GraphQLError && error.nodes?.[0]?.kind === Kind.FIELD ? error.nodes[0] : undefined;
      const message = describeValidation(original.extensions.validationErrors, (failure) => argumentNameOf(schema, field, failure));
      return { ...base, message, extensions: { code: 'BAD_USER_INPUT' } };
    }
    const code = formatted.extensions?.code;
    if (typeof code === 'string' && REQUEST_ERROR_CODES.has(code)) {
      return { ...base, message: clip(describeRequestError(formatted.message, error)), extensions: { code } };
    }
    logger.error({ err: original }, 'unexpected error in a GraphQL operation');
    return { ...base, message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } };
  };
}

/** Messages of graphql-js quote the input they reject: never echo more than a short excerpt of it. */
const MAX_MESSAGE = 500;
/** One constraint, or the reason after a path: a value quoted in it is shortened first (see `shorten`). */
const MAX_PART = 200;
/** A validation failure listing more constraints than this says how many more there are. */
const MAX_FAILURES = 10;
const clip = (message: string, max = MAX_MESSAGE) => (message.length > max ? `${message.slice(0, max)}… (cut)` : message);
/** A client's 9,000-character string quoted in a reason would push the reason itself out of the message. */
const shorten = (text: string) => clip(text.replace(/\S{81,}/g, (word) => `${word.slice(0, 60)}…`), MAX_PART);

/** `input` + `contact` = `input.contact`; an array index reads `teamMembers[0]`, as graphql-js writes it. */
const joinPath = (path: string, property: string) => (!path ? property : /^\d+$/.test(property) ? `${path}[${property}]` : `${path}.${property}`);

/**
 * One line per failed constraint, nested properties included: `input.title: must be shorter than or equal
 * to 300 characters; input.contact.name: ...`. class-validator's own messages start with the property
 * name, which the path already says.
 */
function describeValidation(failures: readonly ValidationError[] | undefined, argumentOf: (failure: ValidationError) => string | undefined): string {
  const lines: string[] = [];
  const walk = (failure: ValidationError, path: string) => {
    for (const constraint of Object.values(failure.constraints ?? {})) {
      const own = constraint.startsWith(`${failure.property} `) ? constraint.slice(failure.property.length + 1) : constraint;
      lines.push(`${path}: ${shorten(own)}`);
    }
    for (const child of failure.children ?? []) walk(child, joinPath(path, child.property));
  };
  for (const failure of failures ?? []) walk(failure, joinPath(argumentOf(failure) ?? '', failure.property));
  if (!lines.length) return 'Invalid input: check the arguments.';
  const more = lines.length - MAX_FAILURES;
  return lines.slice(0, MAX_FAILURES).join('; ') + (more > 0 ? `; and ${more} more` : '');
}

/**
 * The name of the argument a class-validator failure belongs to. type-graphql validates each argument's
 * instance on its own and does not say which argument it was: the argument of the failing field whose
 * input type is the instance's class is the one (type-graphql names input types after their classes).
 * Failing that, the only argument given an object or a variable. An `@Args()` class has no argument of its
 * own (its properties are the arguments): undefined.
 */
function argumentNameOf(schema: GraphQLSchema | undefined, field: FieldNode | undefined, failure: ValidationError): string | undefined {
  if (!field) return undefined;
  const typeName = (failure.target as object | undefined)?.constructor?.name;
  const byType = new Set<string>();
  for (const type of Object.values(schema?.getTypeMap() ?? {})) {
    if (!isObjectType(type)) continue;
    for (const arg of type.getFields()[field.name.value]?.args ?? []) if (getNamedType(arg.type).name === typeName) byType.add(arg.name);
  }
  if (byType.size === 1) return [...byType][0];
  if (field.arguments?.some((a) => a.name.value === failure.property)) return undefined;
  const objects = field.arguments?.filter((a) => a.value.kind === Kind.OBJECT || a.value.kind === Kind.VARIABLE || a.value.kind === Kind.LIST) ?? [];
  return objects.length === 1 ? objects[0].name.value : undefined;
}

/**
 * graphql-js' own input errors, reworded so that the path comes first and the rejected value is not
 * echoed whole: `Variable "$i" got invalid value "tomorrow" at "i.startsAt"; DateTime cannot represent ...`
 * becomes `$i.startsAt: DateTime cannot represent ...`, and a literal argument's error gets its argument
 * path in front (`input.startsAt: ...`). Anything else is returned as it is.
 */
function describeRequestError(message: string, error: unknown): string {
  const variable = /^Variable "\$([_A-Za-z][_0-9A-Za-z]*)" got invalid value /.exec(message);
  if (variable) {
    const rest = message.slice(variable[0].length + lengthOfPrinted(message.slice(variable[0].length)));
    const reason = /^(?: at "([^"]*)")?; ([\s\S]*)$/.exec(rest);
    if (reason) return `$${reason[1] ?? variable[1]}: ${shorten(reason[2])}`;
    return message;
  }
  const path = error instanceof GraphQLError ? literalPathOf(error) : undefined;
  return path ? `${path}: ${shorten(message)}` : message;
}

/**
 * The length of the value graphql-js printed (with its `inspect`) at the start of `text`: a quoted string,
 * or brackets balanced outside strings, or a bare word. A quote inside a printed string is escaped, so
 * nothing a client sends can end the value early.
 */
function lengthOfPrinted(text: string): number {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      if (depth === 0) return i + 1;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      if (--depth === 0) return i + 1;
    } else if (depth === 0 && (c === ';' || c === ' ')) return i;
  }
  return text.length;
}

const VALUE_KINDS = new Set<string>([Kind.INT, Kind.FLOAT, Kind.STRING, Kind.BOOLEAN, Kind.NULL, Kind.ENUM, Kind.LIST, Kind.OBJECT]);

/**
 * The argument path (`input.contact.name`, `teamMembers[2]`) of the literal value a validation error points
 * at, found by reading the document again: graphql-js names the type but not where the value was.
 */
function literalPathOf(error: GraphQLError): string | undefined {
  const node = error.nodes?.[0];
  const source = node?.loc?.source;
  if (!node || !source || !VALUE_KINDS.has(node.kind)) return undefined;
  const start = node.loc!.start;
  let found: string | undefined;
  const search = (value: ValueNode, path: string) => {
    if (found !== undefined) return;
    if (value.loc?.start === start && value.kind === node.kind) found = path;
    else if (value.kind === Kind.OBJECT) for (const f of value.fields) search(f.value, joinPath(path, f.name.value));
    else if (value.kind === Kind.LIST) value.values.forEach((v, i) => search(v, joinPath(path, String(i))));
  };
  try {
    visit(parse(source), { Argument: (arg) => search(arg.value, arg.name.value) });
  } catch {
    return undefined; // a document that does not parse has no values to point at
  }
  return found;
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
