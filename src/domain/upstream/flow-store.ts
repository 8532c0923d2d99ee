// upstream_flows queries. A flow is spent by one conditional UPDATE, so two callbacks racing with the
// same cookie cannot both proceed (the database decides).
import type { Db } from '../../storage/db.js';
import type { UpstreamFlowRow } from '../../storage/schema.js';

export async function insertFlow(db: Db, row: Omit<UpstreamFlowRow, 'used_at'>): Promise<void> {
  await db.insertInto('upstream_flows').values(row).execute();
}

/** Marks the flow used and returns it, only if it exists, is unused and has not expired. */
export async function spendFlow(db: Db, idHash: string, provider: string, now: Date): Promise<UpstreamFlowRow | undefined> {
  return db
    .updateTable('upstream_flows')
    .set({ used_at: now })
    .where('id_hash', '=', idHash)
    .where('provider', '=', provider)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .returningAll()
    .executeTakeFirst();
}

export async function deleteFlowsExpiredBefore(db: Db, before: Date): Promise<void> {
  await db.deleteFrom('upstream_flows').where('expires_at', '<', before).execute();
}
