// Identity webhooks (KEYMASTER-API.md §6): subscriptions per app, and the enqueue hook the rest of the
// domain calls. Nothing is sent on the request path: an event becomes rows in webhook_deliveries, which
// the delivery worker (webhook-delivery.ts) sends with retries. The body is frozen at enqueue time and
// is exactly what gets signed.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Deps } from '../../deps.js';
import { appError } from '../../errors.js';
import { createAddressPolicy, ipLiteralOf } from '../../lib/address-policy.js';
import { decrypt, deriveKey, encrypt, randomToken } from '../../lib/crypto.js';
import { decodeCursor, encodeCursor } from '../../lib/cursor.js';
import type { WebhookDeliveryRow, WebhookRow } from '../../storage/schema.js';
import { getApp, isUuid } from '../apps/apps.js';
import { recordAuditEvent, type RequestMeta } from '../audit/audit.js';
import { appsOfSession, appsOfUser } from '../tokens/signed-in-apps.js';
import * as store from './webhook-store.js';

export const WEBHOOK_EVENTS = [
  'user.signup',
  'user.login',
  'user.logout',
  'user.role_changed',
  'user.suspended',
  'user.deleted',
  'ping',
] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

export const WebhookInput = z.object({
  appId: z.string().refine(isUuid, 'must be an app id (uuid)'),
  url: z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }).max(2000),
  events: z.array(z.enum(WEBHOOK_EVENTS)).min(1, 'name at least one event'),
});

export interface Webhook {
  id: string;
  appId: string;
  url: string;
  events: string[];
  disabled: boolean;
  createdAt: Date;
}

const toWebhook = (r: WebhookRow): Webhook => ({
  id: r.id,
  appId: r.app_id,
  url: r.url,
  events: r.events,
  disabled: r.disabled_at !== null,
  createdAt: r.created_at,
});

const secretKey = (deps: Pick<Deps, 'secret'>) => deriveKey(deps.secret, 'webhooks');

/** The signing secret of a stored webhook (decrypted; AAD binds it to its row). */
export function webhookSecret(deps: Pick<Deps, 'secret'>, row: Pick<WebhookRow, 'id' | 'secret_enc'>): string {
  return decrypt(secretKey(deps), row.secret_enc, row.id);
}

/** Registers a webhook; the secret (64 hex chars) is returned once and kept only encrypted. */
export async function addWebhook(
  deps: Pick<Deps, 'db' | 'clock' | 'secret' | 'config'>,
  input: z.input<typeof WebhookInput>,
  meta: RequestMeta = {},
): Promise<{ webhook: Webhook; secret: string }> {
  const v = WebhookInput.parse(input);
  // An IP literal is refused now; a name is checked each time it resolves (webhook-delivery.ts).
  const literal = ipLiteralOf(new URL(v.url));
  const refusal = literal === undefined ? undefined : createAddressPolicy(deps.config.webhookAllowedCidrs).refusal(literal);
  if (refusal) throw appError('webhook_address_not_allowed', { detail: refusal });
  await getApp(deps, v.appId);
  const id = randomUUID();
  const secret = randomToken(32);
  const row = await store.insertWebhook(deps.db, {
    id,
    app_id: v.appId,
    url: v.url,
    events: [...new Set(v.events)],
    secret_enc: encrypt(secretKey(deps), secret, id),
    created_at: deps.clock.now(),
  });
  // Only the origin: receivers sometimes put a token in the path or query.
  await recordAuditEvent(
    deps,
    { event: 'webhook.created', appId: v.appId, data: { webhookId: id, origin: new URL(v.url).origin, events: row.events } },
    meta,
  );
  return { webhook: toWebhook(row), secret };
}

export async function listWebhooks(deps: Pick<Deps, 'db'>, appId?: string): Promise<Webhook[]> {
  if (appId && !isUuid(appId)) return [];
  return (await store.listWebhooks(deps.db, appId)).map(toWebhook);
}

export async function deleteWebhook(deps: Pick<Deps, 'db' | 'clock'>, id: string, meta: RequestMeta = {}): Promise<void> {
  const row = isUuid(id) ? await store.findWebhook(deps.db, id) : undefined;
  if (!row || !(await store.deleteWebhook(deps.db, id))) throw appError('webhook_not_found', { id });
  await recordAuditEvent(deps, { event: 'webhook.deleted', appId: row.app_id, data: { webhookId: id } }, meta);
}

export interface WebhookUserData {
  user_id: string | null;
  email: string | null;
  name: string | null;
}

/**
 * Queues `event` for every enabled webhook of `appId` subscribed to it; returns the delivery ids.
 * Cheap when nobody subscribes (one indexed query), so callers may call it on every sign-in.
 */
export async function enqueueWebhookEvent(
  deps: Pick<Deps, 'db' | 'clock'>,
  input: { appId: string; event: WebhookEvent; data: WebhookUserData; webhookId?: string },
): Promise<string[]> {
  let subs = await store.findSubscribers(deps.db, input.appId, input.event);
  if (input.webhookId) subs = subs.filter((s) => s.id === input.webhookId);
  if (subs.length === 0) return [];
  const now = deps.clock.now();
  const payload = JSON.stringify({ event: input.event, timestamp: now.toISOString(), app_id: input.appId, data: input.data });
  const rows = subs.map((s) => ({
    id: randomUUID(),
    webhook_id: s.id,
    app_id: input.appId,
    event: input.event,
    payload,
    next_attempt_at: now,
    created_at: now,
  }));
  await store.insertDeliveries(deps.db, rows);
  return rows.map((r) => r.id);
}

/**
 * A user event for several apps: those given, or by default every app the user holds (or held)
 * refresh tokens for — the apps that know this user. `sessionId` narrows it to the apps that SSO
 * session signed in to (user.logout).
 */
export async function enqueueUserEvent(
  deps: Pick<Deps, 'db' | 'clock'>,
  input: { event: WebhookEvent; user: { id: string; email: string | null; name: string | null }; appIds?: string[]; sessionId?: string },
): Promise<string[]> {
  const appIds = input.appIds ?? (input.sessionId ? await appsOfSession(deps, input.sessionId) : await appsOfUser(deps, input.user.id));
  const data = { user_id: input.user.id, email: input.user.email, name: input.user.name };
  const ids: string[] = [];
  for (const appId of new Set(appIds)) ids.push(...(await enqueueWebhookEvent(deps, { appId, event: input.event, data })));
  return ids;
}

/** The queue's event for a back-channel logout: such a row names no webhook (migration 0014). */
export const BACKCHANNEL_LOGOUT_EVENT = 'backchannel_logout';

/**
 * Queues back-channel logouts (oidc/backchannel-logout.ts) on the webhook delivery queue, so they share
 * its worker, retries and address policy. `payload` is what the token is signed from at send time.
 * Takes the caller's `db`, so the rows commit with the caller's transaction.
 */
export async function enqueueBackchannelLogouts(
  deps: Pick<Deps, 'db'>,
  items: { appId: string; payload: string }[],
  now: Date,
): Promise<void> {
  await store.insertDeliveries(
    deps.db,
    items.map((i) => ({
      id: randomUUID(),
      webhook_id: null,
      app_id: i.appId,
      event: BACKCHANNEL_LOGOUT_EVENT,
      payload: i.payload,
      next_attempt_at: now,
      created_at: now,
    })),
  );
}

/** Queues a `ping` to one webhook (whatever it subscribes to), for testing a receiver. */
export async function pingWebhook(deps: Pick<Deps, 'db' | 'clock'>, id: string, meta?: RequestMeta): Promise<string> {
  const row = isUuid(id) ? await store.findWebhook(deps.db, id) : undefined;
  if (!row) throw appError('webhook_not_found', { id });
  const now = deps.clock.now();
  const deliveryId = randomUUID();
  const payload = JSON.stringify({
    event: 'ping',
    timestamp: now.toISOString(),
    app_id: row.app_id,
    data: { user_id: null, email: null, name: null },
  });
  await store.insertDeliveries(deps.db, [
    { id: deliveryId, webhook_id: row.id, app_id: row.app_id, event: 'ping', payload, next_attempt_at: now, created_at: now },
  ]);
  if (meta) await recordAuditEvent(deps, { event: 'webhook.pinged', appId: row.app_id, data: { webhookId: id, deliveryId } }, meta);
  return deliveryId;
}

/**
 * Sends a failed delivery again (the Console's "Retry"): the same frozen body, queued now with a full
 * set of attempts. Only a failed delivery of this webhook; anything else is delivery_not_retryable.
 */
export async function retryDelivery(
  deps: Pick<Deps, 'db' | 'clock'>,
  webhook: Pick<Webhook, 'id' | 'appId'>,
  deliveryId: string,
  meta: RequestMeta,
): Promise<void> {
  const done = isUuid(deliveryId) && (await store.requeueFailedDelivery(deps.db, webhook.id, deliveryId, deps.clock.now()));
  if (!done) throw appError('delivery_not_retryable', { id: deliveryId });
  await recordAuditEvent(
    deps,
    { event: 'webhook.delivery_retried', appId: webhook.appId, data: { webhookId: webhook.id, deliveryId } },
    meta,
  );
}

export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;

export async function listDeliveries(
  deps: Pick<Deps, 'db'>,
  f: { appId?: string; webhookId?: string; status?: string; limit?: number } = {},
): Promise<WebhookDeliveryRow[]> {
  if (f.status && !(DELIVERY_STATUSES as readonly string[]).includes(f.status)) {
    throw appError('delivery_status_invalid', { allowed: [...DELIVERY_STATUSES] });
  }
  if ((f.appId && !isUuid(f.appId)) || (f.webhookId && !isUuid(f.webhookId))) return [];
  return store.listDeliveries(deps.db, {
    appId: f.appId,
    webhookId: f.webhookId,
    status: f.status,
    limit: Math.min(Math.max(f.limit ?? 100, 1), 10_000),
  });
}

/** A webhook as the Admin API finds it: undefined when unknown or (appIds given) of an app out of reach. */
export async function findWebhookInScope(
  deps: Pick<Deps, 'db'>,
  id: string,
  appIds: readonly string[] | undefined,
): Promise<Webhook | undefined> {
  const row = isUuid(id) ? await store.findWebhook(deps.db, id) : undefined;
  if (!row || (appIds !== undefined && !appIds.includes(row.app_id))) return undefined;
  return toWebhook(row);
}

export const DELIVERY_PAGE = { default: 50, max: 200 } as const;

/** A page of one webhook's deliveries, newest first; `cursor` is a previous page's `next`. */
export async function listDeliveriesPage(
  deps: Pick<Deps, 'db'>,
  webhookId: string,
  page: { cursor?: string | undefined; limit?: number | undefined } = {},
): Promise<{ deliveries: WebhookDeliveryRow[]; next: string | undefined }> {
  const limit = Math.min(Math.max(page.limit ?? DELIVERY_PAGE.default, 1), DELIVERY_PAGE.max);
  let afterId: string | undefined;
  if (page.cursor !== undefined) {
    const key = decodeCursor(z.tuple([z.uuid()]), page.cursor);
    if (!key) throw appError('cursor_invalid');
    afterId = key[0];
  }
  const rows = await store.listDeliveriesPage(deps.db, { webhookId, afterId, limit: limit + 1 });
  const more = rows.length > limit;
  const shown = more ? rows.slice(0, limit) : rows;
  return { deliveries: shown, next: more ? encodeCursor([shown[shown.length - 1]!.id]) : undefined };
}
