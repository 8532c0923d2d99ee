// email_tokens queries. A token is spent by one conditional UPDATE: of two concurrent uses, Postgres
// lets exactly one match `used_at IS NULL`.
import type { ExpressionBuilder } from 'kysely';
import type { Db } from '../../storage/db.js';
import type { Database, EmailTokenRow } from '../../storage/schema.js';

export async function insertEmailToken(
  db: Db,
  row: {
    token_hash: string;
    user_id: string;
    purpose: 'verify' | 'reset';
    created_at: Date;
    expires_at: Date;
    sign_in_state?: string | null;
    sign_in_authz?: string | null;
    sign_in_prompt?: string | null;
    sign_in_binding?: string | null;
  },
): Promise<void> {
  await db.insertInto('email_tokens').values(row).execute();
}

/** The one definition of a usable email token: this hash and purpose, unused, unexpired. */
const isLive = (eb: ExpressionBuilder<Database, 'email_tokens'>, tokenHash: string, purpose: 'verify' | 'reset', now: Date) =>
  eb.and([eb('token_hash', '=', tokenHash), eb('purpose', '=', purpose), eb('used_at', 'is', null), eb('expires_at', '>', now)]);

/** An unused, unexpired token's user (a check before expensive work; spendEmailToken decides). */
export async function findLiveEmailToken(
  db: Db,
  tokenHash: string,
  purpose: 'verify' | 'reset',
  now: Date,
): Promise<{ user_id: string } | undefined> {
  return db
    .selectFrom('email_tokens')
    .select('user_id')
    .where((eb) => isLive(eb, tokenHash, purpose, now))
    .executeTakeFirst();
}

/** The pending sign-in a link continues, whether or not the link can still be used (nothing is spent). */
export async function findEmailTokenSignIn(
  db: Db,
  tokenHash: string,
  purpose: 'verify' | 'reset',
): Promise<{ sign_in_state: string | null; sign_in_authz: string | null; sign_in_prompt: string | null } | undefined> {
  return db
    .selectFrom('email_tokens')
    .select(['sign_in_state', 'sign_in_authz', 'sign_in_prompt'])
    .where('token_hash', '=', tokenHash)
    .where('purpose', '=', purpose)
    .executeTakeFirst();
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
    .where((eb) => isLive(eb, tokenHash, purpose, now))
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
