import { freePort } from './ports';
import { launch } from './process';

/** A throwaway Redis on a free loopback port, nothing saved to disk. */
export interface RedisServer {
  url: string;
  stop(): Promise<void>;
}

/** Starts `redis-server`; throws with its output when it is missing or does not come up. */
export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  const proc = launch('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
  const deadline = Date.now() + 10000;
  while (!proc.output().includes('Ready to accept connections')) {
    if (Date.now() > deadline || proc.child.exitCode !== null) throw new Error(`Redis did not start (apt-get install redis-server):\n${proc.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url: `redis://127.0.0.1:${port}`, stop: () => proc.stop() };
}
