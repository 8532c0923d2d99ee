// Tenants (issue 14, KEYMASTER-API.md §7): a tenant owns apps and has its own admins (admin_grants).
import { z } from 'zod';
import type { Deps } from '../../deps.js';
import { appError } from '../../errors.js';
import { decodeCursor, encodeCursor } from '../../lib/cursor.js';
import type { TenantRow } from '../../storage/schema.js';
import { recordAuditEvent, type RequestMeta } from '../audit/audit.js';
import * as store from './tenant-store.js';

export const TenantName = z.string().trim().min(1).max(100);

export interface Tenant {
  id: string;
  name: string;
  createdAt: Date;
  updatedAt: Date;
}

const toTenant = (r: TenantRow): Tenant => ({ id: r.id, name: r.name, createdAt: r.created_at, updatedAt: r.updated_at });
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TenantCursor = z.object({ c: z.iso.datetime(), i: z.uuid() });

export async function findTenant(deps: Pick<Deps, 'db'>, id: string): Promise<Tenant | undefined> {
  if (!UUID.test(id)) return undefined;
  const row = await store.findTenantById(deps.db, id);
  return row && toTenant(row);
}

export async function getTenant(deps: Pick<Deps, 'db'>, id: string): Promise<Tenant> {
  const t = await findTenant(deps, id);
  if (!t) throw appError('tenant_not_found');
  return t;
}

export async function createTenant(deps: Pick<Deps, 'db' | 'clock'>, input: { name: string }, meta: RequestMeta = {}): Promise<Tenant> {
  const name = TenantName.parse(input.name);
  const row = await store.insertTenant(deps.db, { name, now: deps.clock.now() });
  await recordAuditEvent(deps, { event: 'tenant.created', data: { tenant_id: row.id, name } }, meta);
  return toTenant(row);
}

/** `ids`: only these tenants (undefined: all). */
export async function listTenantsPage(
  deps: Pick<Deps, 'db'>,
  page: { limit: number; cursor?: string | undefined; ids?: string[] | undefined },
): Promise<{ tenants: Tenant[]; nextCursor: string | null }> {
  const key = page.cursor === undefined ? undefined : decodeCursor(TenantCursor, page.cursor);
  if (page.cursor !== undefined && !key) throw appError('cursor_invalid');
  const rows = await store.listTenants(deps.db, {
    limit: page.limit + 1,
    ids: page.ids,
    after: key && { createdAt: new Date(key.c), id: key.i },
  });
  const more = rows.length > page.limit;
  const tenants = rows.slice(0, page.limit).map(toTenant);
  const last = tenants.at(-1);
  return { tenants, nextCursor: more && last ? encodeCursor({ c: last.createdAt.toISOString(), i: last.id }) : null };
}

export async function renameTenantById(
  deps: Pick<Deps, 'db' | 'clock'>,
  id: string,
  input: { name: string },
  meta: RequestMeta = {},
): Promise<Tenant> {
  const name = TenantName.parse(input.name);
  const row = UUID.test(id) ? await store.renameTenant(deps.db, id, name, deps.clock.now()) : undefined;
  if (!row) throw appError('tenant_not_found');
  await recordAuditEvent(deps, { event: 'tenant.updated', data: { tenant_id: id, name } }, meta);
  return toTenant(row);
}

/** A tenant that still owns apps is kept (409): its apps would otherwise lose their owner. */
export async function deleteTenant(deps: Pick<Deps, 'db' | 'clock'>, id: string, meta: RequestMeta = {}): Promise<void> {
  if (!UUID.test(id)) throw appError('tenant_not_found');
  if (!(await store.deleteTenantWithoutApps(deps.db, id))) {
    throw appError((await store.findTenantById(deps.db, id)) ? 'tenant_not_empty' : 'tenant_not_found');
  }
  await recordAuditEvent(deps, { event: 'tenant.deleted', data: { tenant_id: id } }, meta);
}
