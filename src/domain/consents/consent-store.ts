// consents queries: one row per (user, app), its scopes the union of every grant.
import { sql } from 'kysely';
import type { Db } from '../../storage/db.js';
import type { ConsentRow } from '../../storage/schema.js';

export async function findConsent(db: Db, userId: string, appId: string): Promise<ConsentRow | undefined> {
  return db.selectFrom('consents').selectAll().where('user_id', '=', userId).where('app_id', '=', appId).executeTakeFirst();
}

/** Inserts the grant, or adds its scopes to the one already there (a union: nothing granted is lost). */
export async function upsertConsent(db: Db, row: { user_id: string; app_id: string; scopes: string[]; now: Date }): Promise<ConsentRow> {
  return db
    .insertInto('consents')
    .values({ user_id: row.user_id, app_id: row.app_id, scopes: row.scopes, granted_at: row.now, updated_at: row.now })
    .onConflict((oc) =>
      oc.columns(['user_id', 'app_id']).doUpdateSet({
        scopes: sql<string[]>`array(select distinct s from unnest(consents.scopes || excluded.scopes) as s order by s)`,
        updated_at: row.now,
      }),
    )
    .returningAll()
    .executeTakeFirstOrThrow();
}

export interface ConsentListing {
  id: string;
  app_id: string;
  app_name: string;
  logo_url: string | null;
  scopes: string[];
  granted_at: Date;
  updated_at: Date;
}

export async function listUserConsents(db: Db, userId: string): Promise<ConsentListing[]> {
  return db
    .selectFrom('consents as c')
    .innerJoin('apps as a', 'a.app_id', 'c.app_id')
    .select(['c.id', 'c.app_id', 'a.name as app_name', 'a.logo_url', 'c.scopes', 'c.granted_at', 'c.updated_at'])
    .where('c.user_id', '=', userId)
    .orderBy('c.updated_at', 'desc')
    .orderBy('c.id')
    .execute();
}

/** Deletes one of the user's own grants; another user's id matches nothing. */
export async function deleteUserConsent(db: Db, userId: string, consentId: string): Promise<{ app_id: string } | undefined> {
  return db.deleteFrom('consents').where('id', '=', consentId).where('user_id', '=', userId).returning('app_id').executeTakeFirst();
}
