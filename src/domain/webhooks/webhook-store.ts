// webhooks and webhook_deliveries queries. Claiming due deliveries is one UPDATE over a
// FOR UPDATE SKIP LOCKED subquery: concurrent workers (any number of processes) never claim one row twice.
import { sql } from 'kysely';
import type { Db } from '../../storage/db.js';
import type { WebhookDeliveryRow, WebhookRow } from '../../storage/schema.js';

export async function insertWebhook(
  db: Db,
  row: { id: string; app_id: string; url: string; events: string[]; secret_enc: string; created_at: Date },
): Promise<WebhookRow> {
  return db.insertInto('webhooks').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function findWebhook(db: Db, id: string): Promise<WebhookRow | undefined> {
  return db.selectFrom('webhooks').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function findWebhooksByIds(db: Db, ids: string[]): Promise<WebhookRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('webhooks').selectAll().where('id', 'in', ids).execute();
}

export async function listWebhooks(db: Db, appId?: string): Promise<WebhookRow[]> {
  let q = db.selectFrom('webhooks').selectAll();
  if (appId) q = q.where('app_id', '=', appId);
  return q.orderBy('created_at').execute();
}

/** Enabled webhooks of an app subscribed to `event`. */
export async function findSubscribers(db: Db, appId: string, event: string): Promise<WebhookRow[]> {
  return db
    .selectFrom('webhooks')
    .selectAll()
    .where('app_id', '=', appId)
    .where('disabled_at', 'is', null)
    .where(sql<boolean>`${event} = any(events)`)
    .execute();
}

export async function deleteWebhook(db: Db, id: string): Promise<boolean> {
  const res = await db.deleteFrom('webhooks').where('id', '=', id).executeTakeFirst();
  return Number(res.numDeletedRows) > 0;
}

export async function insertDeliveries(
  db: Db,
  rows: {
    id: string;
    webhook_id: string | null;
    app_id: string;
    event: string;
    payload: string;
    next_attempt_at: Date;
    created_at: Date;
  }[],
): Promise<void> {
  if (rows.length) await db.insertInto('webhook_deliveries').values(rows).execute();
}

/**
 * Claims up to `limit` due deliveries: counts the attempt and moves next_attempt_at to `leaseUntil`,
 * so the row is not due again while this worker sends it (nor after a crash, until the lease ends).
 */
export async function claimDueDeliveries(db: Db, now: Date, leaseUntil: Date, limit: number): Promise<WebhookDeliveryRow[]> {
  return db
    .updateTable('webhook_deliveries')
    .set({ attempts: sql`attempts + 1`, next_attempt_at: leaseUntil })
    .where('id', 'in', (eb) =>
      eb
        .selectFrom('webhook_deliveries')
        .select('id')
        .where('status', '=', 'pending')
        .where('next_attempt_at', '<=', now)
        .orderBy('next_attempt_at')
        .limit(limit)
        .forUpdate()
        .skipLocked(),
    )
    .returningAll()
    .execute();
}

/** Records an attempt's result, only if no other worker has claimed the row since (same attempt count). */
export async function recordAttempt(
  db: Db,
  id: string,
  attempts: number,
  changes: {
    status: 'pending' | 'delivered' | 'failed';
    last_status: number | null;
    last_error: string | null;
    next_attempt_at?: Date;
    delivered_at?: Date;
  },
): Promise<boolean> {
  const res = await db
    .updateTable('webhook_deliveries')
    .set(changes)
    .where('id', '=', id)
    .where('attempts', '=', attempts)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

/** Puts a failed delivery of the webhook back in the queue, due now, with a fresh attempt count. */
export async function requeueFailedDelivery(db: Db, webhookId: string, id: string, now: Date): Promise<boolean> {
  const res = await db
    .updateTable('webhook_deliveries')
    .set({ status: 'pending', attempts: 0, next_attempt_at: now })
    .where('id', '=', id)
    .where('webhook_id', '=', webhookId)
    .where('status', '=', 'failed')
    .executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

export async function listDeliveries(
  db: Db,
  f: { appId?: string | undefined; webhookId?: string | undefined; status?: string | undefined; limit: number },
): Promise<WebhookDeliveryRow[]> {
  let q = db.selectFrom('webhook_deliveries').selectAll();
  if (f.appId) q = q.where('app_id', '=', f.appId);
  if (f.webhookId) q = q.where('webhook_id', '=', f.webhookId);
  if (f.status) q = q.where('status', '=', f.status as 'pending');
  return q.orderBy('created_at', 'desc').limit(f.limit).execute();
}

/** A webhook's deliveries, newest first by (created_at, id), after the row `afterId` (keyset). */
export async function listDeliveriesPage(
  db: Db,
  f: { webhookId: string; afterId?: string | undefined; limit: number },
): Promise<WebhookDeliveryRow[]> {
  let q = db.selectFrom('webhook_deliveries as d').selectAll('d').where('d.webhook_id', '=', f.webhookId);
  if (f.afterId) {
    q = q.where(
      sql<boolean>`exists (select 1 from webhook_deliveries p where p.id = ${f.afterId}
        and (d.created_at, d.id) < (p.created_at, p.id))`,
    );
  }
  return q.orderBy('d.created_at', 'desc').orderBy('d.id', 'desc').limit(f.limit).execute();
}
