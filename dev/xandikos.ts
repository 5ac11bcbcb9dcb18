import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports';
import { launchHttpDaemon } from './process';

/** A real Xandikos server (no authentication) on a free loopback port; principal `/user/`. */
export interface XandikosServer {
  url: string;
  stop(): Promise<void>;
}

/** Starts `/usr/bin/xandikos --defaults`; throws with its output when it is missing or does not come up. */
export async function startXandikos(): Promise<XandikosServer> {
  const dir = mkdtempSync(join(tmpdir(), 'xandikos-'));
  const port = await freePort();
  const args = ['-d', dir, '--defaults', '-l', '127.0.0.1', '-p', String(port), '--current-user-principal', '/user/'];
  return launchHttpDaemon('Xandikos', 'xandikos', '/usr/bin/xandikos', args, `http://127.0.0.1:${port}`, dir);
}
