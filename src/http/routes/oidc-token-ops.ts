// POST /introspect (RFC 7662) and POST /revoke (RFC 7009): client-authenticated, form-encoded,
// and only ever about the caller's own tokens.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Deps } from '../../deps.js';
import { FORM_BODY_LIMIT, rateLimit } from '../plugins/guards.js';
import { RULES } from '../../domain/rate-limits/rate-limits.js';
import { authenticateTokenClient } from '../../domain/oidc/client-auth.js';
import { introspectToken, revokeToken } from '../../domain/oidc/introspection.js';
import { clientCredentialsOf } from '../client-credentials.js';
import { requestMeta } from '../request-meta.js';
import { IntrospectionResponse, TokenOpBody } from '../schemas/oidc.js';

const oidcTokenOpsRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  app.post(
    '/introspect',
    {
      schema: { body: TokenOpBody, response: { 200: IntrospectionResponse } },
      config: { errorFormat: 'oauth', accepts: 'form' },
      bodyLimit: FORM_BODY_LIMIT,
      preHandler: rateLimit(deps, RULES.introspectPerIp),
    },
    async (req, reply) => {
      // A public client holds no secret, so it cannot prove who is asking (RFC 7662 §2.1).
      const client = await authenticateTokenClient(deps, clientCredentialsOf(req, req.body), { allowPublic: false, source: req.ip });
      reply.header('Cache-Control', 'no-store');
      return introspectToken(deps, client, req.body.token);
    },
  );

  app.post(
    '/revoke',
    {
      schema: { body: TokenOpBody },
      config: { errorFormat: 'oauth', accepts: 'form' },
      bodyLimit: FORM_BODY_LIMIT,
      preHandler: rateLimit(deps, RULES.tokenRevokePerIp),
    },
    async (req, reply) => {
      const client = await authenticateTokenClient(deps, clientCredentialsOf(req, req.body), { allowPublic: true, source: req.ip });
      await revokeToken(deps, client, req.body.token, requestMeta(req));
      return reply.header('Cache-Control', 'no-store').status(200).send();
    },
  );
};
export default oidcTokenOpsRoutes;
