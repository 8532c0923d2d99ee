// The signed-in user's own sessions (one per refresh-token family = one sign-in on one device/app):
//   GET    /api/v1/auth/sessions      list the live ones, a page at a time (?limit=, ?cursor=next_cursor)
//   DELETE /api/v1/auth/sessions/:id  end one (404 unless it is the caller's and live)
//   DELETE /api/v1/auth/sessions      sign out everywhere: every refresh token and SSO session
// Bearer user access token of any app; account API error shape ({detail}).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Deps } from '../../deps.js';
import { listUserSessions, revokeUserSession, signOutEverywhere } from '../../domain/tokens/token-inventory.js';
import { authenticateBearer } from '../bearer.js';
import { requestMeta } from '../request-meta.js';
import { StatusOk } from '../schemas/keymaster.js';
import { SessionList, SessionListQuery, SessionParams, SignedOutEverywhere } from '../schemas/account-sessions.js';

const accountSessionRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  const opts = { config: { errorFormat: 'detail' as const } };

  app.get(
    '/api/v1/auth/sessions',
    { ...opts, schema: { querystring: SessionListQuery, response: { 200: SessionList } } },
    async (req, reply) => {
      const claims = await authenticateBearer(deps, req);
      const page = await listUserSessions(deps, claims.sub, { limit: req.query.limit, cursor: req.query.cursor });
      reply.header('Cache-Control', 'no-store');
      return {
        next_cursor: page.next ?? null,
        sessions: page.sessions.map((s) => ({
          id: s.id,
          app_id: s.appId,
          app_name: s.appName,
          created_at: s.createdAt,
          last_used_at: s.lastUsedAt,
          expires_at: s.expiresAt,
          user_agent: s.userAgent,
          ip: s.ip,
        })),
      };
    },
  );

  app.delete('/api/v1/auth/sessions/:id', { ...opts, schema: { params: SessionParams, response: { 200: StatusOk } } }, async (req) => {
    const claims = await authenticateBearer(deps, req);
    await revokeUserSession(deps, claims.sub, req.params.id, { ...requestMeta(req), actor: 'user' });
    return { status: 'ok' as const };
  });

  app.delete('/api/v1/auth/sessions', { ...opts, schema: { response: { 200: SignedOutEverywhere } } }, async (req) => {
    const claims = await authenticateBearer(deps, req);
    const r = await signOutEverywhere(deps, claims.sub, { ...requestMeta(req), actor: 'user' });
    return { status: 'ok' as const, revoked_tokens: r.revoked, ended_sso_sessions: r.sessions };
  });
};
export default accountSessionRoutes;
