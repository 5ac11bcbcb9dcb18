import type { IncomingMessage, Server } from 'node:http';
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
