// GET and POST /authorize/consent (issue 16): the consent page of a third-party app's pending
// /authorize request (sealed, as the sign-in page carries it), and the user's Allow or Deny. Both need
// the browser's SSO session; without one the sign-in page comes first (and brings the user back here).
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Deps } from '../../deps.js';
import { resolveAppForRedirect, type App } from '../../domain/apps/apps.js';
import { answerConsent, openConsent } from '../../domain/sign-in/consent.js';
import { isSignInRequestRefusal } from '../../domain/sign-in/sign-in.js';
import { renderConsentPage } from '../consent-page.js';
import { refuseSignInRequest, renderLoginPage } from '../login-page.js';
import { FORM_BODY_LIMIT, formGuard } from '../plugins/guards.js';
import { requestMeta } from '../request-meta.js';
import { ConsentForm, ConsentQuery } from '../schemas/consent-account.js';
import { readSsoCookie } from '../sso-cookie.js';

const oidcConsentRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  const config = { errorFormat: 'html' as const };
  /** A sealed request that cannot be used: the error page whose way back is the client's callback. */
  const refuse =
    (req: FastifyRequest, client: App, r: { redirectUri: string; authz: string }) =>
    (err: unknown): never => {
      if (isSignInRequestRefusal(err)) refuseSignInRequest(deps, req, client, r.redirectUri, r.authz, err);
      throw err;
    };

  app.get('/authorize/consent', { config, schema: { querystring: ConsentQuery } }, async (req, reply) => {
    const q = req.query;
    const client = await resolveAppForRedirect(deps, q.app_id, q.redirect_uri);
    const request = { redirectUri: q.redirect_uri, authz: q.authz };
    const prompt = await openConsent(deps, client, request, readSsoCookie(deps.config, req)).catch(refuse(req, client, request));
    if (prompt.kind === 'login') return renderLoginPage(reply, client, q, { config: deps.config });
    return renderConsentPage(reply, client, { ...request, email: prompt.user.email, scopes: prompt.scopes });
  });

  app.post(
    '/authorize/consent',
    {
      config: { ...config, accepts: 'form' as const },
      schema: { body: ConsentForm },
      bodyLimit: FORM_BODY_LIMIT,
      preValidation: formGuard(app, deps.config),
    },
    async (req, reply) => {
      const f = req.body;
      const client = await resolveAppForRedirect(deps, f.app_id, f.redirect_uri);
      const request = { redirectUri: f.redirect_uri, authz: f.authz };
      const sso = readSsoCookie(deps.config, req);
      const answer = await answerConsent(deps, client, request, sso, f.decision, requestMeta(req)).catch(refuse(req, client, request));
      if (answer.kind === 'login') return renderLoginPage(reply, client, f, { config: deps.config });
      return reply.header('Cache-Control', 'no-store').redirect(answer.url, 303);
    },
  );
};
export default oidcConsentRoutes;
