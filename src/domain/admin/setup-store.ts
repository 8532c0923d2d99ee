// setup_link queries (migration 0027): one row at most.
import type { Db } from '../../storage/db.js';
import type { SetupLinkTable } from '../../storage/schema.js';
import type { Selectable } from 'kysely';

export type SetupLinkRow = Selectable<SetupLinkTable>;

/** Replaces whatever link there was: the old token stops working. */
export async function replaceSetupLink(db: Db, row: { token_hash: string; created_at: Date; expires_at: Date }): Promise<void> {
  await db
    .insertInto('setup_link')
    .values({ id: true, ...row, used_at: null })
    .onConflict((oc) => oc.column('id').doUpdateSet({ ...row, used_at: null }))
    .execute();
}

export async function findSetupLink(db: Db): Promise<SetupLinkRow | undefined> {
  return db.selectFrom('setup_link').selectAll().executeTakeFirst();
}

/** The link, locked until the transaction ends: concurrent first-admin submits run one after the other. */
export async function lockSetupLink(db: Db): Promise<SetupLinkRow | undefined> {
  return db.selectFrom('setup_link').selectAll().forUpdate().executeTakeFirst();
}

export async function markSetupLinkUsed(db: Db, at: Date): Promise<void> {
  await db.updateTable('setup_link').set({ used_at: at }).where('used_at', 'is', null).execute();
}

export async function deleteSetupLink(db: Db): Promise<void> {
  await db.deleteFrom('setup_link').execute();
}
