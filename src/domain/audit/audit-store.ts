// audit_events queries.
import type { Db } from '../../storage/db.js';
import type { AuditEventsTable } from '../../storage/schema.js';
import type { Insertable } from 'kysely';

export async function insertAuditEvent(db: Db, row: Insertable<AuditEventsTable>): Promise<void> {
  await db.insertInto('audit_events').values(row).execute();
}
