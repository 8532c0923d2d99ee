// Load generator (a child of bench/run.ts, pinned to its own core): runs one or more autocannon jobs
// at the same time and prints their results as JSON on stdout. A job may draw each request's body from
// a list (every refresh request presents a distinct, live token); warm-up requests draw from it too.
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

export interface LoadJob {
  name: string;
  url: string;
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** A file holding a JSON array of bodies, used once each in order. */
  bodiesFile?: string;
  connections: number;
  duration: number;
  warmup: number;
}

export interface LoadResult {
  name: string;
  rps: number;
  okRps: number;
  p50: number;
  p99: number;
  ok: number;
  /** Successful responses during the warm-up (the server's CPU time covers both). */
  warmupOk: number;
  failed: number;
  errors: number;
  timeouts: number;
  bodiesLeft: number | null;
  /** CPU milliseconds the load generator itself used (all of its jobs together, warm-up included). */
  loadgenCpuMs?: number;
}

function run(opts: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(opts, (err, res) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(res)));
  });
}

async function runJob(job: LoadJob): Promise<LoadResult> {
  const bodies = job.bodiesFile ? (JSON.parse(readFileSync(job.bodiesFile, 'utf8')) as string[]) : undefined;
  let next = 0;
  const request: autocannon.Request = {
    method: job.method,
    path: job.path,
    ...(job.headers && { headers: job.headers }),
    ...(job.body !== undefined && { body: job.body }),
    ...(bodies && {
      setupRequest: (req: autocannon.Request) => ({ ...req, body: bodies[next++ % bodies.length] }),
    }),
  };
  const base = { url: job.url, connections: job.connections, requests: [request], timeout: 10 };
  const warm = job.warmup > 0 ? await run({ ...base, duration: job.warmup }) : undefined;
  const r = await run({ ...base, duration: job.duration });
  // A sign-in answers 303; everything else must be 2xx.
  const ok = r['2xx'] + r['3xx'];
  const seconds = r.duration || job.duration;
  return {
    name: job.name,
    rps: r.requests.average,
    okRps: ok / seconds,
    p50: r.latency.p50,
    p99: r.latency.p99,
    ok,
    warmupOk: warm ? warm['2xx'] + warm['3xx'] : 0,
    failed: r['4xx'] + r['5xx'] + r['1xx'],
    errors: r.errors,
    timeouts: r.timeouts,
    bodiesLeft: bodies ? bodies.length - next : null,
  };
}

const jobs = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as LoadJob[];
const cpu0 = process.cpuUsage();
const results = await Promise.all(jobs.map(runJob));
const cpu = process.cpuUsage(cpu0);
const loadgenCpuMs = (cpu.user + cpu.system) / 1000;
process.stdout.write(`${JSON.stringify(results.map((r) => ({ ...r, loadgenCpuMs })))}\n`);
