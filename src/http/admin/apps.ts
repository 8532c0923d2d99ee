// Admin API: apps (KEYMASTER-API.md §5: POST /admin/apps, PUT /admin/apps/{app_id},
// POST /admin/apps/{app_id}/regenerate-secret) and the list, show and delete an admin needs.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import type { Deps } from '../../deps.js';
import {
  assertAdmin,
  assertCanCreateAppIn,
  assertCanMoveAppTo,
  authorizeApp,
  visibleScope,
  type Actor,
} from '../../domain/admin/authorization.js';
import {
  createApp,
  deleteApp,
  listAppsPage,
  rotateClientSecret,
  updateApp,
  type App,
  type AppInput,
  type AppUpdateInput,
} from '../../domain/apps/apps.js';
import { appError } from '../../errors.js';
import { actorOf, adminMeta } from './auth.js';
import {
  AppIdParams,
  AppJson,
  AppList,
  AppListQuery,
  CreateAppBody,
  CreatedAppJson,
  ErrorJson,
  SecretJson,
  StatusOk,
  UpdateAppBody,
} from './schemas.js';

export function appJson(a: App): z.infer<typeof AppJson> {
  return {
    id: a.appId,
    name: a.name,
    tenant_id: a.tenantId,
    bundle_id: a.bundleId,
    registration_policy: a.registrationPolicy,
    builtin: a.builtin,
    config: {
      allowed_providers: a.providers,
      redirect_uris: a.redirectUris,
      post_logout_redirect_uris: a.postLogoutRedirectUris,
      available_roles: a.availableRoles,
      auto_assign_roles: a.autoAssignRoles,
      token_lifetime_minutes: a.accessTokenTtl === null ? null : a.accessTokenTtl / 60,
      refresh_lifetime_days: a.refreshTokenTtlDays,
      branding: { primary_color: a.primaryColor, logo_url: a.logoUrl, logo_height: a.logoHeight, has_logo: a.hasLogo },
    },
    client_type: a.clientType,
    grant_types: a.grantTypes,
    allowed_scopes: a.allowedScopes,
    refresh_reuse_interval: a.refreshReuseInterval,
    development: a.development,
    backchannel_logout_uri: a.backchannelLogoutUri,
    resources: a.resources,
    third_party: a.thirdParty,
    token_endpoint_auth_method: a.tokenEndpointAuthMethod,
    require_pushed_authorization_requests: a.requirePushedAuthorizationRequests,
    created_at: a.createdAt.toISOString(),
  };
}

type UpdateBody = z.infer<typeof UpdateAppBody>;

/** The wire body as the domain's app input: Keymaster's `config` and our own fields, only those given. */
function appChanges(b: UpdateBody): z.input<typeof AppUpdateInput> {
  const c = b.config ?? {};
  const def = <K extends string, V>(k: K, v: V | undefined) => (v === undefined ? {} : ({ [k]: v } as Record<K, V>));
  return {
    ...def('name', b.name),
    ...def('tenantId', b.tenant_id),
    ...def('bundleId', b.bundle_id),
    ...def('registrationPolicy', b.registration_policy),
    ...def('providers', c.allowed_providers),
    ...def('redirectUris', c.redirect_uris),
    ...def('postLogoutRedirectUris', c.post_logout_redirect_uris),
    ...def('availableRoles', c.available_roles),
    ...def('autoAssignRoles', c.auto_assign_roles),
    ...def('accessTokenTtl', c.token_lifetime_minutes === null ? null : c.token_lifetime_minutes && c.token_lifetime_minutes * 60),
    ...def('refreshTokenTtlDays', c.refresh_lifetime_days),
    ...def('primaryColor', c.branding?.primary_color),
    ...def('logoUrl', c.branding?.logo_url),
    ...def('logoHeight', c.branding?.logo_height),
    ...def('clientType', b.client_type),
    ...def('grantTypes', b.grant_types),
    ...def('allowedScopes', b.allowed_scopes),
    ...def('refreshReuseInterval', b.refresh_reuse_interval),
    ...def('development', b.development),
    ...def('backchannelLogoutUri', b.backchannel_logout_uri),
    ...def('resources', b.resources),
    ...def('thirdParty', b.third_party),
    ...def('tokenEndpointAuthMethod', b.token_endpoint_auth_method),
    ...def('requirePushedAuthorizationRequests', b.require_pushed_authorization_requests),
  };
}

/** Create: the same mapping; null means "not set" for a new app. */
function appInput(b: z.infer<typeof CreateAppBody>): AppInput {
  const changes = Object.fromEntries(Object.entries(appChanges(b)).filter(([, v]) => v !== null));
  return changes as AppInput;
}

/** Deleting an app is for those who may create one where it is: platform admin, or its tenant's admin. */
function assertCanDeleteApp(actor: Actor, app: App): void {
  assertAdmin(actor);
  if (actor.platform || (app.tenantId !== null && actor.tenantIds.includes(app.tenantId))) return;
  throw appError('admin_tier_insufficient');
}

function assertNotBuiltin(app: App): void {
  if (app.builtin !== null) throw appError('builtin_app_protected');
}

const errors = { 400: ErrorJson, 401: ErrorJson, 403: ErrorJson, 404: ErrorJson };

const adminAppRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  const tags = ['apps'];

  app.post(
    '/apps',
    {
      schema: {
        tags,
        summary: 'Create an app (platform or tenant admin)',
        body: CreateAppBody,
        response: { 201: CreatedAppJson, ...errors },
      },
    },
    async (req, reply) => {
      const actor = actorOf(req);
      assertCanCreateAppIn(actor, req.body.tenant_id);
      const { app: created, clientSecret } = await createApp(deps, appInput(req.body), adminMeta(req));
      return reply.status(201).send({ ...appJson(created), client_secret: clientSecret });
    },
  );

  app.get(
    '/apps',
    { schema: { tags, summary: 'List the apps the caller may see', querystring: AppListQuery, response: { 200: AppList, ...errors } } },
    async (req) => {
      const actor = actorOf(req);
      assertAdmin(actor);
      const { limit, cursor, tenant_id: tenantId } = req.query;
      const page = await listAppsPage(deps, { limit, cursor, tenantId, scope: visibleScope(actor) });
      return { apps: page.apps.map(appJson), next_cursor: page.nextCursor };
    },
  );

  app.get(
    '/apps/:app_id',
    { schema: { tags, summary: 'Show an app', params: AppIdParams, response: { 200: AppJson, ...errors } } },
    async (req) => {
      const actor = actorOf(req);
      assertAdmin(actor);
      return appJson(await authorizeApp(deps, actor, req.params.app_id, 'members'));
    },
  );

  app.put(
    '/apps/:app_id',
    {
      schema: {
        tags,
        summary: 'Update an app: only the fields given (platform, tenant or app admin; not managers)',
        params: AppIdParams,
        body: UpdateAppBody,
        response: { 200: AppJson, ...errors },
      },
    },
    async (req) => {
      const actor = actorOf(req);
      const current = await authorizeApp(deps, actor, req.params.app_id, 'full');
      assertNotBuiltin(current);
      if (req.body.tenant_id !== undefined && req.body.tenant_id !== current.tenantId) assertCanMoveAppTo(actor, req.body.tenant_id);
      return appJson(await updateApp(deps, current.appId, appChanges(req.body), adminMeta(req)));
    },
  );

  app.delete(
    '/apps/:app_id',
    {
      schema: {
        tags,
        summary: 'Delete an app (platform admin or its tenant admin)',
        params: AppIdParams,
        response: { 200: StatusOk, ...errors },
      },
    },
    async (req) => {
      const actor = actorOf(req);
      const current = await authorizeApp(deps, actor, req.params.app_id, 'full');
      assertNotBuiltin(current);
      assertCanDeleteApp(actor, current);
      await deleteApp(deps, current.appId, adminMeta(req));
      return { status: 'ok' as const };
    },
  );

  app.post(
    '/apps/:app_id/regenerate-secret',
    {
      schema: {
        tags,
        summary: 'A new client secret; the old one stops working at once',
        params: AppIdParams,
        response: { 200: SecretJson, ...errors },
      },
    },
    async (req) => {
      const actor = actorOf(req);
      const current = await authorizeApp(deps, actor, req.params.app_id, 'full');
      assertNotBuiltin(current);
      return { client_secret: await rotateClientSecret(deps, current.appId, adminMeta(req)) };
    },
  );
};

export default adminAppRoutes;
