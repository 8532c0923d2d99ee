// identities queries: (provider, subject) → user.
import type { Db } from '../../storage/db.js';
import type { IdentityRow } from '../../storage/schema.js';

export async function findIdentity(db: Db, provider: string, subject: string): Promise<IdentityRow | undefined> {
  return db.selectFrom('identities').selectAll().where('provider', '=', provider).where('subject', '=', subject).executeTakeFirst();
}

/** Inserts the link; returns nothing when (provider, subject) is already linked (a concurrent first sign-in). */
export async function insertIdentity(
  db: Db,
  row: { user_id: string; provider: string; subject: string; email: string | null; created_at: Date; last_login_at: Date },
): Promise<IdentityRow | undefined> {
  return db
    .insertInto('identities')
    .values(row)
    .onConflict((oc) => oc.columns(['provider', 'subject']).doNothing())
    .returningAll()
    .executeTakeFirst();
}

export async function touchIdentity(db: Db, id: string, at: Date): Promise<void> {
  await db.updateTable('identities').set({ last_login_at: at }).where('id', '=', id).execute();
}
