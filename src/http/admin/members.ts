// Admin API: an app's members (memberships) and invites, through the memberships and invites domain.
// Managers may do all of this (list, invite, suspend, revoke) except give roles beyond the app's
// auto-assigned ones.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import type { Deps } from '../../deps.js';
import { appAccess, authorizeApp } from '../../domain/admin/authorization.js';
import { createInvite, findInviteAppId, inviteLink, listInvites, revokeInvite, type Invite } from '../../domain/invites/invites.js';
import {
  approveMembership,
  listMembersOfApp,
  removeMembership,
  setMembershipStatus,
  type Membership,
} from '../../domain/memberships/memberships.js';
import { AppError, appError } from '../../errors.js';
import { actorOf, adminMeta } from './auth.js';
import {
  AppIdParams,
  CreatedInviteJson,
  ErrorJson,
  InviteBody,
  InviteIdParams,
  InviteJson,
  InviteList,
  MemberJson,
  MemberList,
  MemberListQuery,
  MemberParams,
  PageQuery,
  StatusOk,
} from './schemas.js';

const memberJson = (m: Membership): z.infer<typeof MemberJson> => ({
  user_id: m.userId,
  app_id: m.appId,
  roles: m.roles,
  status: m.status,
  enrolled_at: m.enrolledAt.toISOString(),
  last_login_at: m.lastLoginAt?.toISOString() ?? null,
});

const inviteJson = (i: Invite): z.infer<typeof InviteJson> => ({
  id: i.id,
  app_id: i.appId,
  email: i.email,
  roles: i.roles,
  status: i.status,
  created_at: i.createdAt.toISOString(),
  expires_at: i.expiresAt.toISOString(),
});

const errors = { 400: ErrorJson, 401: ErrorJson, 403: ErrorJson, 404: ErrorJson };

const adminMemberRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  const tags = ['members'];

  app.get(
    '/apps/:app_id/members',
    {
      schema: {
        tags,
        summary: "An app's members, newest first",
        params: AppIdParams,
        querystring: MemberListQuery,
        response: { 200: MemberList, ...errors },
      },
    },
    async (req) => {
      const target = await authorizeApp(deps, actorOf(req), req.params.app_id, 'members');
      const page = await listMembersOfApp(deps, target.appId, req.query);
      return { members: page.items.map(memberJson), next_cursor: page.nextCursor };
    },
  );

  const statusActions = [
    ['suspend', 'Suspend the user in this app only (refresh refused at once)'],
    ['activate', 'Lift a suspension'],
    ['approve', 'Let a pending user in (approval policy)'],
  ] as const;
  for (const [action, summary] of statusActions) {
    app.post(
      `/apps/:app_id/members/:user_id/${action}`,
      { schema: { tags, summary, params: MemberParams, response: { 200: MemberJson, ...errors, 409: ErrorJson } } },
      async (req) => {
        const actor = actorOf(req);
        if (actor.kind === 'service') throw appError('admin_access_required', { detail: 'service tokens cannot change members' });
        const target = await authorizeApp(deps, actor, req.params.app_id, 'members');
        const ids = { userId: req.params.user_id, appId: target.appId };
        const m =
          action === 'approve'
            ? await approveMembership(deps, ids, adminMeta(req))
            : await setMembershipStatus(deps, { ...ids, status: action === 'suspend' ? 'suspended' : 'active' }, adminMeta(req));
        return memberJson(m);
      },
    );
  }

  app.delete(
    '/apps/:app_id/members/:user_id',
    {
      schema: {
        tags,
        summary: 'Remove the user from the app (its refresh tokens end)',
        params: MemberParams,
        response: { 200: StatusOk, ...errors },
      },
    },
    async (req) => {
      const actor = actorOf(req);
      if (actor.kind === 'service') throw appError('admin_access_required', { detail: 'service tokens cannot change members' });
      const target = await authorizeApp(deps, actor, req.params.app_id, 'members');
      await removeMembership(deps, { userId: req.params.user_id, appId: target.appId }, adminMeta(req));
      return { status: 'ok' as const };
    },
  );

  app.post(
    '/invites',
    {
      schema: {
        tags: ['invites'],
        summary: 'Invite an email address to an app (admins, managers, an invites:create service token for its own app)',
        body: InviteBody,
        response: { 201: CreatedInviteJson, ...errors },
      },
    },
    async (req, reply) => {
      const actor = actorOf(req);
      const b = req.body;
      const target = await authorizeApp(deps, actor, b.app_id, 'members', { serviceScope: 'invites:create' });
      // A manager may not give roles (KEYMASTER-API.md §7): only those every new member gets anyway.
      const roles = b.roles ?? target.autoAssignRoles;
      if (actor.kind === 'admin' && appAccess(actor, target) !== 'full' && roles.some((r) => !target.autoAssignRoles.includes(r))) {
        throw appError('admin_tier_insufficient', { detail: 'a manager cannot invite with roles beyond auto_assign_roles' });
      }
      const { invite, code } = await createInvite(
        deps,
        { appId: target.appId, email: b.email, roles, ...(b.expires_in_hours !== undefined && { expiresInHours: b.expires_in_hours }) },
        adminMeta(req),
      );
      return reply.status(201).send({ ...inviteJson(invite), invite_url: inviteLink(deps, target.appId, code) });
    },
  );

  app.get(
    '/apps/:app_id/invites',
    {
      schema: {
        tags: ['invites'],
        summary: "An app's invites, newest first",
        params: AppIdParams,
        querystring: PageQuery,
        response: { 200: InviteList, ...errors },
      },
    },
    async (req) => {
      const actor = actorOf(req);
      if (actor.kind === 'service') throw appError('admin_access_required', { detail: 'service tokens cannot list invites' });
      const target = await authorizeApp(deps, actor, req.params.app_id, 'members');
      const page = await listInvites(deps, target.appId, req.query);
      return { invites: page.items.map(inviteJson), next_cursor: page.nextCursor };
    },
  );

  app.delete(
    '/invites/:invite_id',
    { schema: { tags: ['invites'], summary: 'Revoke an open invite', params: InviteIdParams, response: { 200: InviteJson, ...errors } } },
    async (req) => {
      const actor = actorOf(req);
      if (actor.kind === 'service') throw appError('admin_access_required', { detail: 'service tokens cannot revoke invites' });
      const appId = await findInviteAppId(deps, req.params.invite_id);
      if (!appId) throw appError('invite_not_found');
      try {
        await authorizeApp(deps, actor, appId, 'members');
      } catch (err) {
        // Another app's invite does not exist for this caller.
        if (err instanceof AppError && err.code === 'not_found') throw appError('invite_not_found');
        throw err;
      }
      return inviteJson(await revokeInvite(deps, { appId, inviteId: req.params.invite_id }, adminMeta(req)));
    },
  );
};

export default adminMemberRoutes;
