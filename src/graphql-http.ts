import { HeaderMap, type ApolloServer, type BaseContext } from '@apollo/server';
import type { FormattedExecutionResult } from 'graphql';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { refuseOversized } from './graphql-limits';
import { jsonBytes } from './json-bytes';
import type { Logger } from './logger';

/** The largest request body accepted, as `express.json({ limit: '1mb' })` has it. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** A JSON error answer: the same shape as GraphQL errors, never an HTML page or a stack trace. */
export function sendError(res: ServerResponse, status: number, message: string, code: string): void {
  const body = JSON.stringify({ errors: [{ message, extensions: { code } }] });
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(body));
  res.end(body);
}

export interface GraphqlPostOptions<C extends BaseContext> {
  apollo: ApolloServer<C>;
  path: string;
  /** The context of one operation (throws to refuse it, e.g. for a bad token). */
  context(req: IncomingMessage): Promise<C>;
  /** Called first, with `next` to go on (synchronously or not): the CORS headers and the request id. */
  before(req: IncomingMessage, res: ServerResponse, next: () => void): void;
  /** Where an error outside GraphQL is logged (the client gets a 500 without it), as express's error handler does. */
  logger: Pick<Logger, 'error'>;
}

/**
 * The handler of the common request, a POST of uncompressed JSON to the GraphQL path: read, checked and
 * handed to Apollo without express's router, body parser and `res.send` (an ETag hashed over every answer).
 * Those cost about a fifth of a simple query's CPU. Returns false for anything else (GET, OPTIONS, another
 * path or body encoding): express answers that, as before. The answers are the same either way: a body over
 * 1 MB gets 413, malformed JSON 400, both as JSON errors; `refuseOversized` runs before Apollo parses.
 */
export function graphqlPostHandler<C extends BaseContext>(options: GraphqlPostOptions<C>): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    if (req.method !== 'POST' || !isPath(req.url, options.path)) return false;
    const type = req.headers['content-type'];
    if (!type || !/^application\/json\s*(;|$)/i.test(type) || !/^(identity)?$/i.test(req.headers['content-encoding'] ?? '')) return false;
    options.before(req, res, () => {
      handle(options, req, res).catch((err: unknown) => {
        options.logger.error({ err }, 'unexpected error outside GraphQL');
        if (!res.headersSent) sendError(res, 500, 'Internal server error', 'INTERNAL_SERVER_ERROR');
        else res.destroy();
      });
    });
    return true;
  };
}

function isPath(url: string | undefined, path: string): boolean {
  if (!url || !url.startsWith(path)) return false;
  const rest = url.slice(path.length);
  return rest === '' || rest === '/' || rest.startsWith('?') || rest.startsWith('/?');
}

async function handle<C extends BaseContext>(options: GraphqlPostOptions<C>, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const text = await readBody(req);
  if (text === undefined) return sendError(res, 413, 'The request body is larger than 1 MB.', 'BAD_REQUEST');
  let body: unknown;
  try {
    // As body-parser's strict mode: only an object or an array is a JSON request.
    if (!/^[\s]*[[{]/.test(text)) throw new SyntaxError('not an object');
    body = JSON.parse(text);
  } catch {
    return sendError(res, 400, 'The request body is not valid JSON.', 'BAD_REQUEST');
  }
  const refused = body && typeof body === 'object' && !Array.isArray(body) ? refuseOversized(body as Record<string, unknown>) : undefined;
  if (refused) return sendError(res, 400, refused.message, String(refused.extensions.code));
  await execute(options, req, res, body);
}

/** Runs one GraphQL HTTP request through Apollo with `body` (parsed JSON, or none for a GET) and sends its answer. */
async function execute<C extends BaseContext>(options: Pick<GraphqlPostOptions<C>, 'apollo' | 'context'>, req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
  const headers = new HeaderMap();
  for (const [key, value] of Object.entries(req.headers)) if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
  const queryAt = req.url!.indexOf('?');
  const answer = await options.apollo.executeHTTPGraphQLRequest({
    httpGraphQLRequest: { method: (req.method ?? 'GET').toUpperCase(), headers, search: queryAt < 0 ? '' : req.url!.slice(queryAt), body },
    context: () => options.context(req),
  });
  for (const [key, value] of answer.headers) res.setHeader(key, value);
  res.statusCode = answer.status ?? 200;
  if (answer.body.kind === 'complete') {
    // Bytes from `answerBytes`; a text only where Apollo made one itself (a landing page), encoded here: written
    // as a string, a large answer cost three times the CPU of one Buffer.
    const text: string | Buffer = answer.body.string;
    const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
    res.setHeader('content-length', bytes.length);
    res.end(bytes);
    return;
  }
  for await (const chunk of answer.body.asyncIterator) res.write(chunk);
  res.end();
}

/**
 * Apollo's `stringifyResult` option: an answer as the UTF-8 bytes of its JSON (`jsonBytes`), which Apollo passes
 * on where its type says a string. Only `execute` reads them, which is why every GraphQL answer over HTTP goes
 * through it (`graphqlPostHandler`, and `graphqlExpressHandler` for the rest).
 */
export function answerBytes(value: FormattedExecutionResult): string {
  return jsonBytes(value) as unknown as string;
}

/**
 * The express handler for the GraphQL requests `graphqlPostHandler` leaves to express (GET, other content types),
 * after `express.json()`: the same execution and answer. Errors go to express's error handler.
 */
export function graphqlExpressHandler<C extends BaseContext>(options: Pick<GraphqlPostOptions<C>, 'apollo' | 'context'>): (req: IncomingMessage & { body?: unknown }, res: ServerResponse, next: (e: unknown) => void) => void {
  return (req, res, next) => void execute(options, req, res, req.body).catch(next);
}

/** The body as UTF-8 text, or undefined when it is larger than `MAX_BODY_BYTES` (the rest is not read). */
function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) {
      req.resume();
      return resolve(undefined);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        req.removeAllListeners('data');
        req.resume();
        resolve(undefined);
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks, size).toString('utf8')));
    req.on('error', reject);
  });
}
