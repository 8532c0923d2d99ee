// A background job run every `intervalMs`, one run at a time; stop() waits for the run in flight.
export interface IntervalJob {
  stop(): Promise<void>;
}

export function startIntervalJob(run: () => Promise<unknown>, intervalMs: number, onError: (err: unknown) => void): IntervalJob {
  let stopped = false;
  let inFlight: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    inFlight = run()
      .then(() => undefined, onError)
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, intervalMs).unref();
      });
  };
  timer = setTimeout(tick, intervalMs).unref();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await inFlight;
    },
  };
}
