// POST /par (RFC 9126 §2): a client pushes its authorization request, authenticated as at /token
// (public clients name themselves), and gets 201 {request_uri, expires_in} for /authorize. Errors are
// RFC 6749 §5.2 JSON. Off (404) when KEYMASTER_PAR=false.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Deps } from '../../deps.js';
import { FORM_BODY_LIMIT, rateLimit } from '../plugins/guards.js';
import { RULES } from '../../domain/rate-limits/rate-limits.js';
import { authenticateTokenClient } from '../../domain/oidc/client-auth.js';
import { pushAuthorizationRequest } from '../../domain/oidc/pushed-requests.js';
import { appError } from '../../errors.js';
import { clientCredentialsOf } from '../client-credentials.js';
import { PushedAuthorizationBody, PushedAuthorizationResponse } from '../schemas/oidc.js';

const oidcParRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  app.post(
    '/par',
    {
      schema: { body: PushedAuthorizationBody, response: { 201: PushedAuthorizationResponse } },
      config: { errorFormat: 'oauth', accepts: 'form' },
      bodyLimit: FORM_BODY_LIMIT,
      preHandler: rateLimit(deps, RULES.parPerIp),
    },
    async (req, reply) => {
      if (!deps.config.par) throw appError('route_not_found');
      const client = await authenticateTokenClient(deps, clientCredentialsOf(req, req.body), { allowPublic: true, source: req.ip });
      const pushed = await pushAuthorizationRequest(deps, client, req.body);
      reply.header('Cache-Control', 'no-store').status(201);
      return { request_uri: pushed.requestUri, expires_in: pushed.expiresIn };
    },
  );
};
export default oidcParRoutes;
