// apps.logo_data / logo_content_type (0025): an uploaded logo, served from Keymaster's own origin.
import type { Db } from '../../storage/db.js';

/** Stores the logo and points logo_url at where it is served; false when there is no such app. */
export async function saveAppLogo(
  db: Db,
  appId: string,
  logo: { data: Buffer; contentType: string; url: string; now: Date },
): Promise<boolean> {
  const res = await db
    .updateTable('apps')
    .set({ logo_data: logo.data, logo_content_type: logo.contentType, logo_url: logo.url, updated_at: logo.now })
    .where('app_id', '=', appId)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

export async function findAppLogo(db: Db, appId: string): Promise<{ data: Buffer; contentType: string } | undefined> {
  const row = await db
    .selectFrom('apps')
    .select(['logo_data', 'logo_content_type'])
    .where('app_id', '=', appId)
    .where('logo_data', 'is not', null)
    .executeTakeFirst();
  if (!row?.logo_data || !row.logo_content_type) return undefined;
  return { data: Buffer.from(row.logo_data), contentType: row.logo_content_type };
}
