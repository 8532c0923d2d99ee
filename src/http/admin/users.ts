// Admin API: users (KEYMASTER-API.md §5: GET /admin/users?page&limit&search, POST /admin/users,
// PUT /admin/users/{user_id}/roles) and what else an admin does to an account.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import type { Deps } from '../../deps.js';
import { adminCreateUser, adminDeleteUser } from '../../domain/admin/admin-users.js';
import {
  assertServiceScope,
  authorizeApp,
  authorizeUser,
  filterVisibleApps,
  isPlatformAdmin,
  userIsPlatformAdmin,
  visibleScope,
} from '../../domain/admin/authorization.js';
import { adminUpdateUser, requestPasswordReset, unlockUser } from '../../domain/accounts/accounts.js';
import { listMembershipsOfUser, setMembershipRoles, type Membership } from '../../domain/memberships/memberships.js';
import { listUsersPage, type User } from '../../domain/users/users.js';
import { appError } from '../../errors.js';
import { actorOf, adminMeta } from './auth.js';
import {
  CreateUserBody,
  ErrorJson,
  MembershipJson,
  PatchUserBody,
  SetRolesBody,
  StatusOk,
  UserDetailJson,
  UserIdParams,
  UserJson,
  UserList,
  UserListQuery,
} from './schemas.js';

export function userJson(u: User, now: Date): z.infer<typeof UserJson> {
  return {
    id: u.id,
    email: u.email,
    display_name: u.name,
    email_verified: u.emailVerified,
    is_active: !u.disabled,
    locked: u.lockedUntil !== null && u.lockedUntil > now,
    created_at: u.createdAt.toISOString(),
    last_login_at: u.lastLoginAt?.toISOString() ?? null,
  };
}

export function membershipJson(m: Membership): z.infer<typeof MembershipJson> {
  return {
    app_id: m.appId,
    roles: m.roles,
    status: m.status,
    enrolled_at: m.enrolledAt.toISOString(),
    last_login_at: m.lastLoginAt?.toISOString() ?? null,
  };
}

const errors = { 400: ErrorJson, 401: ErrorJson, 403: ErrorJson, 404: ErrorJson };

const adminUserRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  const tags = ['users'];
  const now = () => deps.clock.now();

  app.get(
    '/users',
    {
      schema: {
        tags,
        summary: 'List or search users (prefix of email or name); a users:read service token with ?app_id=<its app>',
        querystring: UserListQuery,
        response: { 200: UserList, ...errors },
      },
    },
    async (req) => {
      const actor = actorOf(req);
      const { app_id: appId, search, cursor, limit } = req.query;
      if (actor.kind === 'service') {
        if (appId === undefined) throw appError('parameter_missing', { name: 'app_id' });
        assertServiceScope(actor, 'users:read', appId);
      } else if (appId !== undefined && !isPlatformAdmin(actor)) {
        await authorizeApp(deps, actor, appId, 'members');
      }
      const page = await listUsersPage(deps, { limit, search, cursor, appId, scope: appId ? undefined : visibleScope(actor) });
      return { users: page.users.map((u) => userJson(u, now())), next_cursor: page.nextCursor };
    },
  );

  app.post(
    '/users',
    {
      schema: {
        tags,
        summary: 'Create a user (platform admin, or a users:create service token: enrolled in its app)',
        body: CreateUserBody,
        response: { 201: UserJson, ...errors, 409: ErrorJson },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const input = {
        email: b.email,
        displayName: b.display_name,
        password: b.password,
        emailVerified: b.email_verified,
        isPlatformAdmin: b.is_platform_admin,
      };
      const user = await adminCreateUser(deps, actorOf(req), input, adminMeta(req));
      return reply.status(201).send(userJson(user, now()));
    },
  );

  app.get(
    '/users/:user_id',
    {
      schema: {
        tags,
        summary: 'Show a user, with the memberships the caller sees',
        params: UserIdParams,
        response: { 200: UserDetailJson, ...errors },
      },
    },
    async (req) => {
      const actor = actorOf(req);
      const user = await authorizeUser(deps, actor, req.params.user_id, 'see');
      const memberships = await filterVisibleApps(deps, actor, await listMembershipsOfUser(deps, user.id));
      return {
        ...userJson(user, now()),
        is_platform_admin: await userIsPlatformAdmin(deps, user.id),
        memberships: memberships.map(membershipJson),
      };
    },
  );

  app.patch(
    '/users/:user_id',
    {
      schema: {
        tags,
        summary: "Change a user's name or email verification (admin of every app the user is in)",
        params: UserIdParams,
        body: PatchUserBody,
        response: { 200: UserJson, ...errors },
      },
    },
    async (req) => {
      const user = await authorizeUser(deps, actorOf(req), req.params.user_id, 'all');
      const input = { name: req.body.display_name, verified: req.body.email_verified };
      return userJson(await adminUpdateUser(deps, user.id, input, adminMeta(req)), now());
    },
  );

  for (const [action, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    app.post(
      `/users/:user_id/${action}`,
      {
        schema: {
          tags,
          summary: disabled ? 'Disable the account: every session and token ends at once' : 'Enable the account again',
          params: UserIdParams,
          response: { 200: UserJson, ...errors, 409: ErrorJson },
        },
      },
      async (req) => {
        const user = await authorizeUser(deps, actorOf(req), req.params.user_id, 'all');
        return userJson(await adminUpdateUser(deps, user.id, { disabled }, adminMeta(req)), now());
      },
    );
  }

  app.post(
    '/users/:user_id/unlock',
    { schema: { tags, summary: 'Clear a sign-in lockout', params: UserIdParams, response: { 200: UserJson, ...errors } } },
    async (req) => {
      const user = await authorizeUser(deps, actorOf(req), req.params.user_id, 'some');
      return userJson(await unlockUser(deps, user.id, adminMeta(req)), now());
    },
  );

  app.post(
    '/users/:user_id/send-reset',
    { schema: { tags, summary: 'Email the user a password-reset link', params: UserIdParams, response: { 200: StatusOk, ...errors } } },
    async (req, reply) => {
      const user = await authorizeUser(deps, actorOf(req), req.params.user_id, 'some');
      // The per-IP reset limit is for anonymous callers; an admin's requests count per email only.
      const { ip: _ip, ...meta } = adminMeta(req, reply);
      await requestPasswordReset(deps, { email: user.email }, {}, meta);
      return { status: 'ok' as const };
    },
  );

  app.delete(
    '/users/:user_id',
    {
      schema: {
        tags,
        summary: 'Delete the account and all it owns (platform admin; never the last one)',
        params: UserIdParams,
        response: { 200: StatusOk, ...errors, 409: ErrorJson },
      },
    },
    async (req) => {
      await adminDeleteUser(deps, actorOf(req), req.params.user_id, adminMeta(req));
      return { status: 'ok' as const };
    },
  );

  app.put(
    '/users/:user_id/roles',
    {
      schema: {
        tags,
        summary: "Set the user's roles in one app, enrolling them if needed (platform, tenant or app admin; not managers)",
        params: UserIdParams,
        body: SetRolesBody,
        response: { 200: MembershipJson, ...errors },
      },
    },
    async (req) => {
      const actor = actorOf(req);
      if (actor.kind === 'service') throw appError('admin_access_required', { detail: 'a service token cannot set roles' });
      const target = await authorizeApp(deps, actor, req.body.app_id, 'full');
      // Enrolling is no way to reach a user: below platform admin, only one the caller already sees.
      if (!isPlatformAdmin(actor)) await authorizeUser(deps, actor, req.params.user_id, 'see');
      const m = await setMembershipRoles(deps, { userId: req.params.user_id, appId: target.appId, roles: req.body.roles }, adminMeta(req));
      return membershipJson(m);
    },
  );
};

export default adminUserRoutes;
