import { describe, expect, it } from 'vitest';
import { startIntervalJob } from '../../src/lib/interval-job.js';

describe('startIntervalJob', () => {
  it('runs one pass at a time, reports errors, and stop() waits for the pass in flight', async () => {
    const errors: unknown[] = [];
    let runs = 0;
    let release!: () => void;
    let started!: () => void;
    const firstStarted = new Promise<void>((r) => (started = r));
    const job = startIntervalJob({
      name: 'test',
      intervalMs: 1,
      log: { error: (obj: { err?: unknown }) => void errors.push(obj.err) },
      run: async () => {
        runs++;
        if (runs === 1) throw new Error('boom');
        started();
        await new Promise<void>((r) => (release = r));
      },
    });
    await firstStarted;
    let stopped = false;
    const stopping = job.stop().then(() => (stopped = true));
    await new Promise((r) => setImmediate(r)); // every pending microtask has run
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(stopped).toBe(true);
    expect(runs).toBe(2);
    expect((errors[0] as Error).message).toBe('boom');
  });
});
