import { CalDavError } from './caldav.errors';
import { isAllowedTransport } from './transport-policy';

export interface DavFetchOptions {
  username: string;
  password: string;
  timeoutMs: number;
  /** Called once per HTTP request sent (redirect hops included): the sync counts its requests. */
  onRequest?: () => void;
  /** Called once per answer with the method and status ('error' when none came): the metrics count them. */
  onResponse?: (method: string, status: string) => void;
  /** Sends one request (no redirects followed): the global fetch unless a test puts a server in memory. */
  transport?: DavTransport;
}

export type DavFetch = (url: string | URL, init?: RequestInit) => Promise<Response>;

/** What carries one HTTP exchange; `fetch`'s signature, so an in-memory CalDAV server can stand in for the network. */
export type DavTransport = (url: URL, init: RequestInit) => Promise<Response>;

const MAX_REDIRECTS = 5;

function describeNetworkError(e: unknown, url: URL, timeoutMs: number): string {
  const err = e as Error & { cause?: { code?: string } };
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return `${url.host} did not answer within ${timeoutMs / 1000} s`;
  return `cannot reach ${url.host}${err.cause?.code ? ` (${err.cause.code})` : ''}`;
}

/**
 * Returns a fetch that sends Basic credentials, times out, and follows redirects itself:
 * Node's fetch drops `Authorization` on a cross-origin redirect (CALDAV-FACTS.md), and credentials
 * must never go over plain HTTP to a non-loopback host, wherever a redirect points.
 * The returned promise rejects with `CalDavError('UNAVAILABLE')` on network errors and timeouts and
 * `CalDavError('BAD_RESPONSE')` for a disallowed or endless redirect; HTTP statuses are left to the caller.
 */
export function createDavFetch(options: DavFetchOptions): DavFetch {
  const transport: DavTransport = options.transport ?? ((url, init) => fetch(url, init));
  const authorization = 'Basic ' + Buffer.from(`${options.username}:${options.password}`).toString('base64');
  return async (input, init = {}) => {
    let url = new URL(String(input));
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      if (!isAllowedTransport(url)) {
        throw new CalDavError('BAD_RESPONSE', `refusing to send credentials over plain HTTP to ${url.host}`);
      }
      const headers = new Headers(init.headers);
      headers.set('Authorization', authorization);
      options.onRequest?.();
      let response: Response;
      try {
        response = await transport(url, { ...init, headers, redirect: 'manual', signal: AbortSignal.timeout(options.timeoutMs) });
      } catch (e) {
        options.onResponse?.(init.method ?? 'GET', 'error');
        throw new CalDavError('UNAVAILABLE', describeNetworkError(e, url, options.timeoutMs));
      }
      options.onResponse?.(init.method ?? 'GET', String(response.status));
      const location = response.headers.get('location');
      if (response.status < 300 || response.status >= 400 || !location) return withUrl(response, url);
      await response.body?.cancel();
      url = new URL(location, url);
    }
    throw new CalDavError('BAD_RESPONSE', `too many redirects from ${String(input)}`);
  };
}

/** A manually followed fetch keeps `url` empty on some paths; the client resolves hrefs against it. */
function withUrl(response: Response, url: URL): Response {
  if (response.url) return response;
  Object.defineProperty(response, 'url', { value: url.href });
  return response;
}
