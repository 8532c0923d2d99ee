// Tenants (issue 14): an organisation that owns apps and has its own admins (tenant_admin grants).
import { z } from 'zod';
import type { Deps } from '../../deps.js';
import { appError } from '../../errors.js';
import { isUuid } from '../apps/apps.js';
import { recordAuditEvent, type RequestMeta } from '../audit/audit.js';
import * as store from './tenant-store.js';

export const TenantInput = z.object({ name: z.string().trim().min(1, 'is required').max(200) });

export interface Tenant {
  id: string;
  name: string;
  createdAt: Date;
}

const toTenant = (r: store.TenantRow): Tenant => ({ id: r.id, name: r.name, createdAt: r.created_at });

export async function createTenant(
  deps: Pick<Deps, 'db' | 'clock'>,
  input: z.input<typeof TenantInput>,
  meta: RequestMeta = {},
): Promise<Tenant> {
  const v = TenantInput.parse(input);
  const now = deps.clock.now();
  const row = await store.insertTenant(deps.db, { name: v.name, created_at: now, updated_at: now });
  await recordAuditEvent(deps, { event: 'tenant.created', data: { tenant_id: row.id, name: row.name } }, meta);
  return toTenant(row);
}

export async function findTenant(deps: Pick<Deps, 'db'>, id: string): Promise<Tenant | undefined> {
  const row = isUuid(id) ? await store.findTenantById(deps.db, id) : undefined;
  return row && toTenant(row);
}

/** The tenant, or 404 `No tenant with id …`. */
export async function getTenant(deps: Pick<Deps, 'db'>, id: string): Promise<Tenant> {
  const tenant = await findTenant(deps, id);
  if (!tenant) throw appError('tenant_not_found', { tenantId: id });
  return tenant;
}

export async function listTenants(deps: Pick<Deps, 'db'>): Promise<Tenant[]> {
  return (await store.listTenants(deps.db)).map(toTenant);
}
