// The Keymaster token API: POST /token/refresh (rotate) and POST /token/revoke (RFC 7009 semantics).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Deps } from '../../deps.js';
import { revokeRefreshToken, rotateRefreshToken } from '../../domain/tokens/refresh-tokens.js';
import { RULES } from '../../domain/rate-limits/rate-limits.js';
import { JSON_BODY_LIMIT, rateLimit } from '../plugins/guards.js';
import { requestMeta } from '../request-meta.js';
import { keymasterTokensJson } from '../token-responses.js';
import { RefreshBody, RevokeBody, StatusOk, TokenResponse } from '../schemas/keymaster.js';

const keymasterTokenRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  const json = { accepts: 'json' as const };
  app.post(
    '/token/refresh',
    {
      schema: { body: RefreshBody, response: { 200: TokenResponse } },
      config: json,
      bodyLimit: JSON_BODY_LIMIT,
      preHandler: rateLimit(deps, RULES.tokenRefreshPerIp),
    },
    async (req, reply) => {
      // No client authentication here (KEYMASTER-API.md): a client-bound token is refused.
      const rotated = await rotateRefreshToken(
        deps,
        { refreshToken: req.body.refresh_token, appId: req.body.app_id, clientAuthenticated: false },
        requestMeta(req),
      );
      reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache');
      return keymasterTokensJson(rotated);
    },
  );

  app.post(
    '/token/revoke',
    {
      schema: { body: RevokeBody, response: { 200: StatusOk } },
      config: json,
      bodyLimit: JSON_BODY_LIMIT,
      preHandler: rateLimit(deps, RULES.tokenRevokePerIp),
    },
    async (req) => {
      await revokeRefreshToken(deps, { refreshToken: req.body.refresh_token, appId: req.body.app_id }, requestMeta(req));
      return { status: 'ok' as const };
    },
  );
};
export default keymasterTokenRoutes;
