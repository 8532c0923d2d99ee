// Sign in with Google (any upstream OpenID provider): GET /login/google starts the upstream flow (302),
// GET /login/google/callback finishes it and then continues exactly like password sign-in (SSO session,
// tokens, 303 to the app's redirect_uri). Failures after the app is known end on the app's branded
// error page with a link back to its sign-in page; nothing the upstream does ends in a 500.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Deps } from '../../deps.js';
import { resolveAppForRedirect, type App } from '../../domain/apps/apps.js';
import { assertPushedIfRequired, isPushedRequestRequired, signInWithUpstream } from '../../domain/sign-in/sign-in.js';
import { claimUpstreamFlow, FLOW_TTL_MS, startUpstreamLogin } from '../../domain/upstream/upstream-login.js';
import type { UpstreamProviderName } from '../../domain/upstream/upstream-providers.js';
import { AppError } from '../../errors.js';
import { isAccessRefusal } from '../../domain/memberships/memberships.js';
import { pageText, signInOnError, wireError } from '../error-handler.js';
import { refusePushedRequired, refuseSignInRequest, type LoginParams } from '../login-page.js';
import { cookieName } from '../plugins/web.js';
import { renderPage } from '../render.js';
import { requestMeta } from '../request-meta.js';
import { LoginQuery } from '../schemas/login.js';
import { answerSignIn } from '../sign-in-reply.js';
import { readDeviceCookie } from '../sso-cookie.js';

/** /authorize's sign-in page passes its sealed request along, so the flow ends with a code. */
const StartQuery = LoginQuery.extend({ authz: z.string().max(8000, 'is too long').optional() });

// Bounds what we read; other parameters an upstream adds (Google's authuser, hd, prompt) pass through
// untouched to openid-client, which reads the full callback URL.
const CallbackQuery = z.object({
  code: z.string().max(2000).optional(),
  state: z.string().max(1000).optional(),
  error: z.string().max(200).optional(),
  error_description: z.string().max(2000).optional(),
  iss: z.string().max(2000).optional(),
});

const PROVIDER: UpstreamProviderName = 'google';

const upstreamLoginRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  const flowCookie = cookieName(deps.config, 'km_upstream');
  const cookieOpts = { path: '/', httpOnly: true, sameSite: 'lax' as const, secure: deps.config.secureCookies };

  app.get(`/login/${PROVIDER}`, { schema: { querystring: StartQuery }, config: { errorFormat: 'html' } }, async (req, reply) => {
    const q = req.query;
    // Unknown app or unregistered redirect_uri: the plain error page (no link back to a URI we refuse).
    const client = await resolveAppForRedirect(deps, q.app_id, q.redirect_uri);
    try {
      assertPushedIfRequired(client, q.authz);
    } catch (err) {
      if (isPushedRequestRequired(err)) refusePushedRequired(deps, req, client, q.redirect_uri, q.state, err);
      throw err;
    }
    try {
      const started = await startUpstreamLogin(
        deps,
        PROVIDER,
        client,
        { redirectUri: q.redirect_uri, state: q.state, authz: q.authz },
        requestMeta(req),
      );
      reply.setCookie(flowCookie, started.cookieValue, { ...cookieOpts, maxAge: FLOW_TTL_MS / 1000 });
      return reply.header('Cache-Control', 'no-store').redirect(started.authorizationUrl, 302);
    } catch (err) {
      return renderUpstreamError(deps, req, reply, err, client, q);
    }
  });

  app.get(
    `/login/${PROVIDER}/callback`,
    { schema: { querystring: CallbackQuery }, config: { errorFormat: 'html' } },
    async (req, reply) => {
      const cookieValue = req.cookies[flowCookie];
      reply.clearCookie(flowCookie, cookieOpts);
      const flow = await claimUpstreamFlow(deps, PROVIDER, cookieValue);
      const params: LoginParams = {
        app_id: flow.app.appId,
        redirect_uri: flow.client.redirectUri,
        state: flow.client.state,
        authz: flow.client.authz,
      };
      try {
        const outcome = await signInWithUpstream(
          deps,
          flow,
          new URL(req.url, deps.config.issuer),
          requestMeta(req),
          readDeviceCookie(deps.config, req),
        );
        return answerSignIn(deps.config, reply, outcome);
      } catch (err) {
        return renderUpstreamError(deps, req, reply, err, flow.app, params);
      }
    },
  );
};
export default upstreamLoginRoutes;

/** The app's branded error page with "Go back" to its sign-in page; anything unexpected is rethrown. */
function renderUpstreamError(
  deps: Pick<Deps, 'secret' | 'config'>,
  req: FastifyRequest,
  reply: FastifyReply,
  err: unknown,
  app: App,
  params: LoginParams,
) {
  if (!(err instanceof AppError) || err.code === 'server_error') throw err;
  // The app's access rule refused the user: the app's membership page (error-handler.ts).
  const refused: boolean = isAccessRefusal(err);
  if (refused) {
    signInOnError(req, { app, redirectUri: params.redirect_uri, state: params.state, authz: params.authz });
    // An /authorize request: the way back is the client's callback with access_denied (this throws err).
    if (params.authz !== undefined) refuseSignInRequest(deps, req, app, params.redirect_uri, params.authz, err);
    throw err;
  }
  const wire = wireError('html', err);
  req.log.info(
    { event: 'upstream_login.failed', code: err.code, reason: err.reason, status: wire.status, detail: err.detail ?? err.description },
    'upstream sign-in failed',
  );
  if (err.retryAfter !== undefined) reply.header('Retry-After', String(err.retryAfter));
  const back = new URLSearchParams({ app_id: params.app_id, redirect_uri: params.redirect_uri });
  if (params.state !== undefined) back.set('state', params.state);
  return renderPage(reply, 'error.eta', { title: 'error.titleUpstream', app, message: pageText(err), back: `/login?${back}` }, wire.status);
}
