import { Agent } from 'node:http';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { postJson } from './http';

/**
 * How a light client sends the same POST:
 * - `sequential`: `warmup` requests untimed, then `rounds` one after another;
 * - `closed`: `clients` clients for `seconds`, each sending its next request when its last is answered (the most
 *   the server sustains);
 * - `open`: `clients` clients sending `rate` requests per second between them for `seconds`, client k first at
 *   k / rate s, then every clients / rate s. A latency counts from when its request was due, so a request sent
 *   late because the client's previous one was slow counts its wait too (no coordinated omission, as wrk2 measures).
 */
export type LightClientTask =
  | { kind: 'sequential'; warmup: number; rounds: number }
  | { kind: 'closed'; clients: number; seconds: number }
  | { kind: 'open'; clients: number; rate: number; seconds: number };

/** One run of a light client: `body` POSTed as JSON to `url` with a bearer `token`, as `task` says. */
export interface LightClientJob {
  url: string;
  token: string;
  body: string;
  task: LightClientTask;
}

/** What a run measured: each timed request's latency in ms (in the order they ended), the run's length, the last answer's size. */
export interface LightClientResult {
  latencies: number[];
  seconds: number;
  bytes: number;
}

/**
 * Runs `job` in a worker thread of its own, on kept-alive connections, and resolves with its latencies; rejects
 * when an answer is not HTTP 200 (with the start of its text) or a connection fails.
 *
 * Why a thread of its own: a latency measured by the process that set a benchmark up counts that process's
 * own garbage collections. The availability benchmark's process holds the 45,000 objects it wrote and the peer's
 * parsed events; during its 25-member loops it ran a major GC of 5 to 20 ms every 80 requests or so, each in the
 * middle of a request, and its collector's threads took a core from the server meanwhile: most of the requests
 * slower than 15 ms overlapped one (BENCHMARKS.md, fifth session). A worker has a heap of its own, small,
 * and the setting-up thread allocates nothing while it waits, as a browser loading a booking page holds nothing
 * of the server's data. Runs from the compiled `dist/dev/light-client.js` (the benchmarks run compiled).
 */
export function lightClient(job: LightClientJob): Promise<LightClientResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(__filename, { workerData: job });
    let answered = false;
    worker.once('message', (message: { result?: LightClientResult; error?: string }) => {
      answered = true;
      if (message.result) resolve(message.result);
      else reject(new Error(message.error));
    });
    worker.once('error', reject);
    worker.once('exit', (code) => answered || reject(new Error(`the light client's thread exited with code ${code} before answering`)));
  });
}

/** The worker's side: sends as the task says and posts back the result or the error's message. */
async function run(job: LightClientJob): Promise<LightClientResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  let bytes = 0;
  const send = async () => {
    bytes = (await postJson(agent, job.url, job.token, job.body, false)).size;
  };
  const latencies: number[] = [];
  const task = job.task;
  try {
    if (task.kind === 'sequential') for (let i = 0; i < task.warmup; i++) await send();
    const start = performance.now();
    if (task.kind === 'sequential') {
      for (let i = 0; i < task.rounds; i++) {
        const t = performance.now();
        await send();
        latencies.push(performance.now() - t);
      }
    } else if (task.kind === 'closed') {
      const deadline = start + task.seconds * 1000;
      await Promise.all(Array.from({ length: task.clients }, async () => {
        while (performance.now() < deadline) {
          const t = performance.now();
          await send();
          latencies.push(performance.now() - t);
        }
      }));
    } else {
      const period = (task.clients / task.rate) * 1000;
      const end = start + task.seconds * 1000;
      await Promise.all(Array.from({ length: task.clients }, async (_, k) => {
        for (let due = start + (k * 1000) / task.rate; due < end; due += period) {
          const wait = due - performance.now();
          if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
          await send();
          latencies.push(performance.now() - due);
        }
      }));
    }
    return { latencies, seconds: (performance.now() - start) / 1000, bytes };
  } finally {
    agent.destroy();
  }
}

if (!isMainThread && (workerData as LightClientJob | undefined)?.task) {
  run(workerData as LightClientJob).then(
    (result) => parentPort!.postMessage({ result }),
    (e: unknown) => parentPort!.postMessage({ error: e instanceof Error ? e.message : String(e) }),
  );
}
