// The libuv pool (argon2) runs at nice 10 so a sign-in flood cannot halve the event loop's share of a
// busy core. Checked in a fresh process (the server calls it first thing), from /proc.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const script = `
  import { readdirSync, readFileSync } from 'node:fs';
  import { lowerThreadPoolPriority } from './src/lib/thread-pool-priority.ts';
  const reniced = await lowerThreadPoolPriority();
  const nice = Object.fromEntries(readdirSync('/proc/self/task').map((t) => [t, Number(readFileSync('/proc/self/task/' + t + '/stat', 'utf8').split(') ')[1].split(' ')[16])]));
  console.log(JSON.stringify({ pid: process.pid, reniced, nice }));
`;

describe.runIf(existsSync('/proc/self/task'))('lowerThreadPoolPriority (Linux)', () => {
  it('renices exactly the pool threads (4 by default, UV_THREADPOOL_SIZE otherwise) and leaves the main thread alone', () => {
    for (const size of ['4', '2']) {
      const res = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        encoding: 'utf8',
        env: { ...process.env, UV_THREADPOOL_SIZE: size },
      });
      expect(res.status, res.stderr).toBe(0);
      const out = JSON.parse(res.stdout.trim().split('\n').pop()!) as { pid: number; reniced: number[]; nice: Record<string, number> };
      expect(out.reniced).toHaveLength(Number(size));
      expect(out.reniced).not.toContain(out.pid);
      for (const tid of out.reniced) expect(out.nice[tid]).toBe(10);
      expect(out.nice[out.pid]).toBe(0);
      // Everything else (V8's platform threads and the rest) keeps its priority.
      expect(Object.entries(out.nice).filter(([t, n]) => n !== 0 && !out.reniced.includes(Number(t)))).toEqual([]);
    }
  });
});
