import { request, type Agent, type IncomingMessage, type Server } from 'node:http';
import { freePort } from './ports';

/** The whole body of a request. */
export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Listens on a free port of `host`; resolves with the base URL. */
export function listen(server: Server, host: string): Promise<string> {
  return new Promise(async (resolve, reject) => {
    const port = await freePort(host);
    server.once('error', reject);
    server.listen(port, host, () => resolve(`http://${host}:${port}`));
  });
}

/** Response headers that can be passed on after fetch has decoded the body (no framing, no encoding). */
export function passableHeaders(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((v, k) => {
    if (!['content-length', 'content-encoding', 'transfer-encoding', 'connection', 'keep-alive'].includes(k)) out[k] = v;
  });
  return out;
}

/** A JSON POST's answer: its size in bytes and its text (empty when it was not kept). */
export interface PostAnswer {
  size: number;
  text: string;
}

/**
 * POSTs `body` (JSON) to `url` with a bearer token over `agent`'s kept-alive connections. Rejects unless the answer
 * is HTTP 200, with its status and the start of its text. `keepText` false keeps only the size (a timed loop:
 * decoding a large answer is the client's work, not the server's).
 */
export function postJson(agent: Agent, url: string, token: string, body: string, keepText = true): Promise<PostAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${token}` } }, (res) => {
      const ok = res.statusCode === 200;
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (keepText || !ok) chunks.push(c);
      });
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (ok) resolve({ size, text });
        else reject(new Error(`HTTP ${res.statusCode}: ${text.slice(0, 300)}`));
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
