// Which apps an admin scope reaches (the Admin API's list filters).
import type { Db } from '../../storage/db.js';

export async function listAppIdsOfTenants(db: Db, tenantIds: readonly string[]): Promise<string[]> {
  if (tenantIds.length === 0) return [];
  const rows = await db
    .selectFrom('apps')
    .select('app_id')
    .where('tenant_id', 'in', [...tenantIds])
    .execute();
  return rows.map((r) => r.app_id);
}
