// Runs `npm run build` only when dist/ is older than the sources: used by `npm start` (prestart), `npm run token`,
// `npm run demo:caldav` and the other scripts that run compiled code, so that a restart with nothing changed takes
// no build at all. Plain JavaScript, so that it runs before anything is compiled.
//
// Sources: every file under src/ scripts/ dev/ bench/ web/ and the package and tsconfig files. The stamp
// (dist/.build-stamp.json) records when the last successful build started: a file saved during a build is newer,
// so the next run builds again. Build output goes to stderr, so `TOKEN=$(npm run --silent token)` captures the
// token only. Concurrent callers wait for one build (dist/.build-lock). NO_BUILD=1 uses dist/ as it is.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const STAMP = join(dist, '.build-stamp.json');
const LOCK = join(dist, '.build-lock');
const SOURCE_DIRS = ['src', 'scripts', 'dev', 'bench', 'web'];
const SOURCE_FILES = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json'];
/** What the build must have produced for dist/ to count as built at all. */
const OUTPUTS = ['dist/src/main.js', 'dist/scripts/token.js', 'dist/web/build.json'];

/** The newest file or folder under `dir` (skipping dot entries and node_modules): [mtimeMs, path]. */
function newestUnder(dir, best = [0, '']) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return best;
  }
  for (const entry of entries) {
    if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
    const path = join(dir, entry.name);
    // A folder's own time changes when a file in it is added, removed or renamed.
    const mtime = statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? 0;
    if (mtime > best[0]) best = [mtime, path];
    if (entry.isDirectory()) best = newestUnder(path, best);
  }
  return best;
}

/** Why dist/ must be built, or null when it is up to date. */
function staleness() {
  const missing = OUTPUTS.find((f) => !existsSync(join(root, f)));
  if (missing) return `${missing} is missing`;
  let builtAt = 0;
  try {
    builtAt = JSON.parse(readFileSync(STAMP, 'utf8')).startedAt;
  } catch {
    return 'no record of a previous build';
  }
  let newest = [0, ''];
  for (const d of SOURCE_DIRS) newest = newestUnder(join(root, d), newest);
  for (const f of [...SOURCE_FILES, ...SOURCE_DIRS]) {
    const mtime = statSync(join(root, f), { throwIfNoEntry: false })?.mtimeMs ?? 0;
    if (mtime > newest[0]) newest = [mtime, join(root, f)];
  }
  return newest[0] > builtAt ? `${relative(root, newest[1])} changed` : null;
}

function takeLock() {
  mkdirSync(dist, { recursive: true });
  try {
    const fd = openSync(LOCK, 'wx');
    writeSync(fd, String(process.pid));
    closeSync(fd);
    return true;
  } catch {
    let holder = 0;
    try {
      holder = Number(readFileSync(LOCK, 'utf8'));
    } catch {
      return false;
    }
    let alive = true;
    try {
      if (holder > 0) process.kill(holder, 0);
    } catch {
      alive = false;
    }
    // A lock left by a build that died (or older than 10 minutes) is taken over; one being written (no pid yet) is not.
    const age = Date.now() - (statSync(LOCK, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
    if (!alive || age > 600000) {
      rmSync(LOCK, { force: true });
      return takeLock();
    }
    return false;
  }
}

function main() {
  if (process.env.NO_BUILD === '1') return 0;
  let reason = staleness();
  if (!reason) return 0;
  while (!takeLock()) {
    // Another process is building: wait for it, then look again.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
    reason = staleness();
    if (!reason) return 0;
  }
  try {
    reason = staleness();
    if (!reason) return 0;
    const startedAt = Date.now();
    process.stderr.write(`building dist/ (${reason})...\n`);
    const npm = process.env.npm_execpath;
    const [command, args] = npm && npm.endsWith('.js') ? [process.execPath, [npm, 'run', '--silent', 'build']] : ['npm', ['run', '--silent', 'build']];
    const result = spawnSync(command, args, { cwd: root, stdio: ['ignore', 2, 2] });
    if (result.status !== 0) {
      process.stderr.write(`the build failed (exit ${result.status ?? result.signal}): fix the errors above and run again.\n`);
      return result.status || 1;
    }
    writeFileSync(STAMP, JSON.stringify({ startedAt, finishedAt: Date.now() }) + '\n');
    process.stderr.write(`built in ${((Date.now() - startedAt) / 1000).toFixed(1)} s\n`);
    return 0;
  } finally {
    rmSync(LOCK, { force: true });
  }
}

process.exit(main());
