import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForHttp } from './ports';
import { launch } from './process';

/** A real Xandikos server (no authentication) on a free loopback port; principal `/user/`. */
export interface XandikosServer {
  url: string;
  stop(): Promise<void>;
}

/** Starts `/usr/bin/xandikos --defaults`; throws with its output when it is missing or does not come up. */
export async function startXandikos(): Promise<XandikosServer> {
  const dir = mkdtempSync(join(tmpdir(), 'xandikos-'));
  const port = await freePort();
  const proc = launch('/usr/bin/xandikos', ['-d', dir, '--defaults', '-l', '127.0.0.1', '-p', String(port), '--current-user-principal', '/user/']);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(url + '/');
  } catch (e) {
    await proc.stop();
    throw new Error(`Xandikos did not start (apt-get install xandikos): ${(e as Error).message}\n${proc.output()}`);
  }
  return {
    url,
    stop: async () => {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
