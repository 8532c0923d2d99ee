// Users created through the Admin API (KEYMASTER-API.md §5 POST /admin/users): by a platform admin,
// who may make them a platform admin too, or by a service token with users:create, which enrols them
// in its own app (with the app's auto_assign_roles) and may not make admins. One transaction each: a
// refused enrolment or grant leaves no user, membership or audit event behind.
import type { Deps } from '../../deps.js';
import { appError } from '../../errors.js';
import { assertPasswordPolicy } from '../accounts/password-policy.js';
import { findApp } from '../apps/apps.js';
import type { RequestMeta } from '../audit/audit.js';
import { setMembershipRolesInTransaction } from '../memberships/memberships.js';
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
  // A service's user: the user, the enrolment in its app and their audit events, or none of them.
  const appId = actor.appId;
  return deps.db.transaction().execute(async (trx) => {
    const inTrx = { ...deps, db: trx };
    const app = await findApp(inTrx, appId);
    if (!app) throw appError('app_not_found', { appId });
    const user = await createUser(inTrx, profile, { ...meta, appId: app.appId });
    await setMembershipRolesInTransaction(inTrx, { userId: user.id, appId: app.appId, roles: app.autoAssignRoles }, meta);
    return user;
  });
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
