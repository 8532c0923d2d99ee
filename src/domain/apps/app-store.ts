// apps queries.
import type { Db } from '../../storage/db.js';
import type { AppRow, AppUpdate, NewApp } from '../../storage/schema.js';

export async function insertApp(db: Db, row: NewApp): Promise<AppRow> {
  return db.insertInto('apps').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function findAppById(db: Db, appId: string): Promise<AppRow | undefined> {
  return db.selectFrom('apps').selectAll().where('app_id', '=', appId).executeTakeFirst();
}

export async function listApps(db: Db): Promise<AppRow[]> {
  return db.selectFrom('apps').selectAll().orderBy('created_at').execute();
}

export async function updateApp(db: Db, appId: string, changes: AppUpdate): Promise<AppRow | undefined> {
  return db.updateTable('apps').set(changes).where('app_id', '=', appId).returningAll().executeTakeFirst();
}

export async function deleteApp(db: Db, appId: string): Promise<boolean> {
  const res = await db.deleteFrom('apps').where('app_id', '=', appId).executeTakeFirst();
  return Number(res.numDeletedRows) > 0;
}

/** The longest access-token lifetime any app may have (seconds), or null when every app uses the default. */
export async function maxAppAccessTokenTtl(db: Db): Promise<number | null> {
  const row = await db
    .selectFrom('apps')
    .select((eb) => eb.fn.max('access_token_ttl').as('ttl'))
    .executeTakeFirst();
  return row?.ttl ?? null;
}

/** Of `appIds`, those that registered a backchannel_logout_uri. */
export async function findBackchannelLogoutAppIds(db: Db, appIds: string[]): Promise<string[]> {
  if (appIds.length === 0) return [];
  const rows = await db
    .selectFrom('apps')
    .select('app_id')
    .where('app_id', 'in', appIds)
    .where('backchannel_logout_uri', 'is not', null)
    .execute();
  return rows.map((r) => r.app_id);
}
