// sessions (SSO browser sessions) queries. Looked up by the hash of the cookie value only.
import type { Db } from '../../storage/db.js';
import type { SessionRow } from '../../storage/schema.js';

export async function insertSession(
  db: Db,
  row: {
    token_hash: string;
    user_id: string;
    auth_time: Date;
    created_at: Date;
    expires_at: Date;
    user_agent: string | null;
    ip: string | null;
    amr: string | null;
  },
): Promise<SessionRow> {
  return db
    .insertInto('sessions')
    .values({ ...row, last_seen_at: row.created_at })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** A session that is neither revoked nor expired at `now`. */
export async function findLiveSession(db: Db, tokenHash: string, now: Date): Promise<SessionRow | undefined> {
  return db
    .selectFrom('sessions')
    .selectAll()
    .where('token_hash', '=', tokenHash)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
}

export async function revokeSessionByHash(db: Db, tokenHash: string, now: Date): Promise<SessionRow | undefined> {
  return db
    .updateTable('sessions')
    .set({ revoked_at: now })
    .where('token_hash', '=', tokenHash)
    .where('revoked_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
}

/** Ends every live session of a user (password reset); returns their ids. */
export async function revokeUserSessions(db: Db, userId: string, now: Date): Promise<string[]> {
  const rows = await db
    .updateTable('sessions')
    .set({ revoked_at: now })
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .returning('id')
    .execute();
  return rows.map((r) => r.id);
}
