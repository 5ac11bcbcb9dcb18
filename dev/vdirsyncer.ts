import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch } from './process';

/** vdirsyncer (Debian package `vdirsyncer`) pairing one CalDAV collection with a folder of .ics files, in a temporary folder of its own. */
export interface VdirsyncerPair {
  /** The folder the collection is synced to: one .ics file per object. */
  folder: string;
  /** `vdirsyncer discover`: needed once before the first sync. */
  discover(): Promise<void>;
  /** `vdirsyncer sync`: both ways, the CalDAV side winning conflicts. */
  sync(): Promise<void>;
  /** The names of the .ics files in the folder. */
  files(): string[];
  /** Deletes the config (it holds the password), the status and the folder. */
  remove(): void;
}

/** The installed vdirsyncer's version ("0.19.0"), or null when `vdirsyncer` is not on the PATH. */
export async function vdirsyncerVersion(): Promise<string | null> {
  try {
    return /version\s+(\S+)/.exec(await run(['--version']))?.[1] ?? 'unknown';
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/**
 * Writes a vdirsyncer config pairing the CalDAV collection at `url` (Basic credentials) with a new empty
 * folder. `collections = null` syncs that one collection as given, without discovering the account's others.
 */
export function createVdirsyncerPair(options: { url: string; username: string; password: string }): VdirsyncerPair {
  const dir = mkdtempSync(join(tmpdir(), 'vdirsyncer-'));
  const folder = join(dir, 'calendar');
  // The folder exists before discover: a missing one makes vdirsyncer ask whether to create it.
  mkdirSync(folder);
  // Values are JSON in vdirsyncer's config, so JSON.stringify quotes and escapes them.
  const q = JSON.stringify;
  const config = join(dir, 'config');
  writeFileSync(
    config,
    `[general]\nstatus_path = ${q(join(dir, 'status') + '/')}\n\n` +
      `[pair calendar]\na = "server"\nb = "folder"\ncollections = null\nconflict_resolution = "a wins"\n\n` +
      `[storage server]\ntype = "caldav"\nurl = ${q(options.url)}\nusername = ${q(options.username)}\npassword = ${q(options.password)}\n\n` +
      `[storage folder]\ntype = "filesystem"\npath = ${q(folder + '/')}\nfileext = ".ics"\n`,
    { mode: 0o600 },
  );
  return {
    folder,
    discover: async () => void (await run(['-c', config, 'discover'])),
    sync: async () => void (await run(['-c', config, 'sync'])),
    files: () => readdirSync(folder).filter((f) => f.endsWith('.ics')),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * Runs vdirsyncer with `args` and resolves with its output; rejects with it on a non-zero exit. Its stdin is
 * /dev/null, so a question it would ask (a collection to create) fails the run instead of waiting for an answer.
 * Asynchronous on purpose: a caller may serve vdirsyncer's requests from this process (a counting proxy).
 */
function run(args: string[]): Promise<string> {
  const proc = launch('vdirsyncer', args);
  return new Promise((resolve, reject) => {
    proc.child.once('error', reject);
    proc.child.once('close', (code) => (code === 0 ? resolve(proc.output()) : reject(new Error(`vdirsyncer ${args.slice(-1)[0]} exited with ${code}:\n${proc.output()}`))));
  });
}
