// GET and POST /authorize (RFC 6749 §4.1.1, OIDC Core §3.1.2): a code at once for a live SSO
// session, otherwise the branded sign-in page carrying the sealed request; errors before the client
// and redirect_uri are known are pages, after that redirects (§4.1.2.1). A request_uri from /par
// (RFC 9126 §4) stands for the pushed request.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import type { Deps } from '../../deps.js';
import { FORM_BODY_LIMIT, rateLimit } from '../plugins/guards.js';
import { RULES } from '../../domain/rate-limits/rate-limits.js';
import { authorize } from '../../domain/oidc/authorization.js';
import { AuthorizeParams } from '../schemas/oidc.js';
import { readSsoCookie } from '../sso-cookie.js';
import { consentPagePath } from '../consent-page.js';
import { renderLoginPage } from '../login-page.js';
import { uiLocaleOf } from '../../i18n/locales.js';

const oidcAuthorizeRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  async function handle(req: FastifyRequest, reply: FastifyReply, params: z.infer<typeof AuthorizeParams>) {
    const outcome = await authorize(deps, params, { cookieValue: readSsoCookie(deps.config, req) });
    if (outcome.kind === 'redirect') return reply.header('Cache-Control', 'no-store').redirect(outcome.url, 303);
    if (outcome.kind === 'consent') {
      const to = consentPagePath({ appId: outcome.app.appId, redirectUri: outcome.redirectUri, authz: outcome.pending });
      return reply.header('Cache-Control', 'no-store').redirect(to, 303);
    }
    return renderLoginPage(
      reply,
      outcome.app,
      { app_id: outcome.app.appId, redirect_uri: outcome.redirectUri, authz: outcome.pending, ui_locales: uiLocaleOf(outcome.uiLocales) },
      { config: deps.config, ...(outcome.loginHint !== undefined && { email: outcome.loginHint }) },
    );
  }
  const config = { errorFormat: 'html' as const };
  app.get(
    '/authorize',
    { schema: { querystring: AuthorizeParams }, config, preHandler: rateLimit(deps, RULES.authorizePerIp) },
    (req, reply) => handle(req, reply, req.query),
  );
  app.post(
    '/authorize',
    {
      schema: { body: AuthorizeParams },
      config: { ...config, accepts: 'form' as const },
      bodyLimit: FORM_BODY_LIMIT,
      preHandler: rateLimit(deps, RULES.authorizePerIp),
    },
    (req, reply) => handle(req, reply, req.body),
  );
};
export default oidcAuthorizeRoutes;
