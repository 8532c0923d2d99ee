// client_assertion_jtis queries: the primary key (app_id, jti_hash) decides which of two uses of one
// jti wins, whatever process each arrives at.
import type { Db } from '../../storage/db.js';

/** Records a jti as used; false when it already was (a replay). */
export async function recordJti(db: Db, appId: string, jtiHash: string, expiresAt: Date): Promise<boolean> {
  const row = await db
    .insertInto('client_assertion_jtis')
    .values({ app_id: appId, jti_hash: jtiHash, expires_at: expiresAt })
    .onConflict((oc) => oc.columns(['app_id', 'jti_hash']).doNothing())
    .returning('app_id')
    .executeTakeFirst();
  return row !== undefined;
}
