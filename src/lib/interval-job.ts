// A background job that runs every `intervalMs`: the next run is scheduled only after the previous one
// finished (no overlap), the timer is unref'd (it never keeps the process alive), a failing run is
// logged and the schedule goes on. stop() cancels the timer and waits for a run in progress.
import type { Logger } from 'pino';

export interface IntervalJob {
  /** Runs now (waiting for a run in progress first); resolves when done. */
  runNow(): Promise<void>;
  stop(): Promise<void>;
}

export function startIntervalJob(opts: {
  name: string;
  intervalMs: number;
  run: () => Promise<void>;
  log: Pick<Logger, 'error'>;
  /** Run once right away instead of after the first interval. */
  immediate?: boolean;
}): IntervalJob {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;

  const runOnce = (): Promise<void> => {
    if (running) return running.then(runOnce);
    running = opts
      .run()
      .catch((err: unknown) => opts.log.error({ event: 'job.failed', job: opts.name, err }, `background job ${opts.name} failed`))
      .finally(() => {
        running = undefined;
      });
    return running;
  };

  const schedule = (ms: number) => {
    if (stopped) return;
    timer = setTimeout(() => void runOnce().then(() => schedule(opts.intervalMs)), ms);
    timer.unref();
  };
  schedule(opts.immediate ? 0 : opts.intervalMs);

  return {
    runNow: runOnce,
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
