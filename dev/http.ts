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

/** A JSON POST's answer: its status, its size in bytes and its text (empty when it was not kept). */
export interface PostAnswer {
  status: number;
  size: number;
  text: string;
}

/**
 * POSTs `body` (JSON) to `url` with a bearer token over `agent`'s kept-alive connections. `keepText` false keeps
 * only the size of a 200 answer (a timed loop: decoding a large answer is the client's work, not the server's).
 */
export function postJson(agent: Agent, url: string, token: string, body: string, keepText = true): Promise<PostAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${token}` } }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (keepText || res.statusCode !== 200) chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, size, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
