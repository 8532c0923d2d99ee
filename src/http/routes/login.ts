// The hosted sign-in page (seed 000): GET /login renders the app's branded page, or, with a live SSO
// session and no prompt=login, returns straight to the app with fresh tokens. POST /login checks the
// password and redirects (303) to the registered redirect_uri with the tokens in the query.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Config } from '../../config.js';
import type { Deps } from '../../deps.js';
import { resolveAppForRedirect, type App } from '../../domain/apps/apps.js';
import { issueCodeRedirect, openPending } from '../../domain/oidc/authorization.js';
import { resumeSession, startSession } from '../../domain/sessions/sessions.js';
import { issueTokenSet, type TokenSet } from '../../domain/tokens/refresh-tokens.js';
import { authenticatePassword, isSignInRefusal, type User } from '../../domain/users/users.js';
import { RULES } from '../../domain/rate-limits/rate-limits.js';
import { appError } from '../../errors.js';
import { formError } from '../error-handler.js';
import { FORM_BODY_LIMIT, formGuard, rateLimit } from '../plugins/guards.js';
import { renderPage } from '../render.js';
import { requestMeta } from '../request-meta.js';
import { LoginForm, LoginQuery } from '../schemas/login.js';
import { readSsoCookie, setSsoCookie } from '../sso-cookie.js';
import { upstreamLinks } from '../upstream-links.js';

export interface LoginParams {
  app_id: string;
  redirect_uri: string;
  state?: string | undefined;
  /** A sealed OIDC authorization request (/authorize): sign-in then ends with a code, not tokens. */
  authz?: string | undefined;
}

export function renderLoginPage(
  reply: FastifyReply,
  app: App,
  params: LoginParams,
  // `config` turns on the "Continue with Google" link when Google is configured and enabled for the app.
  opts: { error?: string; email?: string; status?: number; config?: Pick<Config, 'google'> } = {},
) {
  const hidden: Record<string, string> = { app_id: params.app_id, redirect_uri: params.redirect_uri };
  if (params.state !== undefined) hidden.state = params.state;
  if (params.authz !== undefined) hidden.authz = params.authz;
  return renderPage(
    reply,
    'login.eta',
    {
      title: 'Sign in',
      app,
      action: '/login',
      csrfToken: reply.generateCsrf(),
      hidden,
      providers: app.providers,
      upstreamLinks: upstreamLinks(opts.config, app, params),
      error: opts.error,
      email: opts.email,
      links: accountLinks(app, params),
    },
    opts.status ?? 200,
  );
}

/** "Create account" and "Forgot password?" carry the app and callback, so the user comes back to this page. */
function accountLinks(app: App, params: LoginParams): { href: string; label: string }[] {
  if (!app.providers.includes('password')) return [];
  const q = new URLSearchParams({ app_id: params.app_id, redirect_uri: params.redirect_uri }).toString();
  return [
    { href: `/account/register?${q}`, label: 'Create account' },
    { href: `/account/forgot-password?${q}`, label: 'Forgot password?' },
  ];
}

/** 303 to the app's callback with the tokens (and state) in the query, as the quick start documents. */
function redirectWithTokens(reply: FastifyReply, redirectUri: string, tokens: TokenSet, state: string | undefined) {
  const url = new URL(redirectUri);
  url.searchParams.set('access_token', tokens.access_token);
  url.searchParams.set('refresh_token', tokens.refresh_token);
  url.searchParams.set('token_type', tokens.token_type);
  url.searchParams.set('expires_in', String(tokens.expires_in));
  if (state !== undefined) url.searchParams.set('state', state);
  return reply.header('Cache-Control', 'no-store').redirect(url.toString(), 303);
}

export async function completeSignIn(deps: Deps, req: FastifyRequest, reply: FastifyReply, app: App, user: User, params: LoginParams) {
  const meta = requestMeta(req);
  // Open the pending authorization request before anything is written: a bad one is an error page.
  const pending = params.authz !== undefined ? openPending(deps, params.authz) : undefined;
  const { cookieValue, session } = await startSession(deps, user.id, meta);
  setSsoCookie(deps.config, reply, cookieValue);
  if (pending) {
    const url = await issueCodeRedirect(deps, app, user, pending, { sessionId: session.id, authTime: session.auth_time });
    return reply.header('Cache-Control', 'no-store').redirect(url, 303);
  }
  const tokens = await issueTokenSet(deps, user, app, { sessionId: session.id, authTime: session.auth_time }, meta);
  return redirectWithTokens(reply, params.redirect_uri, tokens, params.state);
}

const loginRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  app.get('/login', { schema: { querystring: LoginQuery }, config: { errorFormat: 'html' } }, async (req, reply) => {
    const q = req.query;
    const client = await resolveAppForRedirect(deps, q.app_id, q.redirect_uri);
    if (q.prompt !== 'login') {
      const resumed = await resumeSession(deps, readSsoCookie(deps.config, req));
      if (resumed) {
        const tokens = await issueTokenSet(
          deps,
          resumed.user,
          client,
          { sessionId: resumed.session.id, authTime: resumed.session.auth_time },
          requestMeta(req),
        );
        return redirectWithTokens(reply, q.redirect_uri, tokens, q.state);
      }
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
      if (!client.providers.includes('password')) throw appError('password_login_disabled');
      if (f.authz !== undefined) {
        const pending = openPending(deps, f.authz);
        if (pending.clientId !== client.appId || pending.redirectUri !== f.redirect_uri) throw appError('sign_in_request_mismatch');
      }
      if (!f.email || !f.password) {
        return renderLoginPage(reply, client, f, {
          error: 'Enter your email and password.',
          email: f.email,
          status: 400,
          config: deps.config,
        });
      }
      try {
        const user = await authenticatePassword(deps, { email: f.email, password: f.password, appId: client.appId }, requestMeta(req));
        return await completeSignIn(deps, req, reply, client, user, f);
      } catch (err) {
        if (!isSignInRefusal(err)) throw err;
        const { message, status } = formError(reply, err);
        return renderLoginPage(reply, client, f, { error: message, email: f.email, status, config: deps.config });
      }
    },
  );
};
export default loginRoutes;
