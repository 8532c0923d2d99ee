// tenants queries (migration 0025).
import type { Db } from '../../storage/db.js';
import type { Selectable } from 'kysely';
import type { TenantsTable } from '../../storage/schema.js';

export type TenantRow = Selectable<TenantsTable>;

export async function insertTenant(db: Db, row: { name: string; created_at: Date; updated_at: Date }): Promise<TenantRow> {
  return db.insertInto('tenants').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function findTenantById(db: Db, id: string): Promise<TenantRow | undefined> {
  return db.selectFrom('tenants').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listTenants(db: Db): Promise<TenantRow[]> {
  return db.selectFrom('tenants').selectAll().orderBy('created_at').orderBy('id').execute();
}
