import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { rmSync } from 'node:fs';
import { waitForHttp } from './ports';

/** A child process whose output is kept for error messages, stopped by `stop()`. */
export interface Managed {
  child: ChildProcess;
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Spawns `command`; throws at once with a clear message when the binary is missing (a test that needs
 * a real server fails, never skips, when the server is not installed: `.ci/run` installs it).
 */
export function launch(command: string, args: string[], options: SpawnOptions = {}): Managed {
  let log = '';
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  child.stdout?.on('data', (d) => (log = (log + d).slice(-8000)));
  child.stderr?.on('data', (d) => (log = (log + d).slice(-8000)));
  child.on('error', (e) => (log += `\nspawn ${command} failed: ${e.message}`));
  return {
    child,
    output: () => log,
    stop: (signal = 'SIGTERM') =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill(signal);
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}

/**
 * Launches an HTTP daemon that keeps its state in `dir` and waits until `url` answers. Returns its URL and
 * a `stop` that also deletes `dir`; throws with the daemon's output (and the package to install) when it does not come up.
 */
export async function launchHttpDaemon(name: string, pkg: string, command: string, args: string[], url: string, dir: string): Promise<{ url: string; stop(): Promise<void> }> {
  const proc = launch(command, args);
  const stop = async () => {
    await proc.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForHttp(url + '/');
  } catch (e) {
    await stop();
    throw new Error(`${name} did not start (apt-get install ${pkg}): ${(e as Error).message}\n${proc.output()}`);
  }
  return { url, stop };
}
