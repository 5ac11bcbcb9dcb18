import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch } from './process';
import { freePort } from './ports';

const BIN = '/usr/lib/postgresql/15/bin';

/** A throwaway PostgreSQL server on a free loopback port. */
export interface PostgresServer {
  url: string;
  stop(): Promise<void>;
}

function postgresIds(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres']).toString().trim());
  return { uid: id('-u'), gid: id('-g') };
}

/**
 * Starts PostgreSQL 15 in a temp folder (initdb refuses root, so as root it runs as `postgres`).
 * Returns its connection URL; throws when the binaries are missing or it does not start.
 */
export async function startPostgres(): Promise<PostgresServer> {
  if (!existsSync(`${BIN}/initdb`)) throw new Error(`PostgreSQL 15 is not installed (${BIN}/initdb): apt-get install postgresql`);
  const dir = mkdtempSync(join(tmpdir(), 'pg-'));
  const ids = postgresIds();
  if (ids) chownSync(dir, ids.uid, ids.gid);
  execFileSync(`${BIN}/initdb`, ['-D', join(dir, 'data'), '-A', 'trust', '--no-sync', '--locale=C', '-U', 'postgres'], { ...ids, stdio: 'ignore' });
  const port = await freePort();
  const pg = launch(`${BIN}/postgres`, ['-D', join(dir, 'data'), '-p', String(port), '-k', dir, '-h', '127.0.0.1', '-c', 'fsync=off'], ids);
  const deadline = Date.now() + 20000;
  while (!pg.output().includes('ready to accept connections')) {
    if (Date.now() > deadline || pg.child.exitCode !== null) throw new Error(`PostgreSQL did not start:\n${pg.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: async () => {
      await pg.stop('SIGINT');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
