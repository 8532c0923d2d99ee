// audit_events queries.
import type { Insertable } from 'kysely';
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
