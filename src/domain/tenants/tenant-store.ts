// tenants queries (migration 0025).
import type { Db } from '../../storage/db.js';
import type { TenantRow } from '../../storage/schema.js';

export async function insertTenant(db: Db, row: { name: string; now: Date }): Promise<TenantRow> {
  return db
    .insertInto('tenants')
    .values({ name: row.name, created_at: row.now, updated_at: row.now })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function findTenantById(db: Db, id: string): Promise<TenantRow | undefined> {
  return db.selectFrom('tenants').selectAll().where('id', '=', id).executeTakeFirst();
}

/** A page ordered by (created_at, id), after the key given; `ids` narrows it (a tenant admin's own). */
export async function listTenants(
  db: Db,
  f: { after?: { createdAt: Date; id: string } | undefined; limit: number; ids?: string[] | undefined },
): Promise<TenantRow[]> {
  let q = db.selectFrom('tenants').selectAll();
  if (f.ids) {
    if (f.ids.length === 0) return [];
    q = q.where('id', 'in', f.ids);
  }
  if (f.after) {
    const { createdAt, id } = f.after;
    q = q.where((eb) => eb.or([eb('created_at', '>', createdAt), eb.and([eb('created_at', '=', createdAt), eb('id', '>', id)])]));
  }
  return q.orderBy('created_at').orderBy('id').limit(f.limit).execute();
}

export async function renameTenant(db: Db, id: string, name: string, now: Date): Promise<TenantRow | undefined> {
  return db.updateTable('tenants').set({ name, updated_at: now }).where('id', '=', id).returningAll().executeTakeFirst();
}

/** Deletes the tenant unless an app still belongs to it (apps.tenant_id is ON DELETE RESTRICT): one statement. */
export async function deleteTenantWithoutApps(db: Db, id: string): Promise<boolean> {
  const res = await db
    .deleteFrom('tenants')
    .where('id', '=', id)
    .where((eb) => eb.not(eb.exists(eb.selectFrom('apps').select('app_id').where('apps.tenant_id', '=', id))))
    .executeTakeFirst();
  return Number(res.numDeletedRows) > 0;
}
