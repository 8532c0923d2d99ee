// Work a request starts but does not wait for: it runs after the reply is on its way, and shutdown
// (Deps.close) waits for it. What a task must not do is decide the answer — the caller has already
// answered — so it is where work goes that would otherwise show in the response time (the account
// lookups, writes and emails of a password-reset request: an attacker timing the answer must not learn
// whether the email has an account). A task's failure is logged, never thrown. In-process only: a task
// lost to a crash is lost (the user asks again); the email outbox retries what was queued.
import type { Logger } from 'pino';

export class BackgroundTasks {
  readonly #inFlight = new Set<Promise<void>>();

  constructor(private readonly log: Pick<Logger, 'error'>) {}

  /**
   * Runs `work` once `after` has settled (the HTTP layer passes the moment its reply has gone out:
   * RequestMeta.answered), and a turn of the event loop later, so that nothing it does lands on the
   * reply's path; without `after`, on the next turn.
   */
  run(name: string, work: () => Promise<unknown>, after?: Promise<unknown>): void {
    const task: Promise<void> = Promise.resolve(after)
      .catch(() => undefined)
      .then(() => new Promise<void>((resolve) => setImmediate(resolve)))
      .then(work)
      .then(
        () => undefined,
        (err: unknown) => this.log.error({ event: 'background.failed', task: name, err }, 'background task failed'),
      )
      .finally(() => this.#inFlight.delete(task));
    this.#inFlight.add(task);
  }

  /** Resolves once no task is running (tasks started meanwhile included): shutdown, and tests. */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight]);
  }
}
