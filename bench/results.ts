import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** One figure of a benchmark, against its peer measured in the same run on the same data. */
export interface BenchResult {
  benchmark: string;
  metric: string;
  unit: string;
  ours: number;
  /** The peer's figure (null when the benchmark has none for this metric). */
  peer: number | null;
  /** What the peer is. */
  peerName: string | null;
  /** How many times better ours is (peer / ours for times; null without a peer). */
  ratio: number | null;
}

/** A result whose ratio is peer / ours (times, requests, memory: less is better). */
export function lessIsBetter(benchmark: string, metric: string, unit: string, ours: number, peer: number | null, peerName: string | null): BenchResult {
  return { benchmark, metric, unit, ours: round(ours), peer: peer === null ? null : round(peer), peerName, ratio: peer === null || ours === 0 ? null : round(peer / ours) };
}

const round = (n: number) => Math.round(n * 100) / 100;

/**
 * Writes `results` as JSON when the command line asks for it (`--json`, to bench-results.json, or
 * `--json=<path>`), with the date, the machine and the Node version. Returns the path written, or null.
 */
export function writeJsonIfAsked(results: BenchResult[], argv = process.argv): string | null {
  const flag = argv.find((a) => a === '--json' || a.startsWith('--json='));
  if (!flag) return null;
  const path = flag.includes('=') ? flag.slice('--json='.length) : 'bench-results.json';
  writeFileSync(path, `${JSON.stringify({ date: new Date().toISOString(), node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? null, results }, null, 2)}\n`);
  return path;
}

/**
 * Runs `bench` when `mod` is the program (`node dist/bench/<name>.js`), then exits: 0, or 1 with the error
 * printed (servers and pools it may have left open do not keep the process alive).
 */
export function runAsMain(mod: NodeJS.Module, bench: () => Promise<unknown>): void {
  if (require.main !== mod) return;
  bench().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
