// Admin tiers (admin_grants): who may grant what. A platform admin grants any tier; a tenant admin
// grants tenant_admin of their tenant and app_admin / manager on its apps; an app admin grants
// app_admin / manager on their app; a manager grants nothing. Nobody grants above their own tier,
// and revoking follows the same rule as granting.
import { z } from 'zod';
import type { Deps } from '../../deps.js';
import { AppError, appError } from '../../errors.js';
import { decodeCursor, encodeCursor } from '../../lib/cursor.js';
import type { Db } from '../../storage/db.js';
import type { AdminGrantRow, AdminTier } from '../../storage/schema.js';
import { findApp } from '../apps/apps.js';
import { recordAuditEvent, type RequestMeta } from '../audit/audit.js';
import { findTenant } from '../tenants/tenants.js';
import { appAccess, assertAdmin, visibleScope, type Actor, type AdminActor } from './authorization.js';
import * as store from './admin-store.js';

export interface AdminGrant {
  id: string;
  userId: string;
  tier: AdminTier;
  tenantId: string | null;
  appId: string | null;
  createdBy: string | null;
  createdAt: Date;
}

const toGrant = (r: AdminGrantRow): AdminGrant => ({
  id: r.id,
  userId: r.user_id,
  tier: r.tier,
  tenantId: r.tenant_id,
  appId: r.app_id,
  createdBy: r.created_by,
  createdAt: r.created_at,
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const GrantCursor = z.object({ c: z.iso.datetime(), i: z.uuid() });

/** What a grant is on: the tier and its tenant or app, as the CHECK of migration 0025 wants them. */
export interface GrantTarget {
  tier: AdminTier;
  tenantId?: string | undefined;
  appId?: string | undefined;
}

/**
 * May `actor` grant (or revoke) `target`? Unknown or unseen tenants and apps are 404s; a tier above
 * the actor's own is a 403. Returns the target normalised (tenant or app id, never both).
 */
async function checkGrantable(
  deps: Pick<Deps, 'db'>,
  actor: AdminActor,
  t: GrantTarget,
): Promise<{ tenantId: string | null; appId: string | null }> {
  if (t.tier === 'platform_admin') {
    if (t.tenantId || t.appId) throw appError('admin_grant_scope', { tier: t.tier, needs: 'neither tenant_id nor app_id' });
    if (!actor.platform) throw appError('admin_tier_insufficient');
    return { tenantId: null, appId: null };
  }
  if (t.tier === 'tenant_admin') {
    if (!t.tenantId || t.appId) throw appError('admin_grant_scope', { tier: t.tier, needs: 'tenant_id (and no app_id)' });
    if (!actor.platform && !actor.tenantIds.includes(t.tenantId)) {
      // A tenant the actor cannot see does not exist for them.
      throw appError('tenant_not_found');
    }
    if (!(await findTenant(deps, t.tenantId))) throw appError('tenant_not_found');
    return { tenantId: t.tenantId, appId: null };
  }
  if (!t.appId || t.tenantId) throw appError('admin_grant_scope', { tier: t.tier, needs: 'app_id (and no tenant_id)' });
  const app = await findApp(deps, t.appId);
  const access = app ? appAccess(actor, app) : 'none';
  if (!app || access === 'none') throw appError('app_not_found', { appId: t.appId });
  if (access !== 'full') throw appError('admin_tier_insufficient');
  return { tenantId: null, appId: app.appId };
}

export async function grantAdminTier(
  deps: Pick<Deps, 'db' | 'clock'>,
  actor: Actor,
  input: GrantTarget & { userId: string },
  meta: RequestMeta = {},
): Promise<AdminGrant> {
  assertAdmin(actor);
  const target = await checkGrantable(deps, actor, input);
  const row = await store.insertGrantIfAbsent(deps.db, {
    user_id: input.userId,
    tier: input.tier,
    tenant_id: target.tenantId,
    app_id: target.appId,
    created_by: actor.userId,
    now: deps.clock.now(),
  });
  if (!row) throw appError('admin_grant_exists');
  await recordAuditEvent(
    deps,
    {
      event: 'admin.granted',
      userId: input.userId,
      appId: target.appId,
      data: { tier: input.tier, tenant_id: target.tenantId, grant_id: row.id },
    },
    meta,
  );
  return toGrant(row);
}

export async function revokeAdminGrant(
  deps: Pick<Deps, 'db' | 'clock'>,
  actor: Actor,
  grantId: string,
  meta: RequestMeta = {},
): Promise<void> {
  assertAdmin(actor);
  const row = UUID.test(grantId) ? await store.findGrant(deps.db, grantId) : undefined;
  if (!row) throw appError('admin_grant_not_found');
  // A platform admin grant is not among the grants a lower tier sees (listAdminGrants).
  if (row.tier === 'platform_admin' && !actor.platform) throw appError('admin_grant_not_found');
  try {
    await checkGrantable(deps, actor, { tier: row.tier, tenantId: row.tenant_id ?? undefined, appId: row.app_id ?? undefined });
  } catch (err) {
    // A grant outside what the actor sees is not there for them.
    if (err instanceof AppError && err.code === 'not_found') throw appError('admin_grant_not_found');
    throw err;
  }
  await deps.db.transaction().execute(async (trx) => {
    if (row.tier === 'platform_admin') await assertKeepsPlatformAdmin(trx, row.user_id);
    if (!(await store.deleteGrant(trx, grantId))) throw appError('admin_grant_not_found');
  });
  await recordAuditEvent(
    deps,
    {
      event: 'admin.revoked',
      userId: row.user_id,
      appId: row.app_id,
      data: { tier: row.tier, tenant_id: row.tenant_id, grant_id: row.id },
    },
    meta,
  );
}

/**
 * Refuses (409 last_platform_admin) a change that would leave no live platform admin: revoking the
 * user's platform grant, disabling or deleting the user. Call it inside the change's transaction: it
 * locks the platform grants, so two concurrent removals of the last two are decided one after the other.
 */
export async function assertKeepsPlatformAdmin(db: Db, losingUserId: string): Promise<void> {
  const live = await store.lockLivePlatformAdminGrants(db);
  if (live.some((g) => g.user_id === losingUserId) && live.every((g) => g.user_id === losingUserId)) {
    throw appError('last_platform_admin');
  }
}

/** The grants the caller sees: all for a platform admin, else those on their tenants and apps. */
export async function listAdminGrants(
  deps: Pick<Deps, 'db'>,
  actor: Actor,
  page: { limit: number; cursor?: string | undefined },
): Promise<{ grants: AdminGrant[]; nextCursor: string | null }> {
  assertAdmin(actor);
  const key = page.cursor === undefined ? undefined : decodeCursor(GrantCursor, page.cursor);
  if (page.cursor !== undefined && !key) throw appError('cursor_invalid');
  const rows = await store.listGrants(deps.db, {
    scope: visibleScope(actor),
    limit: page.limit + 1,
    before: key && { createdAt: new Date(key.c), id: key.i },
  });
  const grants = rows.slice(0, page.limit).map(toGrant);
  const last = grants.at(-1);
  return { grants, nextCursor: rows.length > page.limit && last ? encodeCursor({ c: last.createdAt.toISOString(), i: last.id }) : null };
}
