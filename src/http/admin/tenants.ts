// Admin API: tenants (platform admins; a tenant admin reads their own) and admin tiers (admin_grants).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import type { Deps } from '../../deps.js';
import { assertAdmin, assertPlatformAdmin, assertTenantVisible, authorizeUser, isPlatformAdmin } from '../../domain/admin/authorization.js';
import { grantAdminTier, listAdminGrants, revokeAdminGrant, type AdminGrant } from '../../domain/admin/grants.js';
import { createTenant, deleteTenant, getTenant, listTenantsPage, renameTenantById, type Tenant } from '../../domain/tenants/tenants.js';
import { findUserByEmailOrId } from '../../domain/users/users.js';
import { appError } from '../../errors.js';
import { actorOf, adminMeta } from './auth.js';
import {
  ErrorJson,
  GrantBody,
  GrantJson,
  GrantList,
  IdParams,
  PageQuery,
  StatusOk,
  TenantBody,
  TenantJson,
  TenantList,
} from './schemas.js';

const tenantJson = (t: Tenant): z.infer<typeof TenantJson> => ({
  id: t.id,
  name: t.name,
  created_at: t.createdAt.toISOString(),
  updated_at: t.updatedAt.toISOString(),
});

const grantJson = (g: AdminGrant): z.infer<typeof GrantJson> => ({
  id: g.id,
  user_id: g.userId,
  tier: g.tier,
  tenant_id: g.tenantId,
  app_id: g.appId,
  created_by: g.createdBy,
  created_at: g.createdAt.toISOString(),
});

const errors = { 400: ErrorJson, 401: ErrorJson, 403: ErrorJson, 404: ErrorJson };

const adminTenantRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  const tags = ['tenants'];

  app.post(
    '/tenants',
    { schema: { tags, summary: 'Create a tenant (platform admin)', body: TenantBody, response: { 201: TenantJson, ...errors } } },
    async (req, reply) => {
      assertPlatformAdmin(actorOf(req));
      return reply.status(201).send(tenantJson(await createTenant(deps, req.body, adminMeta(req))));
    },
  );

  app.get(
    '/tenants',
    { schema: { tags, summary: 'The tenants the caller sees', querystring: PageQuery, response: { 200: TenantList, ...errors } } },
    async (req) => {
      const actor = actorOf(req);
      assertAdmin(actor);
      const page = await listTenantsPage(deps, { ...req.query, ids: actor.platform ? undefined : actor.tenantIds });
      return { tenants: page.tenants.map(tenantJson), next_cursor: page.nextCursor };
    },
  );

  app.get(
    '/tenants/:id',
    { schema: { tags, summary: 'Show a tenant', params: IdParams, response: { 200: TenantJson, ...errors } } },
    async (req) => {
      assertTenantVisible(actorOf(req), req.params.id);
      return tenantJson(await getTenant(deps, req.params.id));
    },
  );

  app.put(
    '/tenants/:id',
    {
      schema: {
        tags,
        summary: 'Rename a tenant (platform admin)',
        params: IdParams,
        body: TenantBody,
        response: { 200: TenantJson, ...errors },
      },
    },
    async (req) => {
      const actor = actorOf(req);
      assertTenantVisible(actor, req.params.id);
      assertPlatformAdmin(actor);
      return tenantJson(await renameTenantById(deps, req.params.id, req.body, adminMeta(req)));
    },
  );

  app.delete(
    '/tenants/:id',
    {
      schema: {
        tags,
        summary: 'Delete a tenant that owns no apps (platform admin)',
        params: IdParams,
        response: { 200: StatusOk, ...errors, 409: ErrorJson },
      },
    },
    async (req) => {
      assertPlatformAdmin(actorOf(req));
      await deleteTenant(deps, req.params.id, adminMeta(req));
      return { status: 'ok' as const };
    },
  );

  app.get(
    '/admins',
    {
      schema: {
        tags: ['admins'],
        summary: 'Admin grants the caller sees',
        querystring: PageQuery,
        response: { 200: GrantList, ...errors },
      },
    },
    async (req) => {
      const page = await listAdminGrants(deps, actorOf(req), req.query);
      return { admins: page.grants.map(grantJson), next_cursor: page.nextCursor };
    },
  );

  app.post(
    '/admins',
    {
      schema: {
        tags: ['admins'],
        summary: 'Grant an admin tier (never above your own)',
        body: GrantBody,
        response: { 201: GrantJson, ...errors, 409: ErrorJson },
      },
    },
    async (req, reply) => {
      const actor = actorOf(req);
      assertAdmin(actor);
      const b = req.body;
      const ref = (b.user_id ?? b.email)!;
      const found = await findUserByEmailOrId(deps, ref);
      // Below platform admin an unknown email answers as one outside the caller's reach (no oracle).
      if (!found) throw isPlatformAdmin(actor) ? appError('user_ref_not_found', { ref }) : appError('user_not_found');
      // Below platform admin, only a user the caller already sees (enrolled in one of their apps).
      const user = isPlatformAdmin(actor) ? found : await authorizeUser(deps, actor, found.id, 'see');
      const grant = await grantAdminTier(
        deps,
        actor,
        { userId: user.id, tier: b.tier, tenantId: b.tenant_id, appId: b.app_id },
        adminMeta(req),
      );
      return reply.status(201).send(grantJson(grant));
    },
  );

  app.delete(
    '/admins/:id',
    {
      schema: {
        tags: ['admins'],
        summary: 'Revoke an admin grant (same rule as granting it; never the last platform admin)',
        params: IdParams,
        response: { 200: StatusOk, ...errors, 409: ErrorJson },
      },
    },
    async (req) => {
      await revokeAdminGrant(deps, actorOf(req), req.params.id, adminMeta(req));
      return { status: 'ok' as const };
    },
  );
};

export default adminTenantRoutes;
