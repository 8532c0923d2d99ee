// GET and POST /userinfo (OIDC Core §5.3): a user access token in the Authorization header, or
// (POST only) form-encoded in the body as `access_token` (RFC 6750 §2.2), never both.
// Failures are RFC 6750 §3 (401 + WWW-Authenticate: Bearer error="invalid_token").
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Deps } from '../../deps.js';
import { userInfo } from '../../domain/oidc/userinfo.js';
import { appError } from '../../errors.js';
import { bearerToken } from '../bearer.js';

const oidcUserinfoRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    const header = bearerToken(req);
    const body = (req.body as { access_token?: unknown } | undefined)?.access_token;
    if (header && body !== undefined) throw appError('access_token_twice');
    const token = header ?? (typeof body === 'string' && body.length <= 8000 ? body : undefined);
    if (!token) throw appError('bearer_missing');
    reply.header('Cache-Control', 'no-store');
    return userInfo(deps, token);
  };
  app.get('/userinfo', { config: { errorFormat: 'oauth' } }, handler);
  app.post('/userinfo', { config: { errorFormat: 'oauth' } }, handler);
};
export default oidcUserinfoRoutes;
