// invites queries (migration 0025): a single-use code stored as its SHA-256, bound to an email and an app.
import type { Db } from '../../storage/db.js';
import type { InviteRow } from '../../storage/schema.js';

export async function insertInvite(
  db: Db,
  row: { app_id: string; email: string; roles: string[]; code_hash: string; created_by: string | null; created_at: Date; expires_at: Date },
): Promise<InviteRow> {
  return db.insertInto('invites').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function findInviteByCodeHash(db: Db, appId: string, codeHash: string): Promise<InviteRow | undefined> {
  return db.selectFrom('invites').selectAll().where('code_hash', '=', codeHash).where('app_id', '=', appId).executeTakeFirst();
}

export async function findInvite(db: Db, appId: string, id: string): Promise<InviteRow | undefined> {
  return db.selectFrom('invites').selectAll().where('id', '=', id).where('app_id', '=', appId).executeTakeFirst();
}

/** A page of an app's invites, newest first, after the keyset (created_at, id) given (index invites_app). */
export async function listAppInvites(
  db: Db,
  appId: string,
  f: { after?: { createdAt: Date; id: string } | undefined; limit: number },
): Promise<InviteRow[]> {
  let q = db.selectFrom('invites').selectAll().where('app_id', '=', appId);
  if (f.after) {
    const { createdAt, id } = f.after;
    q = q.where((eb) => eb.or([eb('created_at', '<', createdAt), eb.and([eb('created_at', '=', createdAt), eb('id', '>', id)])]));
  }
  return q.orderBy('created_at', 'desc').orderBy('id', 'asc').limit(f.limit).execute();
}

/** The single use: marks the invite accepted only while it is open (unused, unrevoked, unexpired). */
export async function consumeInvite(db: Db, id: string, userId: string, now: Date): Promise<InviteRow | undefined> {
  return db
    .updateTable('invites')
    .set({ accepted_at: now, accepted_by: userId })
    .where('id', '=', id)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .returningAll()
    .executeTakeFirst();
}

/** Revokes an invite still open (not accepted, not revoked). */
export async function revokeOpenInvite(db: Db, appId: string, id: string, now: Date): Promise<InviteRow | undefined> {
  return db
    .updateTable('invites')
    .set({ revoked_at: now })
    .where('id', '=', id)
    .where('app_id', '=', appId)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
}
