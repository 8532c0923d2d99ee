// device_codes queries (RFC 8628, migration 0020). The two decisions that must not race are single
// conditional UPDATEs: the user's approve/deny (status = 'pending') and the token exchange
// (status = 'approved'), so of two concurrent attempts exactly one wins.
import type { Db } from '../../storage/db.js';
import type { DeviceCodeRow, NewDeviceCode } from '../../storage/schema.js';

/** Inserts the request unless its user code is taken (a collision): false then, the caller draws again. */
export async function insertDeviceCode(db: Db, row: NewDeviceCode): Promise<boolean> {
  const res = await db
    .insertInto('device_codes')
    .values(row)
    .onConflict((oc) => oc.column('user_code_hash').doNothing())
    .executeTakeFirst();
  return Number(res.numInsertedOrUpdatedRows ?? 0) === 1;
}

/** A request the user can still decide: pending and unexpired, by its user code. */
export async function findPendingByUserCode(db: Db, userCodeHash: string, now: Date): Promise<DeviceCodeRow | undefined> {
  return db
    .selectFrom('device_codes')
    .selectAll()
    .where('user_code_hash', '=', userCodeHash)
    .where('status', '=', 'pending')
    .where('expires_at', '>', now)
    .executeTakeFirst();
}

/** The user's decision on a pending, unexpired request; the row if this call decided it. */
export async function decideDeviceCode(
  db: Db,
  userCodeHash: string,
  now: Date,
  decision: { status: 'approved' | 'denied'; userId: string; sessionId: string; authTime: Date; amr: string | null },
): Promise<DeviceCodeRow | undefined> {
  return db
    .updateTable('device_codes')
    .set({
      status: decision.status,
      user_id: decision.userId,
      session_id: decision.sessionId,
      auth_time: decision.authTime,
      amr: decision.amr,
      decided_at: now,
    })
    .where('user_code_hash', '=', userCodeHash)
    .where('status', '=', 'pending')
    .where('expires_at', '>', now)
    .returningAll()
    .executeTakeFirst();
}

/** Spends an approved, unexpired request of `appId` (§3.5: the exchange); nothing if it was not redeemable. */
export async function redeemDeviceCode(db: Db, deviceCodeHash: string, appId: string, now: Date): Promise<DeviceCodeRow | undefined> {
  return db
    .updateTable('device_codes')
    .set({ status: 'redeemed', redeemed_at: now })
    .where('device_code_hash', '=', deviceCodeHash)
    .where('app_id', '=', appId)
    .where('status', '=', 'approved')
    .where('expires_at', '>', now)
    .returningAll()
    .executeTakeFirst();
}

/** The request of `appId` behind a poll, locked until the caller's transaction ends (the poll is recorded under it). */
export async function lockDeviceCode(db: Db, deviceCodeHash: string, appId: string): Promise<DeviceCodeRow | undefined> {
  return db
    .selectFrom('device_codes')
    .selectAll()
    .where('device_code_hash', '=', deviceCodeHash)
    .where('app_id', '=', appId)
    .forUpdate()
    .executeTakeFirst();
}

export async function recordPoll(db: Db, deviceCodeHash: string, now: Date, intervalSeconds: number): Promise<void> {
  await db
    .updateTable('device_codes')
    .set({ last_polled_at: now, interval_seconds: intervalSeconds })
    .where('device_code_hash', '=', deviceCodeHash)
    .execute();
}

/** The (app, session) pairs of the device grants approved in `sessionIds` (back-channel logout). */
export async function appSessionsOfApprovedDeviceCodes(db: Db, sessionIds: string[]): Promise<{ app_id: string; session_id: string }[]> {
  if (sessionIds.length === 0) return [];
  const rows = await db
    .selectFrom('device_codes')
    .select(['app_id', 'session_id'])
    .distinct()
    .where('session_id', 'in', sessionIds)
    .where('status', 'in', ['approved', 'redeemed'])
    .execute();
  return rows.flatMap((r) => (r.session_id ? [{ app_id: r.app_id, session_id: r.session_id }] : []));
}
