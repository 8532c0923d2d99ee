// Admin grants made by the server's operator: `keymaster admin …` run by whoever owns the database
// (or its data folder), who stands above every tier, so no tier rule of grants.ts applies (that one
// checks an Admin API caller's own tier). The tiers and their scopes are the same (migration 0025's
// CHECK); a platform_admin grant retires the setup link (bootstrap.ts) in the same transaction.
import { z } from 'zod';
import type { Deps } from '../../deps.js';
import { appError } from '../../errors.js';
import type { AdminTier } from '../../storage/schema.js';
import { getApp, isUuid } from '../apps/apps.js';
import { recordAuditEvent, type RequestMeta } from '../audit/audit.js';
import { findGrant as findGrantById } from './admin-store.js';
import { assertKeepsPlatformAdmin } from './grants.js';
import * as store from './operator-grant-store.js';
import { deleteSetupLink } from './setup-store.js';
import { getTenant } from '../tenants/tenants.js';

export const ADMIN_TIERS = ['platform_admin', 'tenant_admin', 'app_admin', 'manager'] as const satisfies readonly AdminTier[];

export const GrantInput = z
  .object({
    userId: z.uuid(),
    tier: z.enum(ADMIN_TIERS, { message: `must be one of ${ADMIN_TIERS.join(', ')}` }),
    tenantId: z.string().optional(),
    appId: z.string().optional(),
  })
  .superRefine((g, ctx) => {
    const needs = g.tier === 'tenant_admin' ? 'tenantId' : g.tier === 'platform_admin' ? undefined : 'appId';
    for (const field of ['tenantId', 'appId'] as const) {
      if (field === needs && g[field] === undefined)
        ctx.addIssue({
          code: 'custom',
          path: [field],
          message: `is required for ${g.tier} (${field === 'tenantId' ? '--tenant' : '--app'})`,
        });
      if (field !== needs && g[field] !== undefined)
        ctx.addIssue({ code: 'custom', path: [field], message: `does not apply to ${g.tier}` });
    }
  });

export interface ListedGrant {
  id: string;
  userId: string;
  email: string;
  tier: AdminTier;
  tenantId: string | null;
  appId: string | null;
  createdAt: Date;
}

/**
 * Grants a tier; a grant the user already holds is returned as it is (`created: false`), so a
 * bootstrap script can run twice. The tenant or app it is scoped to must exist.
 */
export async function grantTierAsOperator(
  deps: Pick<Deps, 'db' | 'clock'>,
  input: z.input<typeof GrantInput>,
  meta: RequestMeta = {},
): Promise<{ grantId: string; created: boolean }> {
  const g = GrantInput.parse(input);
  if (g.tenantId !== undefined) await getTenant(deps, g.tenantId);
  if (g.appId !== undefined) await getApp(deps, g.appId);
  const scope = { userId: g.userId, tier: g.tier, tenantId: g.tenantId ?? null, appId: g.appId ?? null };
  return deps.db.transaction().execute(async (tx) => {
    const id = await store.insertGrant(tx, {
      user_id: g.userId,
      tier: g.tier,
      tenant_id: scope.tenantId,
      app_id: scope.appId,
      created_by: meta.actor === 'admin' ? (meta.actorId ?? null) : null,
    });
    if (id === undefined) return { grantId: (await store.findGrant(tx, scope))!, created: false };
    // An admin exists now: the first-start setup link stops working.
    if (g.tier === 'platform_admin') await deleteSetupLink(tx);
    await recordAuditEvent(
      { db: tx, clock: deps.clock },
      { event: 'admin.granted', userId: g.userId, appId: scope.appId, data: { grant_id: id, tier: g.tier, tenant_id: scope.tenantId } },
      meta,
    );
    return { grantId: id, created: true };
  });
}

/**
 * `keymaster admin revoke`: the Admin API's rule too, never the last live platform admin (the
 * operator makes another first with `admin create`); the removal and its audit event in one transaction.
 */
export async function revokeGrantAsOperator(deps: Pick<Deps, 'db' | 'clock'>, grantId: string, meta: RequestMeta = {}): Promise<void> {
  const found = isUuid(grantId) ? await findGrantById(deps.db, grantId) : undefined;
  if (!found) throw appError('admin_grant_not_found');
  await deps.db.transaction().execute(async (tx) => {
    if (found.tier === 'platform_admin') await assertKeepsPlatformAdmin(tx, found.user_id);
    const row = await store.deleteGrant(tx, grantId);
    if (!row) throw appError('admin_grant_not_found');
    await recordAuditEvent(
      { db: tx, clock: deps.clock },
      { event: 'admin.revoked', userId: row.user_id, data: { grant_id: grantId, tier: row.tier } },
      meta,
    );
  });
}

export async function listAllAdminGrants(deps: Pick<Deps, 'db'>): Promise<ListedGrant[]> {
  return (await store.listGrants(deps.db)).map((r) => ({
    id: r.id,
    userId: r.user_id,
    email: r.email,
    tier: r.tier,
    tenantId: r.tenant_id,
    appId: r.app_id,
    createdAt: r.created_at,
  }));
}

/** True once any platform admin exists (the setup link is then never issued nor accepted). */
export async function hasPlatformAdmin(deps: Pick<Deps, 'db'>): Promise<boolean> {
  return store.platformAdminExists(deps.db);
}
