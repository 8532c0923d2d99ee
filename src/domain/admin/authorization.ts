// Who may do what in the Admin API (issue 14, KEYMASTER-API.md §2, §5). Two kinds of caller:
// - an admin: a user holding admin tiers (admin_grants, read fresh on every request, so a revoked
//   grant stops working at once). platform_admin: everything; tenant_admin: the tenant's apps and the
//   users enrolled in them; app_admin: one app and its members; manager: one app, to list, invite,
//   suspend and revoke, never to change the app or roles.
// - a service: an app's client-credentials token with users:read / users:create / invites:create,
//   acting on its own app only.
// A resource the caller may not see is answered as missing (404), so ids do not leak; one it may see
// but not change is a 403.
import type { Deps } from '../../deps.js';
import { appError } from '../../errors.js';
import type { AdminGrantRow } from '../../storage/schema.js';
import { findApp, type App, type SERVICE_SCOPES } from '../apps/apps.js';
import type { RequestMeta } from '../audit/audit.js';
import { getUser, type User } from '../users/users.js';
import * as store from './admin-store.js';

export interface AdminActor {
  kind: 'admin';
  userId: string;
  platform: boolean;
  /** Tenants the user is tenant_admin of. */
  tenantIds: string[];
  /** Apps the user is app_admin of. */
  adminAppIds: string[];
  /** Apps the user is manager of. */
  managerAppIds: string[];
}

export interface ServiceActor {
  kind: 'service';
  /** The app the service token was issued to: the only one it may act on. */
  appId: string;
  scopes: string[];
}

export type Actor = AdminActor | ServiceActor;

/** The tenants and apps a non-platform admin may see; undefined: everything (platform admin). */
export interface AdminScope {
  tenantIds: string[];
  appIds: string[];
}

export function actorFromGrants(userId: string, grants: readonly Pick<AdminGrantRow, 'tier' | 'tenant_id' | 'app_id'>[]): AdminActor {
  const of = (tier: AdminGrantRow['tier'], key: 'tenant_id' | 'app_id') =>
    grants.filter((g) => g.tier === tier && g[key] !== null).map((g) => g[key] as string);
  return {
    kind: 'admin',
    userId,
    platform: grants.some((g) => g.tier === 'platform_admin'),
    tenantIds: of('tenant_admin', 'tenant_id'),
    adminAppIds: of('app_admin', 'app_id'),
    managerAppIds: of('manager', 'app_id'),
  };
}

/** The admin behind a Console access token, from the grants as they are now; none → 403. */
export async function loadAdminActor(deps: Pick<Deps, 'db'>, userId: string): Promise<AdminActor> {
  const grants = await store.listGrantsOfUser(deps.db, userId);
  if (grants.length === 0) throw appError('admin_access_required', { detail: `user ${userId} holds no admin tier` });
  return actorFromGrants(userId, grants);
}

/** The audit fields of an admin call (docs/SECURITY.md): actor "admin" + user id, or "service" + app id. */
export function actorMeta(actor: Actor, meta: RequestMeta): RequestMeta {
  return actor.kind === 'admin'
    ? { ...meta, actor: 'admin', actorId: actor.userId, source: 'admin_api' }
    : { ...meta, actor: 'service', actorId: actor.appId, source: 'service_token' };
}

/** What the caller may do with an app: nothing (it does not exist for them), member work only, or everything. */
export type AppAccess = 'none' | 'members' | 'full';

export function appAccess(actor: Actor, app: Pick<App, 'appId' | 'tenantId'>): AppAccess {
  if (actor.kind === 'service') return 'none';
  if (actor.platform) return 'full';
  if (app.tenantId !== null && actor.tenantIds.includes(app.tenantId)) return 'full';
  if (actor.adminAppIds.includes(app.appId)) return 'full';
  if (actor.managerAppIds.includes(app.appId)) return 'members';
  return 'none';
}

/** undefined for a platform admin (sees all); a service sees only its own app. */
export function visibleScope(actor: Actor): AdminScope | undefined {
  if (actor.kind === 'service') return { tenantIds: [], appIds: [actor.appId] };
  if (actor.platform) return undefined;
  return { tenantIds: actor.tenantIds, appIds: [...actor.adminAppIds, ...actor.managerAppIds] };
}

export function isPlatformAdmin(actor: Actor): boolean {
  return actor.kind === 'admin' && actor.platform;
}

export function assertPlatformAdmin(actor: Actor): asserts actor is AdminActor {
  if (!isPlatformAdmin(actor)) throw appError('admin_tier_insufficient');
}

/** Admins only (any tier): service tokens have no business here. */
export function assertAdmin(actor: Actor): asserts actor is AdminActor {
  if (actor.kind !== 'admin') throw appError('admin_access_required', { detail: 'a service token cannot call this' });
}

/** A service token with `scope`, acting on `appId`: its own app only (another app's id is a 404). */
export function assertServiceScope(actor: ServiceActor, scope: string, appId?: string): void {
  if (!actor.scopes.includes(scope)) throw appError('service_scope_missing', { scope });
  if (appId !== undefined && appId !== actor.appId) throw appError('app_not_found', { appId });
}

/**
 * The app, if the caller may see it (any admin tier on it); else 404. `need: 'full'` refuses a
 * manager (403): changing the app, its secret or anyone's roles. A service token passes only where
 * the route names the scope it needs (`serviceScope`), and only for its own app; elsewhere it is a 403.
 */
export async function authorizeApp(
  deps: Pick<Deps, 'db'>,
  actor: Actor,
  appId: string,
  need: 'members' | 'full',
  opts: { serviceScope?: (typeof SERVICE_SCOPES)[number] } = {},
): Promise<App> {
  if (actor.kind === 'service') {
    if (!opts.serviceScope) throw appError('admin_access_required', { detail: 'a service token cannot call this' });
    assertServiceScope(actor, opts.serviceScope, appId);
  }
  const app = await findApp(deps, appId);
  if (!app) throw appError('app_not_found', { appId });
  if (actor.kind === 'service') return app;
  const access = appAccess(actor, app);
  if (access === 'none') throw appError('app_not_found', { appId });
  if (need === 'full' && access !== 'full') throw appError('admin_tier_insufficient');
  return app;
}

/** Creating an app in `tenantId` (null: the platform's own): platform admin anywhere, tenant admin in their tenant. */
export function assertCanCreateAppIn(actor: Actor, tenantId: string | null | undefined): void {
  assertAdmin(actor);
  if (actor.platform) return;
  if (tenantId && actor.tenantIds.includes(tenantId)) return;
  throw appError('admin_tier_insufficient');
}

/** Moving an app to another tenant: the caller must be able to create apps in the target too. */
export function assertCanMoveAppTo(actor: Actor, tenantId: string | null): void {
  assertCanCreateAppIn(actor, tenantId);
}

/**
 * How much of a user the caller needs:
 * - 'see': read them. A platform admin sees any user; another admin a user enrolled in an app they
 *   see; a service with users:read a user enrolled in its own app (any other need: 403).
 * - 'some': a per-user action without effect on other apps' data (unlock, send a reset email): full
 *   access (not manager) to at least one of the user's apps.
 * - 'all': a change to the global account (name, verification, disable): the user is global, so the
 *   caller needs full access to every app the user is enrolled in (a tenant admin cannot disable a
 *   user another tenant also has).
 * - 'some' and 'all' also need every admin tier the user holds to be one the caller could grant.
 * Not seen → 404 user_not_found; seen but not enough → 403.
 */
export type UserNeed = 'see' | 'some' | 'all';

export async function authorizeUser(deps: Pick<Deps, 'db'>, actor: Actor, userId: string, need: UserNeed = 'see'): Promise<User> {
  if (actor.kind === 'service') {
    // Reading a member of its own app is all a service token does with a user (users:read); refused
    // before the lookup, so the answer does not say whether the id exists.
    if (need !== 'see') throw appError('admin_access_required', { detail: 'a service token cannot change a user' });
    assertServiceScope(actor, 'users:read');
  }
  const user = await getUser(deps, userId);
  if (isPlatformAdmin(actor)) return user;
  const apps = (await store.listUserAppTenants(deps.db, user.id)).map((a) => ({ appId: a.app_id, tenantId: a.tenant_id }));
  if (actor.kind === 'service') {
    if (!apps.some((a) => a.appId === actor.appId)) throw appError('user_not_found');
    return user;
  }
  const access = apps.map((a) => appAccess(actor, a));
  if (!access.some((a) => a !== 'none')) throw appError('user_not_found');
  if (need === 'some' && !access.includes('full')) throw appError('admin_tier_insufficient');
  if (need === 'all' && access.some((a) => a !== 'full')) throw appError('admin_tier_insufficient');
  if (need !== 'see' && !(await holdsOnlyTiersWithin(deps, actor, user.id))) {
    throw appError('admin_tier_insufficient', { detail: 'the account holds an admin tier beyond the caller' });
  }
  return user;
}

/**
 * Whether every admin tier `userId` holds is one `actor` could grant (grants.ts): a tenant admin
 * may not disable, rename, unlock or reset a platform admin, or another tenant's admin, merely
 * because that admin is also a member of one of the tenant's apps.
 */
async function holdsOnlyTiersWithin(deps: Pick<Deps, 'db'>, actor: AdminActor, userId: string): Promise<boolean> {
  for (const g of await store.listGrantsOfUser(deps.db, userId)) {
    if (g.tier === 'platform_admin') return false;
    if (g.tier === 'tenant_admin') {
      if (!actor.tenantIds.includes(g.tenant_id!)) return false;
      continue;
    }
    const app = await findApp(deps, g.app_id!);
    if (!app || appAccess(actor, app) !== 'full') return false;
  }
  return true;
}

/** Of `items` (memberships, say), those in apps the caller sees. */
export async function filterVisibleApps<T extends { appId: string }>(deps: Pick<Deps, 'db'>, actor: Actor, items: T[]): Promise<T[]> {
  if (isPlatformAdmin(actor)) return items;
  const out: T[] = [];
  for (const item of items) {
    const app = await findApp(deps, item.appId);
    if (!app) continue;
    if (actor.kind === 'service' ? app.appId === actor.appId : appAccess(actor, app) !== 'none') out.push(item);
  }
  return out;
}

/** Whether the user holds the platform admin tier (Keymaster's `is_platform_admin`). */
export async function userIsPlatformAdmin(deps: Pick<Deps, 'db'>, userId: string): Promise<boolean> {
  return (await store.listGrantsOfUser(deps.db, userId)).some((g) => g.tier === 'platform_admin');
}

/** The tenant, if the caller may see it: a platform admin any, a tenant admin their own. */
export function assertTenantVisible(actor: Actor, tenantId: string): void {
  assertAdmin(actor);
  if (actor.platform || actor.tenantIds.includes(tenantId)) return;
  throw appError('tenant_not_found');
}
