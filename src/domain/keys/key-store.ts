// signing_keys queries. Private keys arrive and leave encrypted; this file never sees plaintext.
import type { Db } from '../../storage/db.js';
import type { SigningKeyRow } from '../../storage/schema.js';

/** next, active and previous keys: everything a verifier may need (DESIGN.md §2, JWKS). */
export async function listPublishableKeys(db: Db): Promise<SigningKeyRow[]> {
  return db.selectFrom('signing_keys').selectAll().where('state', '!=', 'retired').orderBy('created_at', 'desc').execute();
}

export async function listAllKeys(db: Db): Promise<SigningKeyRow[]> {
  return db.selectFrom('signing_keys').selectAll().orderBy('created_at', 'desc').execute();
}

/** What a process compares to notice a key change: kid and state of every published key. */
export async function listPublishedKeyStates(db: Db): Promise<{ kid: string; state: string }[]> {
  return db.selectFrom('signing_keys').select(['kid', 'state']).where('state', '!=', 'retired').execute();
}

export async function findActiveKey(db: Db): Promise<SigningKeyRow | undefined> {
  return db.selectFrom('signing_keys').selectAll().where('state', '=', 'active').executeTakeFirst();
}

export async function findNextKey(db: Db): Promise<SigningKeyRow | undefined> {
  return db.selectFrom('signing_keys').selectAll().where('state', '=', 'next').orderBy('created_at').executeTakeFirst();
}

export async function insertKey(
  db: Db,
  row: {
    kid: string;
    public_jwk: string;
    private_key_enc: string;
    state: 'next' | 'active';
    created_at: Date;
    activated_at: Date | null;
    activate_at: Date | null;
  },
): Promise<void> {
  await db.insertInto('signing_keys').values(row).execute();
}

export async function setActivateAt(db: Db, kid: string, at: Date): Promise<void> {
  await db.updateTable('signing_keys').set({ activate_at: at }).where('kid', '=', kid).where('state', '=', 'next').execute();
}

/** The active key stops signing and stays published until `retireAt`. */
export async function demoteActiveKey(db: Db, retireAt: Date): Promise<void> {
  await db.updateTable('signing_keys').set({ state: 'previous', retire_at: retireAt }).where('state', '=', 'active').execute();
}

export async function activateKey(db: Db, kid: string, now: Date): Promise<void> {
  await db
    .updateTable('signing_keys')
    .set({ state: 'active', activated_at: now })
    .where('kid', '=', kid)
    .where('state', '=', 'next')
    .execute();
}

/** Unpublishes previous keys whose tokens have all expired; returns their kids. */
export async function retireDueKeys(db: Db, now: Date): Promise<string[]> {
  const rows = await db
    .updateTable('signing_keys')
    .set({ state: 'retired', retired_at: now })
    .where('state', '=', 'previous')
    .where('retire_at', '<=', now)
    .returning('kid')
    .execute();
  return rows.map((r) => r.kid);
}
