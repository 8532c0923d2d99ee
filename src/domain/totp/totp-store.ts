// user_totp, totp_recovery_codes and totp_challenges queries (migration 0024). Spending is always a
// conditional UPDATE … RETURNING, so Postgres decides races (a step, a code, a challenge: once).
import type { Db } from '../../storage/db.js';
import type { Selectable } from 'kysely';
import type { UserTotpTable } from '../../storage/schema.js';

export type UserTotpRow = Selectable<UserTotpTable>;

export async function findTotp(db: Db, userId: string): Promise<UserTotpRow | undefined> {
  return db.selectFrom('user_totp').selectAll().where('user_id', '=', userId).executeTakeFirst();
}

/** A new pending secret; refused (undefined) while TOTP is active, so an active secret is never replaced. */
export async function upsertPendingSecret(db: Db, userId: string, pendingSecret: string, now: Date): Promise<UserTotpRow | undefined> {
  return db
    .insertInto('user_totp')
    .values({ user_id: userId, pending_secret: pendingSecret, created_at: now, updated_at: now })
    .onConflict((oc) =>
      oc.column('user_id').doUpdateSet({ pending_secret: pendingSecret, updated_at: now }).where('user_totp.secret', 'is', null),
    )
    .returningAll()
    .executeTakeFirst();
}

/** The pending secret becomes the active one, with the step its confirming code used; only if still pending. */
export async function activatePendingSecret(db: Db, userId: string, pendingSecret: string, step: number, now: Date): Promise<boolean> {
  const row = await db
    .updateTable('user_totp')
    .set({ secret: pendingSecret, pending_secret: null, enabled_at: now, last_step: step, updated_at: now })
    .where('user_id', '=', userId)
    .where('secret', 'is', null)
    .where('pending_secret', '=', pendingSecret)
    .returning('user_id')
    .executeTakeFirst();
  return row !== undefined;
}

/** Spends a time step: true only if it is later than every step accepted before (RFC 6238 §5.2). */
export async function spendStep(db: Db, userId: string, step: number, now: Date): Promise<boolean> {
  const row = await db
    .updateTable('user_totp')
    .set({ last_step: step, updated_at: now })
    .where('user_id', '=', userId)
    .where('secret', 'is not', null)
    .where('last_step', '<', step)
    .returning('user_id')
    .executeTakeFirst();
  return row !== undefined;
}

export async function deleteTotp(db: Db, userId: string): Promise<void> {
  await db.deleteFrom('user_totp').where('user_id', '=', userId).execute();
}

export async function replaceRecoveryCodes(db: Db, userId: string, hashes: string[], now: Date): Promise<void> {
  await db.deleteFrom('totp_recovery_codes').where('user_id', '=', userId).execute();
  await db
    .insertInto('totp_recovery_codes')
    .values(hashes.map((code_hash) => ({ user_id: userId, code_hash, created_at: now })))
    .execute();
}

export async function deleteRecoveryCodes(db: Db, userId: string): Promise<void> {
  await db.deleteFrom('totp_recovery_codes').where('user_id', '=', userId).execute();
}

/** Spends an unused recovery code; true when this call spent it. */
export async function spendRecoveryCode(db: Db, userId: string, codeHash: string, now: Date): Promise<boolean> {
  const row = await db
    .updateTable('totp_recovery_codes')
    .set({ used_at: now })
    .where('user_id', '=', userId)
    .where('code_hash', '=', codeHash)
    .where('used_at', 'is', null)
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

export async function countUnusedRecoveryCodes(db: Db, userId: string): Promise<number> {
  const row = await db
    .selectFrom('totp_recovery_codes')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('user_id', '=', userId)
    .where('used_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function insertChallenge(
  db: Db,
  row: { user_id: string; app_id: string | null; created_at: Date; expires_at: Date },
): Promise<string> {
  const r = await db.insertInto('totp_challenges').values(row).returning('id').executeTakeFirstOrThrow();
  return r.id;
}

/**
 * Counts one attempt on a live, unspent challenge of this user, within `maxAttempts`; undefined when
 * the challenge is unknown, spent, expired, another user's or out of attempts.
 */
export async function countChallengeAttempt(
  db: Db,
  id: string,
  userId: string,
  now: Date,
  maxAttempts: number,
): Promise<{ attempts: number } | undefined> {
  return db
    .updateTable('totp_challenges')
    .set((eb) => ({ attempts: eb('attempts', '+', 1) }))
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .where('attempts', '<', maxAttempts)
    .returning('attempts')
    .executeTakeFirst();
}

export async function findChallenge(db: Db, id: string): Promise<{ attempts: number; used_at: Date | null; expires_at: Date } | undefined> {
  return db.selectFrom('totp_challenges').select(['attempts', 'used_at', 'expires_at']).where('id', '=', id).executeTakeFirst();
}

/** Spends the challenge; true when this call spent it. */
export async function spendChallenge(db: Db, id: string, now: Date): Promise<boolean> {
  const row = await db
    .updateTable('totp_challenges')
    .set({ used_at: now })
    .where('id', '=', id)
    .where('used_at', 'is', null)
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}
