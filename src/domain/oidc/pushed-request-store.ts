// pushed_authorization_requests queries. A pushed request is spent by one DELETE … RETURNING, so of
// two uses of one request_uri exactly one gets the parameters.
import type { Db } from '../../storage/db.js';
import type { PushedAuthorizationRequestsTable } from '../../storage/schema.js';
import type { Insertable } from 'kysely';

export async function insertPushedRequest(db: Db, row: Insertable<PushedAuthorizationRequestsTable>): Promise<void> {
  await db.insertInto('pushed_authorization_requests').values(row).execute();
}

/** Deletes and returns the live request of `appId` named by `requestHash`; nothing if there is none. */
export async function takePushedRequest(db: Db, requestHash: string, appId: string, now: Date): Promise<{ params: string } | undefined> {
  return db
    .deleteFrom('pushed_authorization_requests')
    .where('request_hash', '=', requestHash)
    .where('app_id', '=', appId)
    .where('expires_at', '>', now)
    .returning('params')
    .executeTakeFirst();
}
