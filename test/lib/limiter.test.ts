import { describe, expect, it } from 'vitest';
import { createLimiter } from '../../src/lib/limiter.js';

describe('createLimiter', () => {
  it('never runs more than `slots` tasks at once and runs them all, in order', async () => {
    const limiter = createLimiter(2);
    let running = 0;
    let peak = 0;
    const started: number[] = [];
    const gates: (() => void)[] = [];
    const tasks = Array.from({ length: 6 }, (_, i) =>
      limiter.run(async () => {
        started.push(i);
        running++;
        peak = Math.max(peak, running);
        await new Promise<void>((r) => gates.push(r));
        running--;
        return i * 10;
      }),
    );
    // Let the first two start, then release tasks one by one.
    while (started.length < 6 || gates.length) {
      await new Promise((r) => setImmediate(r));
      expect(limiter.active).toBeLessThanOrEqual(2);
      gates.shift()?.();
    }
    expect(await Promise.all(tasks)).toEqual([0, 10, 20, 30, 40, 50]);
    expect(peak).toBe(2);
    expect(started).toEqual([0, 1, 2, 3, 4, 5]);
    expect(limiter.active).toBe(0);
    expect(limiter.started).toBe(6);
  });

  it('frees the slot when a task fails', async () => {
    const limiter = createLimiter(1);
    await expect(limiter.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await limiter.run(async () => 'next')).toBe('next');
    expect(limiter.active).toBe(0);
  });

  it('refuses a slot count that is not a positive integer', () => {
    expect(() => createLimiter(0)).toThrow();
  });
});
