// apps queries.
import { sql } from 'kysely';
import type { Db } from '../../storage/db.js';
import type { AppRow, AppsTable, AppUpdate, NewApp } from '../../storage/schema.js';

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

/** Inserts a built-in app unless one with its `builtin` exists (index apps_builtin decides a race). */
export async function insertBuiltinAppIfAbsent(db: Db, row: NewApp): Promise<AppRow | undefined> {
  return db
    .insertInto('apps')
    .values(row)
    .onConflict((oc) => oc.column('builtin').where('builtin', 'is not', null).doNothing())
    .returningAll()
    .executeTakeFirst();
}

export async function findBuiltinApp(db: Db, builtin: 'console'): Promise<AppRow | undefined> {
  return db.selectFrom('apps').selectAll().where('builtin', '=', builtin).executeTakeFirst();
}

/** Every apps column but logo_data (the bytes of an uploaded logo). */
const LIST_COLUMNS = [
  'app_id',
  'name',
  'client_secret_hash',
  'redirect_uris',
  'post_logout_redirect_uris',
  'logo_url',
  'primary_color',
  'providers',
  'access_token_ttl',
  'refresh_token_ttl_days',
  'client_type',
  'grant_types',
  'allowed_scopes',
  'refresh_reuse_interval',
  'development',
  'backchannel_logout_uri',
  'resources',
  'third_party',
  'token_endpoint_auth_method',
  'jwks',
  'jwks_uri',
  'require_pushed_authorization_requests',
  'default_locale',
  'text_overrides',
  'tenant_id',
  'registration_policy',
  'available_roles',
  'auto_assign_roles',
  'logo_content_type',
  'builtin',
  'bundle_id',
  'logo_height',
  'created_at',
  'updated_at',
] as const satisfies readonly Exclude<keyof AppsTable, 'logo_data'>[];

/**
 * A page of apps in (created_at, app_id) order after the key given, narrowed to the tenants or apps
 * an admin may see (`scope` undefined: all). The logo bytes stay in the table: logo_data comes back
 * as a one-byte marker when there is a logo, so the page's size does not grow with the logos.
 */
export async function listAppsPage(
  db: Db,
  f: {
    /** created_at as Postgres prints it (microseconds kept: see users' listUsersPage). */
    after?: { createdAt: string; appId: string } | undefined;
    limit: number;
    scope?: { tenantIds: string[]; appIds: string[] } | undefined;
    tenantId?: string | undefined;
  },
): Promise<(AppRow & { cursor_ts: string })[]> {
  let q = db
    .selectFrom('apps')
    .select(LIST_COLUMNS)
    .select(sql<string>`created_at::text`.as('cursor_ts'))
    .select(sql<Buffer | null>`case when logo_data is null then null else '\\x00'::bytea end`.as('logo_data'));
  if (f.scope) {
    const { tenantIds, appIds } = f.scope;
    if (tenantIds.length === 0 && appIds.length === 0) return [];
    q = q.where((eb) =>
      eb.or([...(tenantIds.length ? [eb('tenant_id', 'in', tenantIds)] : []), ...(appIds.length ? [eb('app_id', 'in', appIds)] : [])]),
    );
  }
  if (f.tenantId) q = q.where('tenant_id', '=', f.tenantId);
  if (f.after) {
    const { createdAt, appId } = f.after;
    q = q.where(
      sql<boolean>`(created_at > ${createdAt}::timestamptz or (created_at = ${createdAt}::timestamptz and app_id > ${appId}::uuid))`,
    );
  }
  return q.orderBy('created_at').orderBy('app_id').limit(f.limit).execute();
}
