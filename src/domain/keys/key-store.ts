// signing_keys queries. Private keys arrive and leave encrypted; this file never sees plaintext.
import type { Db } from '../../storage/db.js';
import type { SigningKeyRow } from '../../storage/schema.js';

export async function listPublishableKeys(db: Db): Promise<SigningKeyRow[]> {
  return db.selectFrom('signing_keys').selectAll().where('state', '!=', 'retired').orderBy('created_at', 'desc').execute();
}

export async function listAllKeys(db: Db): Promise<SigningKeyRow[]> {
  return db.selectFrom('signing_keys').selectAll().orderBy('created_at', 'desc').execute();
}

export async function findActiveKey(db: Db): Promise<SigningKeyRow | undefined> {
  return db.selectFrom('signing_keys').selectAll().where('state', '=', 'active').executeTakeFirst();
}

export async function insertKey(
  db: Db,
  row: { kid: string; public_jwk: string; private_key_enc: string; state: 'next' | 'active'; created_at: Date; activated_at: Date | null },
): Promise<void> {
  await db.insertInto('signing_keys').values(row).execute();
}
