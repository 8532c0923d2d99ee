// Outbox: every email is written to email_outbox (encrypted) before anything is sent, then sent in the
// background, so sending never blocks or fails the request. Failed sends are retried by the worker
// with exponential backoff (1, 2, 4 … min, capped at 1 h) up to MAX_ATTEMPTS.
import { startIntervalJob, type IntervalJob } from '../../lib/interval-job.js';
import type { Deps } from '../../deps.js';
import { HOUR, MINUTE } from '../../lib/clock.js';
import { decrypt, deriveKey, encrypt } from '../../lib/crypto.js';
import type { EmailOutboxRow } from '../../storage/schema.js';
import type { EmailContent, EmailTemplate } from './mailer.js';
import * as store from './outbox-store.js';

type OutboxDeps = Pick<Deps, 'db' | 'clock' | 'mailer' | 'log' | 'secret'>;

export const MAX_ATTEMPTS = 8;

export function retryDelayMs(attempt: number): number {
  return Math.min(2 ** Math.max(0, attempt - 1) * MINUTE, HOUR);
}

const bodyKey = (deps: Pick<Deps, 'secret'>) => deriveKey(deps.secret, 'email-outbox');

/**
 * Renders and queues one email. In SMTP mode a send starts in the background; in log mode the message
 * is logged (development: the links in it are usable) and kept as 'logged'. Never throws on delivery.
 */
export async function queueEmail(
  deps: OutboxDeps,
  input: { to: string; template: EmailTemplate; data: Record<string, unknown> },
): Promise<{ id: number }> {
  const content = deps.mailer.render(input.template, input.data);
  const now = deps.clock.now();
  const row = await store.insertOutboxMessage(deps.db, {
    to_address: input.to,
    template: input.template,
    body_enc: encrypt(bodyKey(deps), JSON.stringify(content), input.to),
    status: deps.mailer.mode === 'smtp' ? 'pending' : 'logged',
    created_at: now,
    next_attempt_at: now,
  });
  if (deps.mailer.mode === 'log') {
    // Development only (no SMTP_URL): the message, links included, goes to the log on purpose.
    deps.log.info(
      { event: 'email.outbox', outboxId: row.id, to: input.to, subject: content.subject, body: content.text },
      'email not sent (no SMTP_URL): kept in the outbox',
    );
  } else {
    deps.mailer.track(deliverOutboxMessage(deps, row.id));
  }
  return { id: row.id };
}

async function attempt(deps: OutboxDeps, row: EmailOutboxRow): Promise<boolean> {
  try {
    if (!row.body_enc) throw new Error('message body missing');
    const content = JSON.parse(decrypt(bodyKey(deps), row.body_enc, row.to_address)) as EmailContent;
    await deps.mailer.send({ to: row.to_address, ...content });
    await store.markOutboxSent(deps.db, row.id, deps.clock.now());
    deps.log.info({ event: 'email.sent', outboxId: row.id, template: row.template, attempts: row.attempts }, 'email sent');
    return true;
  } catch (err) {
    const final = row.attempts >= MAX_ATTEMPTS;
    const message = (err as Error)?.message ?? String(err);
    deps.log.warn(
      { event: final ? 'email.failed' : 'email.retry', outboxId: row.id, attempts: row.attempts, error: message },
      'email send failed',
    );
    const retryAt = new Date(deps.clock.now().getTime() + retryDelayMs(row.attempts));
    await store.markOutboxFailed(deps.db, row.id, message, final, retryAt).catch(() => undefined);
    return false;
  }
}

/** One attempt at message `id`, if it is pending and due. Never throws. */
export async function deliverOutboxMessage(deps: OutboxDeps, id: number): Promise<boolean> {
  try {
    const now = deps.clock.now();
    const row = await store.claimOutboxMessage(deps.db, id, now, new Date(now.getTime() + retryDelayMs(1)));
    return row ? await attempt(deps, row) : false;
  } catch (err) {
    deps.log.error({ event: 'email.error', outboxId: id, err }, 'outbox delivery error');
    return false;
  }
}

/** Sends every due pending message (up to `limit`); returns how many were sent. */
export async function processOutbox(deps: OutboxDeps, limit = 50): Promise<number> {
  if (deps.mailer.mode !== 'smtp') return 0;
  let sent = 0;
  for (let i = 0; i < limit; i++) {
    const now = deps.clock.now();
    // The claim holds the row for a minute; a failed attempt then sets the backoff for its attempt number.
    const row = await store.claimNextDueMessage(deps.db, now, new Date(now.getTime() + retryDelayMs(1)));
    if (!row) break;
    if (await attempt(deps, row)) sent++;
  }
  return sent;
}

/** The retry worker (started by main.ts): runs processOutbox every `intervalMs`; stop() waits for a run in progress. */
export function startOutboxWorker(deps: OutboxDeps, intervalMs = 30_000): IntervalJob {
  return startIntervalJob({
    name: 'email-outbox',
    intervalMs,
    log: deps.log,
    run: async () => {
      await processOutbox(deps);
    },
  });
}
