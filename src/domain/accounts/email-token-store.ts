// email_tokens queries. A token is spent by one conditional UPDATE: of two concurrent uses, Postgres
// lets exactly one match `used_at IS NULL`.
import type { Db } from '../../storage/db.js';
import type { EmailTokenRow } from '../../storage/schema.js';

export async function insertEmailToken(
  db: Db,
  row: { token_hash: string; user_id: string; purpose: 'verify' | 'reset'; created_at: Date; expires_at: Date },
): Promise<void> {
  await db.insertInto('email_tokens').values(row).execute();
}

export async function spendEmailToken(
  db: Db,
  tokenHash: string,
  purpose: 'verify' | 'reset',
  now: Date,
): Promise<EmailTokenRow | undefined> {
  return db
    .updateTable('email_tokens')
    .set({ used_at: now })
    .where('token_hash', '=', tokenHash)
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .returningAll()
    .executeTakeFirst();
}

/** Marks every unused token of a user and purpose as used (a reset makes older reset links useless). */
export async function retireEmailTokens(db: Db, userId: string, purpose: 'verify' | 'reset', now: Date): Promise<number> {
  const res = await db
    .updateTable('email_tokens')
    .set({ used_at: now })
    .where('user_id', '=', userId)
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}
