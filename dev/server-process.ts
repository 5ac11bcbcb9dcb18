import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { launch, type Managed } from './process';

/** The project root, whether this runs from `dev/` (ts-jest) or compiled in `dist/dev/` (npm scripts). */
const ROOT = [join(__dirname, '..'), join(__dirname, '..', '..')].find((dir) => existsSync(join(dir, 'tsconfig.build.json')))!;

/** Compiles the server as `npm start` does (tsc into dist/). */
export function buildServer(): void {
  try {
    execFileSync(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, stdio: 'pipe' });
  } catch (e) {
    const out = e as { stdout?: Buffer; stderr?: Buffer };
    throw new Error(`the build failed:\n${out.stdout ?? ''}${out.stderr ?? ''}`);
  }
}

/** A server instance in its own process, as `npm start` runs it. */
export interface ServerProcess {
  url: string;
  pid: number;
  proc: Managed;
  /** JSON log lines written so far. */
  logs(): Record<string, unknown>[];
}

/**
 * Starts `node dist/src/main.js` with `env` (and `nodeArgs`, e.g. `--cpu-prof`) and waits until it listens.
 * Throws with its output otherwise, the process stopped.
 */
export async function startServerProcess(env: Record<string, string>, nodeArgs: string[] = []): Promise<ServerProcess> {
  const proc = launch(process.execPath, [...nodeArgs, join(ROOT, 'dist', 'src', 'main.js')], { cwd: ROOT, env: { ...process.env, PORT: '0', ...env } });
  let lines = '';
  proc.child.stdout?.on('data', (d) => (lines += d));
  const logs = () => lines.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  const deadline = Date.now() + 30000;
  for (;;) {
    const listening = logs().find((l) => l.msg === 'GraphQL server listening (HTTP and WebSocket)');
    if (listening) return { url: String(listening.url), pid: proc.child.pid!, proc, logs };
    if (Date.now() > deadline || proc.child.exitCode !== null) {
      // Not left running behind the error (a server up but silent, e.g. with a LOG_LEVEL above info).
      await proc.stop('SIGKILL');
      throw new Error(`server process did not start:\n${proc.output()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
