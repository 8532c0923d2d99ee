// Admin API, operations (issue 14; Admin JWT, {detail} errors):
//   GET    /admin/users/{user_id}/sessions                 the user's live sign-ins within reach
//   DELETE /admin/users/{user_id}/sessions/{session_id}    end one (managers may)
//   GET    /admin/users/{user_id}/refresh-tokens           seed 001's fields (?app_id&active&cursor&limit)
//   DELETE /admin/refresh-tokens/{jti}[?family=true]       revoke the token's family (managers may)
//   POST   /admin/users/{user_id}/sign-out-everywhere      platform: everything; scoped: the apps within reach
//   GET    /admin/apps/{app_id}/refresh-keys               seed 001's inventory of the app's refresh tokens
//   POST   /admin/apps/{app_id}/refresh-keys               seed 001's "+": {audience, lifetime} → the key, once
//   DELETE /admin/apps/{app_id}/refresh-keys/{jti}         revoke (managers may)
//   GET    /admin/audit-events                             filters (event, user, app, actor, time), keyset pages, scoped to the apps within reach
//   POST   /admin/apps/{app_id}/webhooks                   {url, events[]} → {id, secret (once), url, events}
//   GET    /admin/apps/{app_id}/webhooks
//   DELETE /admin/webhooks/{id}   POST /admin/webhooks/{id}/ping   GET /admin/webhooks/{id}/deliveries
//   POST   /admin/webhooks/{id}/deliveries/{delivery_id}/retry   a failed delivery, queued again
//   GET    /admin/keys   POST /admin/keys/rotate {immediately?}   (platform admins only)
//   GET    /admin/stats                                    counts over what the admin sees
//   POST   /admin/apps/{app_id}/logo                       multipart `file`: PNG/JPEG/SVG ≤ 2 MB
// Anything out of the admin's reach is 404, exactly as if it did not exist (access.ts). Every change
// is audited with the acting admin (the RequestMeta from access.ts carries actor, actor_id, source).
import multipart from '@fastify/multipart';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Deps } from '../../deps.js';
import { LOGO_MAX_BYTES, setAppLogo } from '../../domain/apps/logos.js';
import { listAuditPage, type AuditEntry, type RequestMeta } from '../../domain/audit/audit.js';
import { listSigningKeys, rotateSigningKey, advanceKeyLifecycle } from '../../domain/keys/keys.js';
import { adminStats } from '../../domain/stats/stats.js';
import {
  endUserSignIn,
  listAppTokensPage,
  listUserSignInsPage,
  listUserTokensPage,
  revokeTokenFamilyAsAdmin,
  signOutUserAsAdmin,
  type TokenPage,
} from '../../domain/tokens/admin-inventory.js';
import { createRefreshKey } from '../../domain/tokens/refresh-keys.js';
import type { TokenInfo } from '../../domain/tokens/token-inventory.js';
import {
  addWebhook,
  deleteWebhook,
  findWebhookInScope,
  listDeliveriesPage,
  listWebhooks,
  pingWebhook,
  retryDelivery,
  type Webhook,
} from '../../domain/webhooks/webhooks.js';
import { AppError, appError } from '../../errors.js';
import {
  assertAdmin,
  assertPlatformAdmin,
  authorizeApp,
  authorizeUser,
  visibleScope,
  type AdminActor,
} from '../../domain/admin/authorization.js';
import { scopeAppIds } from '../../domain/apps/app-scope.js';
import type { FastifyRequest } from 'fastify';
import { actorOf, adminMeta } from './auth.js';
import * as s from './operations-schemas.js';

const iso = (d: Date | null) => d?.toISOString() ?? null;

function tokenJson(t: TokenInfo) {
  return {
    jti: t.jti,
    family_id: t.familyId,
    parent_jti: t.parentJti,
    audience: t.appId,
    app_id: t.appId,
    user_id: t.userId,
    state: t.state,
    lifetime_seconds: t.lifetimeSeconds,
    created_at: t.createdAt.toISOString(),
    expires_at: t.expiresAt.toISOString(),
    revoked_at: iso(t.revokedAt),
    revoked_reason: t.revokedReason,
    last_used_at: iso(t.lastUsedAt),
    content: { ...t.claims, ...(t.scope !== null && { scope: t.scope }) },
    token_hash: t.hashPrefix,
    device_info: { user_agent: t.userAgent, ip: t.ip },
    refresh_key: t.issuedBy !== null,
    issued_by: t.issuedBy,
  };
}

const tokenList = (p: TokenPage) => ({ refresh_tokens: p.tokens.map(tokenJson), next_cursor: p.next ?? null });

const webhookJson = (w: Webhook) => ({
  id: w.id,
  app_id: w.appId,
  url: w.url,
  events: w.events,
  disabled: w.disabled,
  created_at: w.createdAt.toISOString(),
});

const auditJson = (e: AuditEntry) => ({
  id: e.id,
  at: e.at.toISOString(),
  event: e.event,
  user_id: e.userId,
  app_id: e.appId,
  ip: e.ip,
  user_agent: e.userAgent,
  data: e.data,
});

/** The acting admin (service tokens have no business here: 403), the apps they reach, the audit meta. */
interface Ops {
  admin: AdminActor;
  userId: string;
  /** undefined: a platform admin, every app. */
  appIds: string[] | undefined;
  meta: RequestMeta;
}

async function opsActor(deps: Deps, req: FastifyRequest): Promise<Ops> {
  const actor = actorOf(req);
  assertAdmin(actor);
  return { admin: actor, userId: actor.userId, appIds: await scopeAppIds(deps, visibleScope(actor)), meta: adminMeta(req) };
}

const adminOpsRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  const tags = ['operations'];
  // Multipart only in this plugin (the logo route); the file is capped while it streams.
  await app.register(multipart, { limits: { fileSize: LOGO_MAX_BYTES, files: 1, fields: 5, parts: 6, headerPairs: 100 } });

  // --- A user's sign-ins and refresh tokens -------------------------------------------------------

  app.get(
    '/users/:user_id/sessions',
    {
      schema: {
        tags,
        summary: "A user's live sign-ins within reach",
        params: s.UserParams,
        querystring: s.PageQuery,
        response: { 200: s.SessionList },
      },
    },
    async (req) => {
      const actor = await opsActor(deps, req);
      await authorizeUser(deps, actor.admin, req.params.user_id);
      const page = await listUserSignInsPage(deps, req.params.user_id, { appIds: actor.appIds, ...req.query });
      return {
        sessions: page.tokens.map((t) => ({
          id: t.familyId,
          app_id: t.appId,
          sso_session_id: t.sessionId,
          created_at: t.signIn.at.toISOString(),
          last_used_at: t.parentJti ? t.createdAt.toISOString() : null,
          expires_at: t.expiresAt.toISOString(),
          user_agent: t.signIn.userAgent,
          ip: t.signIn.ip,
        })),
        next_cursor: page.next ?? null,
      };
    },
  );

  app.delete(
    '/users/:user_id/sessions/:session_id',
    { schema: { tags, summary: 'End one sign-in of a user', params: s.UserSessionParams, response: { 200: s.Revoked } } },
    async (req) => {
      const actor = await opsActor(deps, req);
      await authorizeUser(deps, actor.admin, req.params.user_id);
      const revoked = await endUserSignIn(deps, req.params.user_id, req.params.session_id, actor.appIds, actor.meta);
      return { status: 'ok' as const, revoked, family_id: req.params.session_id };
    },
  );

  app.get(
    '/users/:user_id/refresh-tokens',
    {
      schema: {
        tags,
        summary: "A user's refresh tokens (seed 001's fields)",
        params: s.UserParams,
        querystring: s.UserTokensQuery,
        response: { 200: s.RefreshTokenList },
      },
    },
    async (req) => {
      const actor = await opsActor(deps, req);
      await authorizeUser(deps, actor.admin, req.params.user_id);
      const q = req.query;
      const page = await listUserTokensPage(deps, req.params.user_id, {
        appIds: actor.appIds,
        appId: q.app_id,
        active: q.active,
        cursor: q.cursor,
        limit: q.limit,
      });
      return tokenList(page);
    },
  );

  app.delete(
    '/refresh-tokens/:jti',
    {
      schema: {
        tags,
        summary: "Revoke a refresh token's family (or ?family=true: a family)",
        params: s.JtiParams,
        querystring: s.RevokeQuery,
        response: { 200: s.Revoked },
      },
    },
    async (req) => {
      const actor = await opsActor(deps, req);
      const target = req.query.family ? { familyId: req.params.jti } : { jti: req.params.jti };
      const r = await revokeTokenFamilyAsAdmin(deps, target, { appIds: actor.appIds }, actor.meta);
      return { status: 'ok' as const, revoked: r.revoked, family_id: r.familyId };
    },
  );

  app.post(
    '/users/:user_id/sign-out-everywhere',
    { schema: { tags, summary: 'Sign a user out everywhere within reach', params: s.UserParams, response: { 200: s.SignedOut } } },
    async (req) => {
      const actor = await opsActor(deps, req);
      await authorizeUser(deps, actor.admin, req.params.user_id);
      const r = await signOutUserAsAdmin(deps, req.params.user_id, actor.appIds, actor.meta);
      return { status: 'ok' as const, revoked_tokens: r.revoked, ended_sso_sessions: r.sessions, apps: r.apps ?? null };
    },
  );

  // --- Seed 001: an app's refresh keys -------------------------------------------------------------

  app.get(
    '/apps/:app_id/refresh-keys',
    {
      schema: {
        tags,
        summary: "An app's refresh-token inventory (seed 001)",
        params: s.AppParams,
        querystring: s.AppKeysQuery,
        response: { 200: s.RefreshTokenList },
      },
    },
    async (req) => {
      const actor = await opsActor(deps, req);
      await authorizeApp(deps, actor.admin, req.params.app_id, 'members');
      const q = req.query;
      return tokenList(
        await listAppTokensPage(deps, req.params.app_id, { active: q.active, keysOnly: q.keys_only, cursor: q.cursor, limit: q.limit }),
      );
    },
  );

  app.post(
    '/apps/:app_id/refresh-keys',
    {
      schema: {
        tags,
        summary: 'Create a refresh key for an audience and lifetime (shown once)',
        params: s.AppParams,
        body: s.RefreshKeyBody,
        response: { 201: s.RefreshKeyCreated },
      },
    },
    async (req, reply) => {
      const actor = await opsActor(deps, req);
      await authorizeApp(deps, actor.admin, req.params.app_id, 'full');
      const key = await createRefreshKey(
        deps,
        { appId: req.params.app_id, audience: req.body.audience, lifetimeSeconds: req.body.lifetime, adminId: actor.userId },
        actor.meta,
      );
      reply.code(201);
      return {
        refresh_token: key.refreshToken,
        jti: key.jti,
        family_id: key.familyId,
        audience: key.appId,
        user_id: key.userId,
        created_at: key.createdAt.toISOString(),
        expires_at: key.expiresAt.toISOString(),
        lifetime_seconds: key.lifetimeSeconds,
      };
    },
  );

  app.delete(
    '/apps/:app_id/refresh-keys/:jti',
    { schema: { tags, summary: 'Revoke a refresh key or token of the app', params: s.AppTokenParams, response: { 200: s.Revoked } } },
    async (req) => {
      const actor = await opsActor(deps, req);
      await authorizeApp(deps, actor.admin, req.params.app_id, 'members');
      const r = await revokeTokenFamilyAsAdmin(
        deps,
        { jti: req.params.jti },
        { appIds: actor.appIds, appId: req.params.app_id },
        actor.meta,
      );
      return { status: 'ok' as const, revoked: r.revoked, family_id: r.familyId };
    },
  );

  // --- Audit ---------------------------------------------------------------------------------------

  app.get(
    '/audit-events',
    {
      schema: {
        tags,
        summary: 'Audit events, newest first, filtered and paged',
        querystring: s.AuditQuery,
        response: { 200: s.AuditList },
      },
    },
    async (req) => {
      const actor = await opsActor(deps, req);
      const q = req.query;
      const page = await listAuditPage(deps, {
        event: q.event,
        userId: q.user_id,
        appId: q.app_id,
        actorId: q.actor_id,
        since: q.since,
        until: q.until,
        appIds: actor.appIds,
        cursor: q.cursor,
        limit: q.limit,
      });
      return { events: page.events.map(auditJson), next_cursor: page.next ?? null };
    },
  );

  // --- Webhooks ------------------------------------------------------------------------------------

  app.post(
    '/apps/:app_id/webhooks',
    {
      schema: {
        tags,
        summary: 'Add a webhook (the secret is shown once)',
        params: s.AppParams,
        body: s.WebhookBody,
        response: { 201: s.WebhookCreated },
      },
    },
    async (req, reply) => {
      const actor = await opsActor(deps, req);
      await authorizeApp(deps, actor.admin, req.params.app_id, 'full');
      const { webhook, secret } = await addWebhook(deps, { appId: req.params.app_id, ...req.body }, actor.meta);
      reply.code(201);
      return { id: webhook.id, secret, url: webhook.url, events: webhook.events };
    },
  );

  app.get(
    '/apps/:app_id/webhooks',
    { schema: { tags, summary: "An app's webhooks", params: s.AppParams, response: { 200: s.WebhookList } } },
    async (req) => {
      const actor = await opsActor(deps, req);
      await authorizeApp(deps, actor.admin, req.params.app_id, 'members');
      return { webhooks: (await listWebhooks(deps, req.params.app_id)).map(webhookJson) };
    },
  );

  async function reachWebhook(actor: Ops, id: string): Promise<Webhook> {
    const hook = await findWebhookInScope(deps, id, actor.appIds);
    if (!hook) throw appError('webhook_not_found', { id });
    return hook;
  }

  app.delete(
    '/webhooks/:id',
    { schema: { tags, summary: 'Delete a webhook', params: s.WebhookParams, response: { 200: s.Revoked } } },
    async (req) => {
      const actor = await opsActor(deps, req);
      const hook = await reachWebhook(actor, req.params.id);
      await authorizeApp(deps, actor.admin, hook.appId, 'full');
      await deleteWebhook(deps, hook.id, actor.meta);
      return { status: 'ok' as const, revoked: 1 };
    },
  );

  app.post(
    '/webhooks/:id/ping',
    { schema: { tags, summary: 'Queue a ping to a webhook', params: s.WebhookParams, response: { 202: s.PingQueued } } },
    async (req, reply) => {
      const actor = await opsActor(deps, req);
      const hook = await reachWebhook(actor, req.params.id);
      await authorizeApp(deps, actor.admin, hook.appId, 'full');
      const deliveryId = await pingWebhook(deps, hook.id, actor.meta);
      reply.code(202);
      return { status: 'ok' as const, delivery_id: deliveryId };
    },
  );

  app.get(
    '/webhooks/:id/deliveries',
    {
      schema: {
        tags,
        summary: "A webhook's deliveries with their status",
        params: s.WebhookParams,
        querystring: s.PageQuery,
        response: { 200: s.DeliveryList },
      },
    },
    async (req) => {
      const actor = await opsActor(deps, req);
      const hook = await reachWebhook(actor, req.params.id);
      const page = await listDeliveriesPage(deps, hook.id, req.query);
      return {
        deliveries: page.deliveries.map((d) => ({
          id: d.id,
          event: d.event,
          status: d.status,
          attempts: d.attempts,
          next_attempt_at: d.status === 'pending' ? d.next_attempt_at.toISOString() : null,
          last_status: d.last_status,
          last_error: d.last_error,
          created_at: d.created_at.toISOString(),
          delivered_at: iso(d.delivered_at),
        })),
        next_cursor: page.next ?? null,
      };
    },
  );

  app.post(
    '/webhooks/:id/deliveries/:delivery_id/retry',
    { schema: { tags, summary: 'Send a failed delivery again', params: s.DeliveryParams, response: { 202: s.PingQueued } } },
    async (req, reply) => {
      const actor = await opsActor(deps, req);
      const hook = await reachWebhook(actor, req.params.id);
      await authorizeApp(deps, actor.admin, hook.appId, 'full');
      await retryDelivery(deps, hook, req.params.delivery_id, actor.meta);
      reply.code(202);
      return { status: 'ok' as const, delivery_id: req.params.delivery_id };
    },
  );

  // --- Signing keys (platform admins) -----------------------------------------------------------

  app.get('/keys', { schema: { tags, summary: 'Signing keys (platform admins)', response: { 200: s.SigningKeyList } } }, async (req) => {
    assertPlatformAdmin(actorOf(req));
    // Whatever is due first, so the list is the current truth (as `keymaster keys list` does).
    await advanceKeyLifecycle(deps);
    const keys = await listSigningKeys(deps, { all: true });
    return {
      keys: keys.map((k) => ({
        kid: k.kid,
        state: k.state,
        created_at: k.createdAt.toISOString(),
        activate_at: iso(k.activateAt),
        activated_at: iso(k.activatedAt),
        retire_at: iso(k.retireAt),
        retired_at: iso(k.retiredAt),
      })),
    };
  });

  app.post(
    '/keys/rotate',
    { schema: { tags, summary: 'Rotate the signing key (platform admins)', body: s.RotateBody, response: { 200: s.Rotated } } },
    async (req) => {
      assertPlatformAdmin(actorOf(req));
      const meta = adminMeta(req);
      const immediate = req.body.immediately === true;
      const { kid, activateAt } = await rotateSigningKey(deps, { immediate }, meta);
      // This process signs with the new key at once; the others pick it up at their next key poll.
      if (immediate) await deps.keys.reloadIfChanged();
      const active = activateAt.getTime() <= deps.clock.now().getTime();
      return {
        kid,
        state: active ? ('active' as const) : ('next' as const),
        activate_at: activateAt.toISOString(),
        warning: active
          ? 'The new key signs now. Resource servers whose cached JWKS does not have it yet reject new tokens until they refetch the JWKS (at most its Cache-Control max-age, or at once on an unknown kid).'
          : null,
      };
    },
  );

  // --- Stats ------------------------------------------------------------------------------------

  app.get(
    '/stats',
    { schema: { tags, summary: "Counts and the last 24 hours' failures, replays and lockouts", response: { 200: s.Stats } } },
    async (req) => {
      const actor = await opsActor(deps, req);
      const st = await adminStats(deps, actor.appIds);
      return {
        users: st.users,
        apps: st.apps,
        active_sessions: st.activeSessions,
        live_refresh_tokens: st.liveRefreshTokens,
        last_24h: {
          since: st.last24h.since.toISOString(),
          sign_in_failures: st.last24h.signInFailures,
          replays: st.last24h.replays,
          lockouts: st.last24h.lockouts,
        },
      };
    },
  );

  // --- Logo -------------------------------------------------------------------------------------

  app.post(
    '/apps/:app_id/logo',
    // The file is capped at 2 MB while it streams (the plugin's limits); the rest is multipart framing.
    {
      bodyLimit: LOGO_MAX_BYTES + 64 * 1024,
      schema: {
        tags,
        summary: 'Upload the app logo (multipart field file: PNG, JPEG or SVG, at most 2 MB)',
        params: s.AppParams,
        response: { 200: s.LogoSaved },
      },
    },
    async (req) => {
      const actor = await opsActor(deps, req);
      await authorizeApp(deps, actor.admin, req.params.app_id, 'full');
      const bytes = await readLogoFile(req);
      const saved = await setAppLogo(deps, req.params.app_id, bytes, actor.meta);
      return { logo_url: saved.url, content_type: saved.contentType, bytes: saved.bytes };
    },
  );
};
export default adminOpsRoutes;

/**
 * The multipart field `file`, whole (at most LOGO_MAX_BYTES: the plugin stops reading beyond), and
 * nothing else: every part is read, so a second file or any other field is a 400, never ignored.
 */
async function readLogoFile(req: FastifyRequest): Promise<Buffer> {
  if (!req.isMultipart()) throw appError('logo_file_missing');
  let file: Buffer | undefined;
  try {
    for await (const part of req.parts()) {
      if (part.type !== 'file' || part.fieldname !== 'file') {
        throw appError('invalid_input', {
          problems: `only one part, the file named "file", is accepted (got "${safeName(part.fieldname)}")`,
        });
      }
      if (file) throw appError('invalid_input', { problems: 'send one file only' });
      file = await part.toBuffer();
    }
  } catch (err) {
    throw multipartError(err);
  }
  if (!file) throw appError('logo_file_missing');
  return file;
}

/** A client's field name, shown back only as plain short text. */
const safeName = (name: string) => name.replace(/[^\w.-]/g, '?').slice(0, 40);

function multipartError(err: unknown) {
  if (err instanceof AppError) return err;
  const code = (err as { code?: string }).code;
  if (code === 'FST_REQ_FILE_TOO_LARGE') return appError('logo_too_large');
  if (code === 'FST_FILES_LIMIT' || code === 'FST_PARTS_LIMIT' || code === 'FST_FIELDS_LIMIT') {
    return appError('invalid_input', { problems: 'send one file only' });
  }
  if (typeof code === 'string' && code.startsWith('FST_')) return appError('logo_file_missing', { detail: code });
  return err;
}
