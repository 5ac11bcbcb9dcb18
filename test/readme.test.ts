import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../dev/ports';
import { launch, type Managed } from '../dev/process';
import { startServerProcess, type ServerProcess } from '../dev/server-process';

/**
 * The README's walkthrough, run as pasted (a doc test). The ```sh blocks of "Walkthrough: connect an iCloud
 * account" and "Booking and sync" run in order in ONE bash session (`set -euo pipefail`), against the demo
 * (`node dist/scripts/demo-caldav.js`) and a server started with the line the demo prints, as a reader would.
 * Blocks marked `<!-- doc-test: skip -->` (those that start the demo and the server) are what this test starts
 * itself. The only substitution is the port: `localhost:4000` becomes the test server's port, and the session
 * has PORT (read by `npm run gql`), DEMO_PORT (by `npm run demo:phone`) and the server's DATA_DIR (so that
 * `npm run token` signs with the server's dev secret). NO_BUILD=1: dist/ is built once, here, not by every command.
 * Each block must exit 0 and print no GraphQL `errors`; the story must show (a sync, a DOUBLE_BOOKING, an
 * appointment moved on the phone). The transcript goes to test-artifacts/readme-walkthrough.log.
 */
const ROOT = join(__dirname, '..');
const SECTIONS = ['Walkthrough: connect an iCloud account', 'Booking and sync'];
const SKIP = /<!--\s*doc-test:\s*skip\b[^>]*-->/;

interface Block {
  section: string;
  line: number;
  text: string;
  skip: boolean;
}

/** The ```sh blocks of the walkthrough sections, dedented (they sit in list items), with their skip marks. */
function readmeBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  let section = '';
  for (let i = 0; i < lines.length; i++) {
    const heading = /^## (.+)$/.exec(lines[i]);
    if (heading) section = heading[1].trim();
    const open = /^(\s*)```sh\s*$/.exec(lines[i]);
    if (!open || !SECTIONS.includes(section)) continue;
    const indent = open[1].length;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !/^\s*```\s*$/.test(lines[j]); j++) body.push(lines[j].slice(Math.min(indent, lines[j].length - lines[j].trimStart().length)));
    let k = i - 1;
    while (k >= 0 && lines[k].trim() === '') k--;
    blocks.push({ section, line: i + 1, text: body.join('\n'), skip: k >= 0 && SKIP.test(lines[k]) });
    i = j;
  }
  return blocks;
}

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

describe('README walkthrough (doc test)', () => {
  let dataDir: string;
  let demo: Managed | undefined;
  let server: ServerProcess | undefined;
  let demoPort: number;
  let printedStartLine = '';

  beforeAll(async () => {
    // One build for everything the walkthrough runs (scripts/build-if-stale.mjs: nothing to do when dist/ is fresh).
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'build-if-stale.mjs')], { cwd: ROOT, stdio: 'pipe' });
    dataDir = mkdtempSync(join(tmpdir(), 'readme-'));
    demoPort = await freePort();
    demo = launch(process.execPath, [join(ROOT, 'dist', 'scripts', 'demo-caldav.js')], { cwd: ROOT, env: { ...process.env, DEMO_PORT: String(demoPort) } });
    const deadline = Date.now() + 30000;
    while (!demo.output().includes('Press Ctrl+C to stop.')) {
      if (Date.now() > deadline || demo.child.exitCode !== null) throw new Error(`the demo did not start:\n${demo.output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    printedStartLine = /^\s*(ICLOUD_CALDAV_URL=.* npm start)\s*$/m.exec(demo.output())?.[1] ?? '';
    const assignments = Object.fromEntries(
      printedStartLine
        .replace(/ npm start$/, '')
        .split(/\s+/)
        .map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]),
    );
    server = await startServerProcess({ ...assignments, PORT: String(await freePort()), DATA_DIR: dataDir });
  }, 240000);

  afterAll(async () => {
    await server?.proc.stop();
    await demo?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('shows the start line the demo prints, with its fixed account', () => {
    expect(printedStartLine).toMatch(/^ICLOUD_CALDAV_URL=http:\/\/127\.0\.0\.1:\d+ /);
    const asDocumented = printedStartLine.replace(`127.0.0.1:${demoPort}`, '127.0.0.1:8008');
    const skipped = readmeBlocks(readme).filter((b) => b.skip);
    expect(skipped.map((b) => b.text.trim())).toEqual(['npm run demo:caldav', asDocumented]);
    expect(demo!.output()).toContain('Apple ID:               demo@icloud.example');
    expect(demo!.output()).toContain('App-specific password:  abcd-efgh-ijkl-mnop');
  });

  it('runs every command of the walkthrough as pasted', async () => {
    const port = new URL(server!.url).port;
    const blocks = readmeBlocks(readme).filter((b) => !b.skip);
    expect(blocks.length).toBeGreaterThanOrEqual(8);
    const script = [
      'set -euo pipefail',
      ...blocks.flatMap((b, i) => [
        `echo '@@doc-test block ${i}'; echo '@@doc-test block ${i}' >&2`,
        b.text.replaceAll('localhost:4000', `localhost:${port}`),
        `echo '@@doc-test done ${i}'`,
      ]),
    ].join('\n');
    const file = join(dataDir, 'walkthrough.sh');
    writeFileSync(file, script);
    const env = { ...process.env, DATA_DIR: dataDir, PORT: port, DEMO_PORT: String(demoPort), NO_BUILD: '1' };
    const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn('bash', [file], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      // Whatever a block started dies with it (its own process group).
      const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 100000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
    // The transcript, for a reader who wants to see what the walkthrough prints (test-artifacts/ is not committed).
    mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
    writeFileSync(join(ROOT, 'test-artifacts', 'readme-walkthrough.log'), `${run.stdout}\n--- stderr\n${run.stderr}`);
    const outputOf = (text: string, i: number) => text.split(`@@doc-test block ${i}\n`)[1]?.split(/@@doc-test (?:block|done) /)[0] ?? '';
    const done = [...run.stdout.matchAll(/@@doc-test done (\d+)/g)].length;
    if (run.code !== 0 || done !== blocks.length) {
      const failed = blocks[done];
      throw new Error(
        `README.md line ${failed?.line} (${failed?.section}), block ${done + 1} of ${blocks.length}, exited ${run.code}:\n${failed?.text}\n` +
          `--- stdout\n${outputOf(run.stdout, done).slice(-3000)}\n--- stderr\n${outputOf(run.stderr, done).slice(-3000)}`,
      );
    }
    blocks.forEach((b, i) => {
      const out = outputOf(run.stdout, i);
      if (/"errors"\s*:/.test(out)) throw new Error(`README.md line ${b.line}: an answer carries errors:\n${out.slice(0, 3000)}`);
    });
    // The story the walkthrough tells: connected, synced, a DOUBLE_BOOKING from the phone, an edit that flowed back.
    expect(run.stdout).toContain('"status": "CONNECTED"');
    expect(run.stdout).toMatch(/"outcome": "SUCCESS"/);
    expect(run.stdout).toMatch(/"kind": "DOUBLE_BOOKING"/);
    expect(run.stdout).toMatch(/"title": "Dentist"/);
    // The slots the README names: 10:00 and 11:00 overlap the dentist, 12:00 the lunch, 15:00 the school run.
    expect([...run.stdout.matchAll(/"startsAtLocal": "[^"]*T(\d\d:\d\d)/g)].map((m) => m[1])).toEqual(['09:00', '13:00', '14:00', '16:00']);
    expect(run.stdout).toMatch(/moved "Consultation: Ann" from \S+ 09:00 to \S+ 14:00/);
    expect(run.stdout).toMatch(/"updated": 1/);
  }, 120000);
});
