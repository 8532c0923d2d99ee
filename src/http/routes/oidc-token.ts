// POST /token (RFC 6749 §3.2, form-encoded): authorization_code, refresh_token, client_credentials and,
// when KEYMASTER_DEVICE_GRANT is on, RFC 8628's device_code;
// POST /auth/token: the Keymaster API's client-credentials endpoint (KEYMASTER-API.md §5).
// Errors are RFC 6749 §5.2 JSON; every response carries Cache-Control: no-store.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import type { Deps } from '../../deps.js';
import { FORM_BODY_LIMIT, rateLimit } from '../plugins/guards.js';
import { RULES } from '../../domain/rate-limits/rate-limits.js';
import { authenticateTokenClient } from '../../domain/oidc/client-auth.js';
import { clientCredentialsGrant, exchangeAuthorizationCode, refreshGrant } from '../../domain/oidc/token-grants.js';
import { DEVICE_CODE_GRANT } from '../../domain/apps/apps.js';
import { exchangeDeviceCode } from '../../domain/oidc/device-grant.js';
import { appError } from '../../errors.js';
import { clientCredentialsOf } from '../client-credentials.js';
import { requestMeta } from '../request-meta.js';
import { oauthTokensJson, serviceTokenJson } from '../token-responses.js';
import { TokenBody, TokenResponse } from '../schemas/oidc.js';

type Body = z.infer<typeof TokenBody>;

const oidcTokenRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  const noStore = (reply: FastifyReply) => reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache');
  const required = (v: string | undefined, name: string) => {
    if (!v) throw appError('parameter_missing', { name });
    return v;
  };

  async function grant(req: FastifyRequest, b: Body, allowed: readonly string[]) {
    const type = required(b.grant_type, 'grant_type');
    if (!allowed.includes(type)) throw appError('grant_type_unsupported', { grantType: type.slice(0, 50) });
    const client = await authenticateTokenClient(deps, clientCredentialsOf(req, b), {
      allowPublic: type !== 'client_credentials',
      source: req.ip,
    });
    const meta = requestMeta(req);
    if (type === 'authorization_code') {
      const input = { code: required(b.code, 'code'), redirectUri: b.redirect_uri, codeVerifier: b.code_verifier, resource: b.resource };
      return oauthTokensJson(await exchangeAuthorizationCode(deps, client, input, meta));
    }
    if (type === DEVICE_CODE_GRANT) {
      const input = { deviceCode: required(b.device_code, 'device_code'), resource: b.resource };
      return oauthTokensJson(await exchangeDeviceCode(deps, client, input, meta));
    }
    if (type === 'refresh_token') {
      const input = { refreshToken: required(b.refresh_token, 'refresh_token'), scope: b.scope, resource: b.resource };
      return oauthTokensJson(await refreshGrant(deps, client, input, meta));
    }
    return serviceTokenJson(await clientCredentialsGrant(deps, client, { scope: b.scope, resource: b.resource }));
  }

  const userGrants = ['authorization_code', 'refresh_token', 'client_credentials', ...(deps.config.deviceGrant ? [DEVICE_CODE_GRANT] : [])];
  const schema = { body: TokenBody, response: { 200: TokenResponse } };
  app.post(
    '/token',
    {
      schema,
      config: { errorFormat: 'oauth', accepts: 'form' },
      bodyLimit: FORM_BODY_LIMIT,
      preHandler: rateLimit(deps, RULES.tokenPerIp),
    },
    async (req, reply) => {
      noStore(reply);
      return grant(req, req.body, userGrants);
    },
  );
  app.post(
    '/auth/token',
    {
      schema,
      config: { errorFormat: 'oauth', accepts: 'form' },
      bodyLimit: FORM_BODY_LIMIT,
      preHandler: rateLimit(deps, RULES.tokenPerIp),
    },
    async (req, reply) => {
      noStore(reply);
      return grant(req, req.body, ['client_credentials']);
    },
  );
};
export default oidcTokenRoutes;
