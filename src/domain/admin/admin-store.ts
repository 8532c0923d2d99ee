// admin_grants queries (migration 0025), and the scope checks the Admin API's authorization reads.
import { sql } from 'kysely';
import type { Db } from '../../storage/db.js';
import type { AdminGrantRow, AdminTier } from '../../storage/schema.js';

export async function listGrantsOfUser(db: Db, userId: string): Promise<AdminGrantRow[]> {
  return db.selectFrom('admin_grants').selectAll().where('user_id', '=', userId).execute();
}

export async function findGrant(db: Db, id: string): Promise<AdminGrantRow | undefined> {
  return db.selectFrom('admin_grants').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The new grant, or undefined when the user already holds it (index admin_grants_unique). */
export async function insertGrantIfAbsent(
  db: Db,
  row: { user_id: string; tier: AdminTier; tenant_id: string | null; app_id: string | null; created_by: string | null; now: Date },
): Promise<AdminGrantRow | undefined> {
  return db
    .insertInto('admin_grants')
    .values({
      user_id: row.user_id,
      tier: row.tier,
      tenant_id: row.tenant_id,
      app_id: row.app_id,
      created_by: row.created_by,
      created_at: row.now,
    })
    .onConflict((oc) => oc.doNothing())
    .returningAll()
    .executeTakeFirst();
}

/** The grants of the platform admins whose accounts are live (not disabled), row-locked until the transaction ends. */
export async function lockLivePlatformAdminGrants(db: Db): Promise<{ id: string; user_id: string }[]> {
  return db
    .selectFrom('admin_grants as g')
    .innerJoin('users as u', 'u.id', 'g.user_id')
    .select(['g.id', 'g.user_id'])
    .where('g.tier', '=', 'platform_admin')
    .where('u.disabled_at', 'is', null)
    .modifyEnd(sql`for update of g`)
    .execute();
}

export async function deleteGrant(db: Db, id: string): Promise<boolean> {
  const res = await db.deleteFrom('admin_grants').where('id', '=', id).executeTakeFirst();
  return Number(res.numDeletedRows) > 0;
}

/**
 * Grants within a scope, newest first: all (scope undefined), or those on the given tenants, on the
 * given apps, or on apps of the given tenants.
 */
export async function listGrants(
  db: Db,
  f: { scope?: { tenantIds: string[]; appIds: string[] } | undefined; limit: number; before?: { createdAt: Date; id: string } | undefined },
): Promise<AdminGrantRow[]> {
  let q = db.selectFrom('admin_grants').selectAll('admin_grants');
  if (f.scope) {
    const { tenantIds, appIds } = f.scope;
    if (tenantIds.length === 0 && appIds.length === 0) return [];
    q = q.where((eb) => {
      const ors = [];
      if (tenantIds.length) {
        ors.push(eb('admin_grants.tenant_id', 'in', tenantIds));
        ors.push(eb('admin_grants.app_id', 'in', eb.selectFrom('apps').select('apps.app_id').where('apps.tenant_id', 'in', tenantIds)));
      }
      if (appIds.length) ors.push(eb('admin_grants.app_id', 'in', appIds));
      return eb.or(ors);
    });
  }
  if (f.before) {
    const { createdAt, id } = f.before;
    q = q.where((eb) =>
      eb.or([
        eb('admin_grants.created_at', '<', createdAt),
        eb.and([eb('admin_grants.created_at', '=', createdAt), eb('admin_grants.id', '<', id)]),
      ]),
    );
  }
  return q.orderBy('admin_grants.created_at', 'desc').orderBy('admin_grants.id', 'desc').limit(f.limit).execute();
}

/** The apps the user is enrolled in (any membership status), with their tenants. */
export async function listUserAppTenants(db: Db, userId: string): Promise<{ app_id: string; tenant_id: string | null }[]> {
  return db
    .selectFrom('memberships')
    .innerJoin('apps', 'apps.app_id', 'memberships.app_id')
    .select(['memberships.app_id', 'apps.tenant_id'])
    .where('memberships.user_id', '=', userId)
    .execute();
}
