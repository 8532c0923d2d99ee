// Lowers the scheduling priority of libuv's thread pool (Linux). argon2 runs there, tens of ms of CPU per
// sign-in; the event loop (token refreshes, signatures, every other request) runs on the main thread.
// On a busy core the kernel shares time by weight: at equal priority a sign-in flood halves everything
// else; at nice 10 the pool gets a small share of a core the main thread wants, and all of an idle one.
// Raising one's own nice value needs no privilege.
//
// Node names no threads and starts the pool before user code runs, so the pool's threads are found by
// giving them short jobs (PBKDF2, a few ms each) and seeing whose CPU time (schedstat, ns) grew.
import { pbkdf2 } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { setPriority } from 'node:os';

const TASKS = '/proc/self/task';

function cpuNs(): Map<number, number> | undefined {
  try {
    const m = new Map<number, number>();
    for (const t of readdirSync(TASKS)) {
      try {
        m.set(Number(t), Number(readFileSync(`${TASKS}/${t}/schedstat`, 'utf8').split(' ')[0]));
      } catch {
        /* thread gone */
      }
    }
    return m;
  } catch {
    return undefined; // not Linux
  }
}

const job = () => new Promise<void>((resolve) => pbkdf2('keymaster', 'probe', 20_000, 32, 'sha256', () => resolve()));

/** Returns the thread ids it reniced (empty when it could not tell, e.g. not Linux). */
export async function lowerThreadPoolPriority(nice = 10): Promise<number[]> {
  const size = Number(process.env.UV_THREADPOOL_SIZE) || 4;
  const before = cpuNs();
  if (!before) return [];
  // Rounds of as many jobs as the pool has threads. On a busy machine one thread may take two jobs
  // of a round while another is not scheduled yet, so rounds go on until `size` threads have worked.
  let busy: number[] = [];
  for (let round = 0; round < 10 && busy.length < size; round++) {
    await Promise.all(Array.from({ length: size }, job));
    const now = cpuNs() ?? new Map<number, number>();
    busy = [...now]
      .map(([tid, ns]) => [tid, ns - (before.get(tid) ?? 0)] as const)
      .filter(([tid, grew]) => tid !== process.pid && grew > 2_000_000)
      .sort((a, b) => b[1] - a[1])
      .slice(0, size)
      .map(([tid]) => tid);
  }
  const done: number[] = [];
  for (const tid of busy) {
    try {
      setPriority(tid, nice);
      done.push(tid);
    } catch {
      /* gone, or not permitted: leave it */
    }
  }
  return done;
}
