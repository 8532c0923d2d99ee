import { describe, expect, it } from 'vitest';
import { BackgroundTasks } from '../../src/lib/background.js';

describe('BackgroundTasks', () => {
  it('starts a task only after `after` settles and a turn later; idle() waits for it and for tasks it starts', async () => {
    const errors: unknown[] = [];
    const tasks = new BackgroundTasks({ error: (obj: unknown) => errors.push(obj) } as never);
    const order: string[] = [];
    let answer!: () => void;
    const answered = new Promise<void>((r) => (answer = r));
    tasks.run(
      'first',
      async () => {
        order.push('task');
        tasks.run('second', async () => void order.push('nested'));
      },
      answered,
    );
    await new Promise((r) => setImmediate(r));
    order.push('reply');
    answer();
    await tasks.idle();
    expect(order).toEqual(['reply', 'task', 'nested']);
    expect(errors).toEqual([]);
  });

  it('a failing task is logged, never thrown, and a rejected `after` still lets the task run', async () => {
    const errors: { event: string; task: string }[] = [];
    const tasks = new BackgroundTasks({ error: (obj: { event: string; task: string }) => errors.push(obj) } as never);
    let ran = false;
    tasks.run('boom', async () => {
      throw new Error('boom');
    });
    tasks.run('after-rejected', async () => void (ran = true), Promise.reject(new Error('connection closed')));
    await tasks.idle();
    expect(ran).toBe(true);
    expect(errors).toMatchObject([{ event: 'background.failed', task: 'boom' }]);
  });
});
