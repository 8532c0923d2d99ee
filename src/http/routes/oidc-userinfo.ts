// GET and POST /userinfo (OIDC Core §5.3): Bearer user access token in the Authorization header.
// Failures are RFC 6750 §3 (401 + WWW-Authenticate: Bearer error="invalid_token").
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Deps } from '../../deps.js';
import { userInfo } from '../../domain/oidc/userinfo.js';
import { invalidToken } from '../../errors.js';
import { bearerToken } from '../bearer.js';

const oidcUserinfoRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    const token = bearerToken(req);
    if (!token) throw invalidToken('Missing bearer token');
    reply.header('Cache-Control', 'no-store');
    return userInfo(deps, token);
  };
  app.get('/userinfo', { config: { errorFormat: 'oauth' } }, handler);
  app.post('/userinfo', { config: { errorFormat: 'oauth' } }, handler);
};
export default oidcUserinfoRoutes;
