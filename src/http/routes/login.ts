// The hosted sign-in page (seed 000): GET /login renders the app's branded page, or, with a live SSO
// session and no prompt=login, returns straight to the app with fresh tokens. POST /login checks the
// password and redirects (303) to the registered redirect_uri with the tokens in the query, or, when
// the form carries a sealed /authorize request (authz), with an authorization code. GET /login takes
// that request back from the account pages (issue 16): it is checked first and never answered with
// tokens; a broken one is the error page, back to the client's callback with an error.
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Deps } from '../../deps.js';
import { assertKeymasterFlowApp, resolveAppForRedirect, type App } from '../../domain/apps/apps.js';
import { RULES } from '../../domain/rate-limits/rate-limits.js';
import {
  assertSignInRequest,
  isPushedRequestRequired,
  isSignInRequestRefusal,
  resumeSignIn,
  signInWithPassword,
  signInWithSecondFactor,
} from '../../domain/sign-in/sign-in.js';
import { AppError } from '../../errors.js';
import { isSignInRefusal } from '../../domain/users/users.js';
import { isAccessRefusal } from '../../domain/memberships/memberships.js';
import { formError, signInOnError } from '../error-handler.js';
import { refusePushedRequired, refuseSignInRequest, renderLoginPage, renderTotpPage, type LoginParams } from '../login-page.js';
import { FORM_BODY_LIMIT, formGuard, rateLimit } from '../plugins/guards.js';
import { pageLocale } from '../render.js';
import { requestMeta } from '../request-meta.js';
import { LoginForm, LoginQuery, TotpLoginForm } from '../schemas/login.js';
import { answerSignIn } from '../sign-in-reply.js';
import { readDeviceCookie, readSsoCookie } from '../sso-cookie.js';

const loginRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  const refuseRequest = (req: FastifyRequest, client: App, redirectUri: string, authz: string, err: unknown): never =>
    refuseSignInRequest(deps, req, client, redirectUri, authz, err);

  app.get('/login', { schema: { querystring: LoginQuery }, config: { errorFormat: 'html' } }, async (req, reply) => {
    const q = req.query;
    // The page needs the app whatever happens; an unknown app or callback is the plain error page.
    const client = await resolveAppForRedirect(deps, q.app_id, q.redirect_uri);
    signInOnError(req, hostedSignIn(client, q));
    if (q.authz === undefined && client.requirePushedAuthorizationRequests) {
      // RFC 9126 §6: this app's sign-ins start at /par; the SSO fast path below would skip it too.
      try {
        assertSignInRequest(deps, client, { redirectUri: q.redirect_uri });
      } catch (err) {
        if (isPushedRequestRequired(err)) refusePushedRequired(deps, req, client, q.redirect_uri, q.state, err);
        throw err;
      }
    }
    if (q.authz !== undefined) {
      // Back from a detour (create account, forgot password) in the middle of /authorize: the request
      // must still be good, and it is answered by a sign-in on this form (/authorize already decided
      // the session would not do: prompt=login, max_age), so no SSO resume here.
      try {
        assertSignInRequest(deps, client, { redirectUri: q.redirect_uri, authz: q.authz });
      } catch (err) {
        if (isSignInRequestRefusal(err)) refuseRequest(req, client, q.redirect_uri, q.authz, err);
        throw err;
      }
    } else if (q.prompt === 'login') {
      // Keymaster's own flow: refused for a third-party app (resumeSignIn refuses it otherwise).
      assertKeymasterFlowApp(client);
    } else {
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
      signInOnError(req, hostedSignIn(client, f));
      const request = { redirectUri: f.redirect_uri, state: f.state, authz: f.authz, locale: pageLocale(req, client, f.ui_locales) };
      try {
        const credentials = { email: f.email, password: f.password };
        const outcome = await signInWithPassword(deps, client, request, credentials, requestMeta(req), readDeviceCookie(deps.config, req));
        // TOTP on (issue 17): the code page, carrying the pending sign-in; no session, no tokens yet.
        if (outcome.kind === 'second_factor_required') return renderTotpPage(reply, client, { ...f, totp_session: outcome.totpSession });
        return answerSignIn(deps.config, reply, outcome);
      } catch (err) {
        if (f.authz !== undefined && (isSignInRequestRefusal(err) || isAccessRefusal(err)))
          refuseRequest(req, client, f.redirect_uri, f.authz, err);
        if (isPushedRequestRequired(err)) refusePushedRequired(deps, req, client, f.redirect_uri, f.state, err);
        if (!isSignInRefusal(err)) throw err;
        const { message, status } = formError(reply, err);
        const unverified = err.reason === 'email_not_verified';
        return renderLoginPage(reply, client, f, { error: message, email: f.email, status, config: deps.config, unverified });
      }
    },
  );

  /**
   * The code page's post (issue 17): the TOTP or a recovery code for the pending sign-in. A wrong code
   * is the page again (401); a spent, expired or foreign totp_session, or too many codes, is the
   * error page, whose way back is the sign-in form (or the client's callback for /authorize).
   */
  app.post(
    '/login/totp',
    {
      schema: { body: TotpLoginForm },
      config: { errorFormat: 'html', accepts: 'form' },
      bodyLimit: FORM_BODY_LIMIT,
      preValidation: formGuard(app, deps.config),
      preHandler: rateLimit(deps, RULES.loginAttemptsPerIp),
    },
    async (req, reply) => {
      const f = req.body;
      const client = await resolveAppForRedirect(deps, f.app_id, f.redirect_uri);
      signInOnError(req, hostedSignIn(client, f));
      const request = { redirectUri: f.redirect_uri, state: f.state, authz: f.authz, locale: pageLocale(req, client, f.ui_locales) };
      const recovery = f.code === '' && f.recovery_code !== '';
      try {
        const code = recovery ? f.recovery_code : f.code;
        const outcome = await signInWithSecondFactor(
          deps,
          client,
          request,
          f.totp_session,
          code,
          requestMeta(req),
          readDeviceCookie(deps.config, req),
        );
        return answerSignIn(deps.config, reply, outcome);
      } catch (err) {
        // Anything but a wrong code ends this sign-in: the error page, back to the client (/authorize)
        // or to the app's sign-in page (the error page's default way back).
        if (!(err instanceof AppError) || err.reason !== 'totp_code_invalid') {
          if (f.authz !== undefined && err instanceof AppError) refuseRequest(req, client, f.redirect_uri, f.authz, err);
          throw err;
        }
        const { message, status } = formError(reply, err);
        return renderTotpPage(reply, client, f, { error: message, status, recovery });
      }
    },
  );
};
export default loginRoutes;

/** The sign-in a refused membership's page offers again (error-handler.ts signInOnError). */
const hostedSignIn = (client: App, p: LoginParams) => ({
  app: client,
  redirectUri: p.redirect_uri,
  state: p.state,
  authz: p.authz,
  uiLocales: p.ui_locales,
});
