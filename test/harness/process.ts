import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

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
