// The hosted sign-in page (seed 000): GET /login renders the app's branded page, or, with a live SSO
// session and no prompt=login, returns straight to the app with fresh tokens. POST /login checks the
// password and redirects (303) to the registered redirect_uri with the tokens in the query.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Deps } from '../../deps.js';
import { resolveAppForRedirect } from '../../domain/apps/apps.js';
import { RULES } from '../../domain/rate-limits/rate-limits.js';
import { resumeSignIn, signInWithPassword } from '../../domain/sign-in/sign-in.js';
import { isSignInRefusal } from '../../domain/users/users.js';
import { formError } from '../error-handler.js';
import { renderLoginPage } from '../login-page.js';
import { FORM_BODY_LIMIT, formGuard, rateLimit } from '../plugins/guards.js';
import { requestMeta } from '../request-meta.js';
import { LoginForm, LoginQuery } from '../schemas/login.js';
import { answerSignIn } from '../sign-in-reply.js';
import { readDeviceCookie, readSsoCookie } from '../sso-cookie.js';

const loginRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  app.get('/login', { schema: { querystring: LoginQuery }, config: { errorFormat: 'html' } }, async (req, reply) => {
    const q = req.query;
    // The page needs the app whatever happens; an unknown app or callback is the plain error page.
    const client = await resolveAppForRedirect(deps, q.app_id, q.redirect_uri);
    if (q.prompt !== 'login') {
      const request = { redirectUri: q.redirect_uri, state: q.state };
      const resumed = await resumeSignIn(deps, client, request, readSsoCookie(deps.config, req), requestMeta(req));
      if (resumed) return answerSignIn(deps.config, reply, resumed);
    }
    return renderLoginPage(reply, client, q, { config: deps.config });
  });

  app.post(
    '/login',
    {
      schema: { body: LoginForm },
      config: { errorFormat: 'html', accepts: 'form' },
      bodyLimit: FORM_BODY_LIMIT,
      preValidation: formGuard(app, deps.config),
      preHandler: rateLimit(deps, RULES.loginAttemptsPerIp),
    },
    async (req, reply) => {
      const f = req.body;
      const client = await resolveAppForRedirect(deps, f.app_id, f.redirect_uri);
      const request = { redirectUri: f.redirect_uri, state: f.state, authz: f.authz };
      try {
        const credentials = { email: f.email, password: f.password };
        const outcome = await signInWithPassword(deps, client, request, credentials, requestMeta(req), readDeviceCookie(deps.config, req));
        return answerSignIn(deps.config, reply, outcome);
      } catch (err) {
        if (!isSignInRefusal(err)) throw err;
        const { message, status } = formError(reply, err);
        const unverified = err.reason === 'email_not_verified';
        return renderLoginPage(reply, client, f, { error: message, email: f.email, status, config: deps.config, unverified });
      }
    },
  );
};
export default loginRoutes;
