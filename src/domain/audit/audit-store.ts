// audit_events queries.
import { sql, type Insertable } from 'kysely';
import type { Db } from '../../storage/db.js';
import type { AuditEventRow, AuditEventsTable } from '../../storage/schema.js';

export async function insertAuditEvent(db: Db, row: Insertable<AuditEventsTable>): Promise<void> {
  await db.insertInto('audit_events').values(row).execute();
}

/** Newest first. */
export async function listAuditEvents(
  db: Db,
  f: { userId?: string | undefined; appId?: string | undefined; event?: string | undefined; limit: number },
): Promise<AuditEventRow[]> {
  let q = db.selectFrom('audit_events').selectAll();
  if (f.userId) q = q.where('user_id', '=', f.userId);
  if (f.appId) q = q.where('app_id', '=', f.appId);
  if (f.event) q = q.where('event', '=', f.event);
  return q.orderBy('at', 'desc').orderBy('id', 'desc').limit(f.limit).execute();
}

export interface AuditPageFilter {
  userId?: string | undefined;
  appId?: string | undefined;
  event?: string | undefined;
  /** Who acted (data.actor_id: an admin's user id, a service's app id). */
  actorId?: string | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
  /** Only events of these apps (a scoped admin); undefined: every event. */
  appIds?: readonly string[] | undefined;
  /** The id of the previous page's last row: this page starts after it in (at, id) desc order. */
  afterId?: number | undefined;
  limit: number;
}

/**
 * A page of events, newest first by (at, id). The position is the row itself (looked up by id), so a
 * cursor never carries a timestamp that could lose Postgres's microseconds on the way.
 */
export async function listAuditEventsPage(db: Db, f: AuditPageFilter): Promise<AuditEventRow[]> {
  let q = db.selectFrom('audit_events').selectAll();
  if (f.userId) q = q.where('user_id', '=', f.userId);
  if (f.appId) q = q.where('app_id', '=', f.appId);
  if (f.event) q = q.where('event', '=', f.event);
  if (f.actorId) q = q.where(sql<boolean>`data->>'actor_id' = ${f.actorId}`);
  if (f.since) q = q.where('at', '>=', f.since);
  if (f.until) q = q.where('at', '<', f.until);
  if (f.appIds) q = f.appIds.length ? q.where('app_id', 'in', [...f.appIds]) : q.where(sql<boolean>`false`);
  if (f.afterId !== undefined) {
    q = q.where(sql<boolean>`(at, id) < (select p.at, p.id from audit_events p where p.id = ${f.afterId})`);
  }
  return q.orderBy('at', 'desc').orderBy('id', 'desc').limit(f.limit).execute();
}

/** How many events of each name since `since` (the stats' recent failures), within `appIds` when given. */
export async function countAuditEventsSince(
  db: Db,
  events: readonly string[],
  since: Date,
  appIds: readonly string[] | undefined,
): Promise<Record<string, number>> {
  if (appIds && appIds.length === 0) return {};
  let q = db
    .selectFrom('audit_events')
    .select(['event', sql<string>`count(*)`.as('n')])
    .where('event', 'in', [...events])
    .where('at', '>=', since);
  if (appIds) q = q.where('app_id', 'in', [...appIds]);
  const rows = await q.groupBy('event').execute();
  return Object.fromEntries(rows.map((r) => [r.event, Number(r.n)]));
}
