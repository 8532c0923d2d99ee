// Users created through the Admin API (KEYMASTER-API.md §5 POST /admin/users): by a platform admin,
// who may make them a platform admin too, or by a service token with users:create, which enrols them
// in its own app (with the app's auto_assign_roles) and may not make admins. One transaction: a
// refused enrolment or grant leaves no user behind.
import type { Deps } from '../../deps.js';
import { appError } from '../../errors.js';
import { assertPasswordPolicy } from '../accounts/password-policy.js';
import { findApp } from '../apps/apps.js';
import type { RequestMeta } from '../audit/audit.js';
import { setMembershipRoles } from '../memberships/memberships.js';
import { createUser, deleteUserAccount, type User } from '../users/users.js';
import { assertPlatformAdmin, assertServiceScope, type Actor } from './authorization.js';
import { assertKeepsPlatformAdmin } from './grants.js';
import * as store from './admin-store.js';

export interface AdminUserInput {
  email: string;
  displayName?: string | undefined;
  password?: string | undefined;
  emailVerified?: boolean | undefined;
  isPlatformAdmin?: boolean | undefined;
}

export async function adminCreateUser(
  deps: Pick<Deps, 'db' | 'clock' | 'config' | 'liveness' | 'metrics'>,
  actor: Actor,
  input: AdminUserInput,
  meta: RequestMeta = {},
): Promise<User> {
  if (actor.kind === 'service') {
    assertServiceScope(actor, 'users:create');
    if (input.isPlatformAdmin) throw appError('admin_tier_insufficient', { detail: 'a service token cannot make a platform admin' });
  } else {
    assertPlatformAdmin(actor);
  }
  if (input.password !== undefined) assertPasswordPolicy(deps.config.passwordPolicy, input.password);
  const profile = { email: input.email, name: input.displayName, password: input.password, verified: input.emailVerified ?? false };
  if (actor.kind === 'admin') {
    return deps.db.transaction().execute(async (trx) => {
      const user = await createUser({ ...deps, db: trx }, profile, meta);
      if (input.isPlatformAdmin) {
        await store.insertGrantIfAbsent(trx, {
          user_id: user.id,
          tier: 'platform_admin',
          tenant_id: null,
          app_id: null,
          created_by: actor.userId,
          now: deps.clock.now(),
        });
      }
      return user;
    });
  }
  // The enrolment opens its own transaction (memberships.ts), so it cannot share the user's: if it
  // fails (the app was deleted meanwhile), the new user is deleted again.
  const app = await findApp(deps, actor.appId);
  if (!app) throw appError('app_not_found', { appId: actor.appId });
  const user = await createUser(deps, profile, { ...meta, appId: app.appId });
  try {
    await setMembershipRoles(deps, { userId: user.id, appId: app.appId, roles: app.autoAssignRoles }, meta);
  } catch (err) {
    await deleteUserAccount(deps, user.id, meta);
    throw err;
  }
  return user;
}

/** DELETE /admin/users/{id} (platform admins): never the last live platform admin (one transaction with the check). */
export async function adminDeleteUser(
  deps: Pick<Deps, 'db' | 'clock' | 'liveness'>,
  actor: Actor,
  userId: string,
  meta: RequestMeta = {},
): Promise<void> {
  assertPlatformAdmin(actor);
  await deps.db.transaction().execute(async (trx) => {
    await assertKeepsPlatformAdmin(trx, userId);
    await deleteUserAccount({ ...deps, db: trx }, userId, meta);
  });
  deps.liveness.invalidate(userId);
}
