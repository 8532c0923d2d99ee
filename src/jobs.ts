// startJobs(deps): the background jobs every server process runs, beside the HTTP server. Each is safe
// to run in any number of processes at once (database locks decide), so no leader is elected.
//  - key poll: notice key changes made by another process or the CLI (KEYMASTER_KEY_POLL_SECONDS)
//  - key lifecycle: schedule, activate and retire signing keys when due (every minute)
//  - prune: delete expired rows in batches (KEYMASTER_PRUNE_INTERVAL_SECONDS; 0 = off)
//  - email outbox: retry emails whose first send failed (every 30 s)
//  - webhook delivery: send due webhook deliveries (KEYMASTER_WEBHOOK_WORKER, KEYMASTER_WEBHOOK_POLL_MS)
import type { Deps } from './deps.js';
import { advanceKeyLifecycle } from './domain/keys/keys.js';
import { pruneExpired } from './domain/housekeeping/prune.js';
import { startOutboxWorker } from './domain/email/outbox.js';
import { startWebhookWorker } from './domain/webhooks/webhook-delivery.js';
import { SECOND } from './lib/clock.js';
import { startIntervalJob, type IntervalJob } from './lib/interval-job.js';

const KEY_LIFECYCLE_INTERVAL_MS = 60 * SECOND;

export interface Jobs {
  keyPoll: IntervalJob;
  keyLifecycle: IntervalJob;
  prune: IntervalJob | undefined;
  webhooks: IntervalJob | undefined;
  outbox: IntervalJob;
  stop(): Promise<void>;
}

export function startJobs(deps: Deps): Jobs {
  const { config, log } = deps;
  const keyPoll = startIntervalJob({
    name: 'key-poll',
    intervalMs: config.keyPollSeconds * SECOND,
    log,
    run: async () => {
      if (await deps.keys.reloadIfChanged())
        log.info({ event: 'keys.reloaded', kid: deps.keys.active.kid }, 'signing keys changed: reloaded');
    },
  });
  const keyLifecycle = startIntervalJob({
    name: 'key-lifecycle',
    intervalMs: KEY_LIFECYCLE_INTERVAL_MS,
    immediate: true,
    log,
    run: async () => {
      const changes = await advanceKeyLifecycle(deps);
      if (changes.scheduled || changes.activated || changes.retired.length) {
        log.info({ event: 'keys.lifecycle', ...changes }, 'signing key lifecycle advanced');
        await deps.keys.reload();
      }
    },
  });
  const prune =
    config.pruneIntervalSeconds > 0
      ? startIntervalJob({
          name: 'prune',
          intervalMs: config.pruneIntervalSeconds * SECOND,
          log,
          run: async () => {
            const results = await pruneExpired(deps);
            const affected = results.reduce((n, r) => n + r.affected, 0);
            log.info({ event: 'prune.done', affected, results }, `housekeeping: ${affected} rows pruned`);
          },
        })
      : undefined;
  const webhooks = config.webhookWorker ? startWebhookWorker(deps) : undefined;
  const outbox = startOutboxWorker(deps);
  return {
    keyPoll,
    keyLifecycle,
    prune,
    webhooks,
    outbox,
    stop: async () => {
      await Promise.all([keyPoll.stop(), keyLifecycle.stop(), prune?.stop(), webhooks?.stop(), outbox.stop()]);
    },
  };
}
