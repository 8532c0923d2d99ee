// A counting semaphore: at most `slots` tasks run at once, the rest wait in arrival order.
export interface Limiter {
  run<T>(task: () => Promise<T>): Promise<T>;
  readonly active: number;
  readonly waiting: number;
  /** Tasks started since the limiter was made (the work it has let through). */
  readonly started: number;
}

export function createLimiter(slots: number): Limiter {
  if (!Number.isInteger(slots) || slots < 1) throw new Error('slots must be a positive integer');
  let active = 0;
  let started = 0;
  const queue: (() => void)[] = [];
  const release = () => {
    const next = queue.shift();
    if (next) next();
    else active--;
  };
  return {
    async run<T>(task: () => Promise<T>): Promise<T> {
      if (active < slots) active++;
      else await new Promise<void>((resolve) => queue.push(resolve)); // the releasing task hands its slot over
      started++;
      try {
        return await task();
      } finally {
        release();
      }
    },
    get active() {
      return active;
    },
    get waiting() {
      return queue.length;
    },
    get started() {
      return started;
    },
  };
}
