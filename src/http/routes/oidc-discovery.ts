// GET /.well-known/openid-configuration (OIDC Discovery 1.0 §3) and /.well-known/oauth-authorization-server
// (RFC 8414): one document, built once from the configured issuer. Every value listed is implemented.
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Config } from '../../config.js';
import type { Deps } from '../../deps.js';
import { DEVICE_CODE_GRANT, GRANT_TYPES, SCOPES } from '../../domain/apps/apps.js';
import { CLIENT_ASSERTION_ALGS } from '../../domain/apps/client-keys.js';
import { ACR_VALUES } from '../../domain/oidc/auth-context.js';
import { LOCALES } from '../../i18n/locales.js';

export function discoveryDocument(config: Pick<Config, 'issuer' | 'privateKeyJwt' | 'par' | 'deviceGrant'>) {
  const at = (path: string) => `${config.issuer}${path}`;
  const clientAuth = ['client_secret_basic', 'client_secret_post', ...(config.privateKeyJwt ? ['private_key_jwt'] : [])];
  // RFC 8414 §2: the signing algorithms of private_key_jwt assertions, per endpoint, only when it is on.
  const assertionAlgs = (endpoint: string) =>
    config.privateKeyJwt ? { [`${endpoint}_endpoint_auth_signing_alg_values_supported`]: [...CLIENT_ASSERTION_ALGS] } : {};
  return {
    issuer: config.issuer,
    authorization_endpoint: at('/authorize'),
    token_endpoint: at('/token'),
    userinfo_endpoint: at('/userinfo'),
    jwks_uri: at('/.well-known/jwks.json'),
    revocation_endpoint: at('/revoke'),
    introspection_endpoint: at('/introspect'),
    end_session_endpoint: at('/end_session'),
    // RFC 8628 §4: only while KEYMASTER_DEVICE_GRANT is on.
    ...(config.deviceGrant && { device_authorization_endpoint: at('/device_authorization') }),
    // Back-Channel Logout 1.0 §2.1: logout tokens are sent, and carry `sid` (as ID tokens do).
    backchannel_logout_supported: true,
    backchannel_logout_session_supported: true,
    scopes_supported: [...SCOPES],
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: GRANT_TYPES.filter((g) => config.deviceGrant || g !== DEVICE_CODE_GRANT),
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    token_endpoint_auth_methods_supported: [...clientAuth, 'none'],
    revocation_endpoint_auth_methods_supported: [...clientAuth, 'none'],
    introspection_endpoint_auth_methods_supported: clientAuth,
    ...assertionAlgs('token'),
    ...assertionAlgs('revocation'),
    ...assertionAlgs('introspection'),
    // RFC 9126 §5: PAR is offered to every client and required of none by default (apps may require it).
    ...(config.par && { pushed_authorization_request_endpoint: at('/par'), require_pushed_authorization_requests: false }),
    code_challenge_methods_supported: ['S256'],
    prompt_values_supported: ['none', 'login', 'consent'],
    // auth-context.ts: the acr an ID token says; acr_values at /authorize is voluntary (OIDC Core §3.1.2.1).
    acr_values_supported: [...ACR_VALUES],
    claims_supported: [
      'iss',
      'sub',
      'aud',
      'azp',
      'exp',
      'iat',
      'auth_time',
      'nonce',
      'at_hash',
      'sid',
      'amr',
      'acr',
      'email',
      'email_verified',
      'name',
      'updated_at',
      'roles',
    ],
    // OIDC Core §5.5: individual claims for userinfo and id_token (claims-request.ts).
    claims_parameter_supported: true,
    request_parameter_supported: false,
    // Only the request_uri that /par returned (RFC 9126 §4), never one to fetch (OIDC Core §6.2).
    request_uri_parameter_supported: false,
    authorization_response_iss_parameter_supported: true,
    // OIDC Discovery §3: the languages ui_locales may ask the pages for (src/i18n/locales.ts).
    ui_locales_supported: [...LOCALES],
  };
}

const oidcDiscoveryRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  const body = JSON.stringify(discoveryDocument(deps.config));
  const handler = (_req: unknown, reply: FastifyReply) =>
    reply.header('Cache-Control', 'public, max-age=300').type('application/json; charset=utf-8').send(body);
  // Public documents: readable from any origin, without the page headers (plugins/web.ts).
  const document = { config: { headers: 'document' as const } };
  app.get('/.well-known/openid-configuration', document, handler);
  app.get('/.well-known/oauth-authorization-server', document, handler);
};
export default oidcDiscoveryRoutes;
