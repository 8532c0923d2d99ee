// The webhook delivery worker: claims due rows (FOR UPDATE SKIP LOCKED, so any number of processes can
// run it), POSTs each signed body with a timeout, and records success (2xx), a retry with exponential
// backoff and jitter, or, after the last attempt, 'failed'. Redirects are not followed: a 3xx is a failure.
// A tenant's admin chooses the URL, so the socket may only reach a public address (address-policy.ts):
// an IP literal is checked before connecting, a name when it resolves, on the connection that uses it.
// The same queue carries back-channel logouts (a row with no webhook, migration 0014): their logout
// token is signed at each attempt (oidc/backchannel-logout.ts) and POSTed as a form to the app's URI.
import { createHmac } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Deps } from '../../deps.js';
import { ADDRESS_REFUSED, createAddressPolicy, guardedLookup, ipLiteralOf, type AddressPolicy } from '../../lib/address-policy.js';
import { epochSeconds, HOUR, SECOND } from '../../lib/clock.js';
import { startIntervalJob, type IntervalJob } from '../../lib/interval-job.js';
import type { WebhookDeliveryRow, WebhookRow } from '../../storage/schema.js';
import { findApp, type App } from '../apps/apps.js';
import { signLogoutToken } from '../oidc/backchannel-logout.js';
import * as store from './webhook-store.js';
import { webhookSecret } from './webhooks.js';

/** `sha256=<hex>`: HMAC-SHA256 of the raw body, keyed with the secret string's UTF-8 bytes (KEYMASTER-API.md §6). */
export function signWebhookBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', Buffer.from(secret, 'utf8')).update(body, 'utf8').digest('hex')}`;
}

export interface DeliveryOptions {
  maxAttempts: number;
  timeoutMs: number;
  batchSize?: number;
  /** First retry delay; doubles each attempt, capped at 6 h, then scaled by a random 50–100 %. */
  baseDelayMs?: number;
  random?: () => number;
}

export function retryDelayMs(attempts: number, baseDelayMs: number, random: () => number): number {
  const exp = Math.min(baseDelayMs * 2 ** Math.max(attempts - 1, 0), 6 * HOUR);
  return Math.round(exp * (0.5 + random() * 0.5));
}

export interface DeliveryRunResult {
  claimed: number;
  delivered: number;
  retried: number;
  failed: number;
}

type Deliverable = Pick<Deps, 'db' | 'clock' | 'secret' | 'log' | 'config' | 'keys'>;

/** One pass of the worker: claim what is due, send it, record the outcomes. */
export async function deliverDueWebhooks(deps: Deliverable, opts: DeliveryOptions): Promise<DeliveryRunResult> {
  const now = deps.clock.now();
  // The lease outlasts the request timeout, so a slow send is never claimed again while in flight.
  const lease = new Date(now.getTime() + opts.timeoutMs + 60 * SECOND);
  const claimed = await store.claimDueDeliveries(deps.db, now, lease, opts.batchSize ?? 20);
  const result: DeliveryRunResult = { claimed: claimed.length, delivered: 0, retried: 0, failed: 0 };
  if (claimed.length === 0) return result;
  const policy = createAddressPolicy(deps.config.webhookAllowedCidrs);
  const hookIds = [...new Set(claimed.flatMap((d) => (d.webhook_id ? [d.webhook_id] : [])))];
  const hooks = new Map((await store.findWebhooksByIds(deps.db, hookIds)).map((h) => [h.id, h]));
  const apps = new Map<string, App | undefined>();
  for (const appId of new Set(claimed.flatMap((d) => (d.webhook_id ? [] : [d.app_id])))) apps.set(appId, await findApp(deps, appId));
  await Promise.all(
    claimed.map(async (d) => {
      const kind = d.webhook_id ? 'webhook' : 'backchannel_logout';
      const request = await requestFor(deps, d, hooks, apps);
      const outcome = request
        ? await send(deps, d, kind, request, policy, opts)
        : ({ ok: false, status: null, error: d.webhook_id ? 'webhook removed' : 'no backchannel_logout_uri' } as const);
      const at = deps.clock.now();
      if (outcome.ok) {
        await store.recordAttempt(deps.db, d.id, d.attempts, {
          status: 'delivered',
          last_status: outcome.status,
          last_error: null,
          delivered_at: at,
        });
        result.delivered++;
      } else if (d.attempts >= opts.maxAttempts || !request) {
        await store.recordAttempt(deps.db, d.id, d.attempts, { status: 'failed', last_status: outcome.status, last_error: outcome.error });
        deps.log.warn(
          {
            event: `${kind}.failed`,
            deliveryId: d.id,
            webhookId: d.webhook_id,
            appId: d.app_id,
            attempts: d.attempts,
            status: outcome.status,
          },
          'delivery gave up',
        );
        result.failed++;
      } else {
        const delay = retryDelayMs(d.attempts, opts.baseDelayMs ?? 30 * SECOND, opts.random ?? Math.random);
        await store.recordAttempt(deps.db, d.id, d.attempts, {
          status: 'pending',
          last_status: outcome.status,
          last_error: outcome.error,
          next_attempt_at: new Date(at.getTime() + delay),
        });
        result.retried++;
      }
    }),
  );
  return result;
}

/** `refused`: the destination's address is not allowed (address-policy.ts); nothing was sent. */
type Outcome = { ok: boolean; status: number | null; error: string | null; refused?: boolean };

interface OutboundRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** What one attempt sends; undefined when its webhook was removed or its app no longer takes logouts. */
async function requestFor(
  deps: Deliverable,
  d: WebhookDeliveryRow,
  hooks: Map<string, WebhookRow>,
  apps: Map<string, App | undefined>,
): Promise<OutboundRequest | undefined> {
  if (d.webhook_id === null) {
    const url = apps.get(d.app_id)?.backchannelLogoutUri;
    if (!url) return undefined;
    // Back-Channel Logout 1.0 §2.5: a form POST with the one parameter logout_token.
    const body = new URLSearchParams({ logout_token: await signLogoutToken(deps, d.app_id, d.payload) }).toString();
    return { url, body, headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'User-Agent': 'Keymaster-Backchannel-Logout/1' } };
  }
  const hook = hooks.get(d.webhook_id);
  if (!hook) return undefined;
  const headers = {
    'Content-Type': 'application/json',
    'User-Agent': 'Keymaster-Webhooks/1',
    'X-Keymaster-Event': d.event,
    'X-Keymaster-Delivery': d.id,
    'X-Keymaster-Timestamp': String(epochSeconds(deps.clock.now())),
    'X-Keymaster-Signature': signWebhookBody(webhookSecret(deps, hook), d.payload),
  };
  return { url: hook.url, headers, body: d.payload };
}

async function send(
  deps: Deliverable,
  d: WebhookDeliveryRow,
  kind: string,
  request: OutboundRequest,
  policy: AddressPolicy,
  opts: DeliveryOptions,
): Promise<Outcome> {
  const target = new URL(request.url);
  const literal = ipLiteralOf(target);
  const refusal = literal === undefined ? undefined : policy.refusal(literal);
  const outcome: Outcome = refusal
    ? { ok: false, status: null, error: refusal, refused: true }
    : await post(target, policy, opts.timeoutMs, request.headers, request.body);
  if (outcome.refused) {
    const log = { event: `${kind}.address_refused`, deliveryId: d.id, webhookId: d.webhook_id, appId: d.app_id, origin: target.origin };
    deps.log.warn(log, outcome.error ?? 'address refused');
  }
  return outcome;
}

/** One POST over a fresh connection whose name is resolved by the guarded lookup; the body is discarded. */
function post(target: URL, policy: AddressPolicy, timeoutMs: number, headers: Record<string, string>, body: string): Promise<Outcome> {
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const req = request(
      target,
      {
        method: 'POST',
        // No pooled socket: every connection is made (and its address checked) for this delivery.
        agent: false,
        lookup: guardedLookup(policy),
        signal: AbortSignal.timeout(timeoutMs),
        headers: { ...headers, 'Content-Length': String(Buffer.byteLength(body)) },
      },
      (res) => {
        res.resume();
        const status = res.statusCode ?? 0;
        res.once('end', () =>
          resolve(status >= 200 && status < 300 ? { ok: true, status, error: null } : { ok: false, status, error: `HTTP ${status}` }),
        );
        res.once('error', () => resolve({ ok: false, status, error: `HTTP ${status}` }));
      },
    );
    req.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === ADDRESS_REFUSED) return resolve({ ok: false, status: null, error: err.message.slice(0, 500), refused: true });
      resolve({
        ok: false,
        status: null,
        error: (err.name === 'TimeoutError' || err.name === 'AbortError' ? 'timeout' : err.message).slice(0, 500),
      });
    });
    req.end(body);
  });
}

/** The server's worker: a pass every KEYMASTER_WEBHOOK_POLL_MS; stop() waits for the pass in flight. */
export function startWebhookWorker(deps: Deliverable & Pick<Deps, 'config'>): IntervalJob {
  const opts: DeliveryOptions = { maxAttempts: deps.config.webhookMaxAttempts, timeoutMs: deps.config.webhookTimeoutMs };
  return startIntervalJob({
    name: 'webhook-delivery',
    intervalMs: deps.config.webhookPollMs,
    log: deps.log,
    run: async () => {
      await deliverDueWebhooks(deps, opts);
    },
  });
}
