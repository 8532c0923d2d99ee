// admin_grants queries for operator-grants.ts and bootstrap.ts (migration 0025).
import type { Db } from '../../storage/db.js';
import type { AdminTier } from '../../storage/schema.js';

export interface GrantRow {
  id: string;
  user_id: string;
  email: string;
  tier: AdminTier;
  tenant_id: string | null;
  app_id: string | null;
  created_at: Date;
}

/** The new grant's id, or undefined when the user already holds exactly this grant (unique index). */
export async function insertGrant(
  db: Db,
  row: { user_id: string; tier: AdminTier; tenant_id: string | null; app_id: string | null; created_by: string | null },
): Promise<string | undefined> {
  const inserted = await db
    .insertInto('admin_grants')
    .values(row)
    .onConflict((oc) => oc.doNothing())
    .returning('id')
    .executeTakeFirst();
  return inserted?.id;
}

export async function findGrant(
  db: Db,
  g: { userId: string; tier: AdminTier; tenantId: string | null; appId: string | null },
): Promise<string | undefined> {
  let q = db.selectFrom('admin_grants').select('id').where('user_id', '=', g.userId).where('tier', '=', g.tier);
  q = g.tenantId === null ? q.where('tenant_id', 'is', null) : q.where('tenant_id', '=', g.tenantId);
  q = g.appId === null ? q.where('app_id', 'is', null) : q.where('app_id', '=', g.appId);
  return (await q.executeTakeFirst())?.id;
}

export async function deleteGrant(db: Db, id: string): Promise<{ user_id: string; tier: AdminTier } | undefined> {
  return db.deleteFrom('admin_grants').where('id', '=', id).returning(['user_id', 'tier']).executeTakeFirst();
}

export async function listGrants(db: Db): Promise<GrantRow[]> {
  return db
    .selectFrom('admin_grants as g')
    .innerJoin('users as u', 'u.id', 'g.user_id')
    .select(['g.id', 'g.user_id', 'u.email', 'g.tier', 'g.tenant_id', 'g.app_id', 'g.created_at'])
    .orderBy('g.created_at')
    .orderBy('g.id')
    .execute();
}

export async function platformAdminExists(db: Db): Promise<boolean> {
  const row = await db.selectFrom('admin_grants').select('id').where('tier', '=', 'platform_admin').limit(1).executeTakeFirst();
  return row !== undefined;
}
