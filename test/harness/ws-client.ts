import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

/** A real graphql-ws client over `ws`; `closed` resolves with the close code and reason. */
export interface WsTestClient {
  client: Client;
  closed: Promise<{ code: number; reason: string }>;
  /** Subscribes and collects every result (an error as `{ error }`); `next()` waits for the next one. */
  subscribe<T = any>(query: string, variables?: Record<string, unknown>): { results: T[]; next(timeoutMs?: number): Promise<T>; stop(): void };
}

/** Connects to the server's WebSocket endpoint (same path as HTTP) with `authorization` in connectionParams. */
export function wsClient(httpUrl: string, authorization?: string): WsTestClient {
  let resolveClosed!: (v: { code: number; reason: string }) => void;
  const closed = new Promise<{ code: number; reason: string }>((r) => (resolveClosed = r));
  const client = createClient({
    url: httpUrl.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: authorization ? { authorization: `Bearer ${authorization}` } : {},
    retryAttempts: 0,
    lazy: false,
    on: { closed: (e) => resolveClosed({ code: (e as { code: number }).code, reason: String((e as { reason: string }).reason) }) },
    onNonLazyError: () => {},
  });
  return {
    client,
    closed,
    subscribe(query, variables) {
      const results: any[] = [];
      const waiters: ((v: any) => void)[] = [];
      const deliver = (r: any) => (waiters.length ? waiters.shift()!(r) : results.push(r));
      const stop = client.subscribe({ query, variables }, { next: deliver, error: (error) => deliver({ error }), complete: () => {} });
      return {
        results,
        stop,
        next: (timeoutMs = 5000) =>
          results.length
            ? Promise.resolve(results.shift())
            : new Promise((resolve, reject) => {
                const timer = setTimeout(() => reject(new Error(`no subscription event within ${timeoutMs} ms`)), timeoutMs);
                waiters.push((v) => (clearTimeout(timer), resolve(v)));
              }),
      };
    },
  };
}
