import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listen, passableHeaders, readBody } from './http';

/**
 * What can go wrong between the server and iCloud. `status`, `reset` and `timeout` happen before the
 * request reaches the CalDAV server; the others after it was applied there (so a write took effect although
 * its answer never arrived or made no sense).
 */
export type FaultKind =
  | 'status' // answered by the proxy with `status` (and Retry-After when given)
  | 'reset' // connection reset before forwarding
  | 'timeout' // never answered; the client gives up
  | 'lostAnswer' // forwarded and applied, then the connection is reset
  | 'truncate' // forwarded; half of the answer, then a reset
  | 'malformedXml' // forwarded; a multistatus answer replaced with broken XML
  | 'malformedICalendar' // forwarded; calendar-data in the answer replaced with broken iCalendar
  | 'innerError' // forwarded; a 207 whose inner status is `status`
  | 'invalidSyncToken'; // a sync-collection REPORT with a token answered 403 valid-sync-token

export interface Fault {
  kind: FaultKind;
  status?: number;
  retryAfterSeconds?: number;
}

export interface FaultMatch {
  /** Only requests of this method (PUT, DELETE, REPORT, PROPFIND, GET). */
  method?: string;
}

export interface FaultProxy {
  url: string;
  /** The next request that matches gets `fault`. */
  inject(fault: Fault, match?: FaultMatch): void;
  /** From now on each request gets a random fault of `faults` with probability `rate` (deterministic for a seed); rate 0 stops. */
  random(rate: number, seed: number, faults: Fault[]): void;
  /** Every request waits `ms` before it is forwarded (0 turns it off): a slow iCloud. */
  delay(ms: number): void;
  /** Stops listening: every connection is refused, as when iCloud is down, until `up()`. */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  /** Faults injected so far, by kind. */
  injected: Record<string, number>;
  requests: number;
  /** The most requests under way at once so far (set it to 0 to measure afresh). */
  peakInFlight: number;
  stop(): Promise<void>;
}

/** mulberry32: a small seeded PRNG, so that a failing seed replays the same faults. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const BROKEN_XML = '<?xml version="1.0"?><d:multistatus xmlns:d="DAV:"><d:response><d:href>/x</d:hr';

/**
 * Starts an HTTP proxy on a loopback port in front of `target` (a real CalDAV server, or the iCloud
 * emulation) that passes everything through except the faults it is told to inject.
 */
export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const queued: { fault: Fault; match: FaultMatch }[] = [];
  const injected: Record<string, number> = {};
  let delayMs = 0;
  let randomFaults: { rate: number; next: () => number; faults: Fault[] } | undefined;
  const proxy: FaultProxy = {
    url: '',
    inject: (fault, match = {}) => void queued.push({ fault, match }),
    delay: (ms) => void (delayMs = ms),
    random: (rate, seed, faults) => void (randomFaults = rate > 0 ? { rate, next: prng(seed), faults } : undefined),
    injected,
    requests: 0,
    peakInFlight: 0,
    down: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
    up: () => new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(Number(new URL(proxy.url).port), '127.0.0.1', () => resolve());
    }),
    stop: async () => {
      if (server.listening) await proxy.down();
    },
  };

  function pick(req: IncomingMessage, body: string): Fault | undefined {
    const index = queued.findIndex(({ match }) => !match.method || match.method === req.method);
    if (index >= 0) return queued.splice(index, 1)[0].fault;
    if (!randomFaults || randomFaults.next() >= randomFaults.rate) return undefined;
    const fault = randomFaults.faults[Math.floor(randomFaults.next() * randomFaults.faults.length)];
    // A fault that cannot apply to this request passes it through untouched.
    if (fault.kind === 'invalidSyncToken' && !/sync-token>[^<]/.test(body)) return undefined;
    return fault;
  }

  let inFlight = 0;
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    proxy.requests++;
    proxy.peakInFlight = Math.max(proxy.peakInFlight, ++inFlight);
    res.once('close', () => inFlight--);
    const body = await readBody(req);
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    const fault = pick(req, body.toString());
    if (fault) injected[fault.kind] = (injected[fault.kind] ?? 0) + 1;
    switch (fault?.kind) {
      case 'status': {
        const headers: Record<string, string> = { 'Content-Type': 'text/plain' };
        if (fault.retryAfterSeconds !== undefined) headers['Retry-After'] = String(fault.retryAfterSeconds);
        return void res.writeHead(fault.status ?? 503, headers).end('injected failure');
      }
      case 'reset':
        return void req.socket.destroy();
      case 'timeout':
        return; // the socket stays open until the client gives up (or the proxy stops)
      case 'invalidSyncToken':
        res.writeHead(403, { 'Content-Type': 'application/xml; charset=utf-8' });
        return void res.end('<?xml version="1.0"?><D:error xmlns:D="DAV:"><D:valid-sync-token/></D:error>');
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && !['host', 'content-length', 'connection'].includes(k)) headers[k] = v;
    const upstream = await fetch(new URL(req.url ?? '/', target), { method: req.method, headers, body: body.length ? body : undefined, redirect: 'manual' });
    let text = await upstream.text();
    let status = upstream.status;
    switch (fault?.kind) {
      case 'lostAnswer':
        return void req.socket.destroy();
      case 'truncate':
        res.writeHead(status, passableHeaders(upstream.headers));
        res.write(text.slice(0, Math.floor(text.length / 2)));
        return void setTimeout(() => req.socket.destroy(), 10);
      case 'malformedXml':
        if (status === 207) text = BROKEN_XML;
        break;
      case 'malformedICalendar':
        text = text.replace(/(<(?:[A-Za-z]+:)?calendar-data[^>]*>)[^<]*/, '$1BEGIN:VCALENDAR\nBROKEN');
        break;
      case 'innerError':
        status = 207;
        text = `<?xml version="1.0"?><d:multistatus xmlns:d="DAV:"><d:response><d:href>${new URL(req.url ?? '/', target).pathname}</d:href><d:status>HTTP/1.1 ${fault.status ?? 500} Injected</d:status></d:response></d:multistatus>`;
        break;
    }
    res.writeHead(status, passableHeaders(upstream.headers));
    res.end(text);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      if (!res.headersSent) res.writeHead(502);
      res.end(String(e));
    });
  });
  proxy.url = await listen(server, '127.0.0.1');
  return proxy;
}
