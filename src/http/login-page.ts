// The hosted sign-in page, drawn by GET/POST /login and by /authorize when the user must sign in.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import type { Deps } from '../deps.js';
import { isRegisteredRedirectUri, type App } from '../domain/apps/apps.js';
import { isAccessRefusal } from '../domain/memberships/memberships.js';
import { abandonedRequestRedirect, errorRedirect } from '../domain/oidc/authorization.js';
import { wayBackOnError } from './error-handler.js';
import { renderPage, type Text } from './render.js';
import { upstreamLinks } from './upstream-links.js';

export interface LoginParams {
  app_id: string;
  redirect_uri: string;
  state?: string | undefined;
  /** A sealed OIDC authorization request (/authorize): sign-in then ends with a code, not tokens. */
  authz?: string | undefined;
  /** Keymaster's flow: prompt=login (a fresh sign-in, no SSO resume) is carried through the detours too. */
  prompt?: string | undefined;
  /**
   * OIDC ui_locales (Core §3.1.2.1): the language the client asked for, carried with the pending
   * sign-in through every page of the journey (and beating Accept-Language on each).
   */
  ui_locales?: string | undefined;
}

export function renderLoginPage(
  reply: FastifyReply,
  app: App,
  params: LoginParams,
  // `config` turns on the "Continue with Google" link when Google is configured and enabled for the app.
  // `unverified`: the refusal was "Email not verified": the way out (a new link) comes first.
  opts: { error?: Text; email?: string; status?: number; config?: Pick<Config, 'google'>; unverified?: boolean } = {},
) {
  const hidden: Record<string, string> = { app_id: params.app_id, redirect_uri: params.redirect_uri };
  if (params.state !== undefined) hidden.state = params.state;
  if (params.authz !== undefined) hidden.authz = params.authz;
  if (params.prompt === 'login') hidden.prompt = 'login';
  if (params.ui_locales !== undefined) hidden.ui_locales = params.ui_locales;
  const form = { action: '/login', hidden, title: 'login.title', heading: 'login.heading', uiLocales: params.ui_locales };
  return renderSignInForm(reply, app, form, opts.status ?? 200, {
    upstreamLinks: upstreamLinks(opts.config, app, params),
    error: opts.error,
    email: opts.email,
    links: accountLinks(app, params, opts.unverified === true),
  });
}

/**
 * The same sign-in form posted elsewhere with other hidden fields: the /device page's sign-in
 * (RFC 8628 §3.3), which opens the SSO session only. Password sign-in alone: the detours and upstream
 * providers carry a callback sign-in, which a device request has not.
 */
export function renderDeviceSignInPage(
  reply: FastifyReply,
  app: App,
  form: { action: string; hidden: Record<string, string>; title: string; heading?: string },
  opts: { error?: Text; email?: string; status?: number } = {},
) {
  return renderSignInForm(reply, app, form, opts.status ?? 200, { error: opts.error, email: opts.email });
}

/** The sign-in form; `title` and `heading` are message keys (src/i18n/catalog.ts). */
function renderSignInForm(
  reply: FastifyReply,
  app: App,
  form: { action: string; hidden: Record<string, string>; title: string; heading?: string | undefined; uiLocales?: string | undefined },
  status: number,
  extra: { error?: Text | undefined; email?: string | undefined; upstreamLinks?: unknown; links?: unknown },
) {
  return renderPage(
    reply,
    'login.eta',
    {
      title: form.title,
      heading: form.heading ?? form.title,
      app,
      uiLocales: form.uiLocales,
      action: form.action,
      csrfToken: reply.generateCsrf(),
      hidden: form.hidden,
      providers: app.providers,
      ...extra,
    },
    status,
  );
}

/**
 * The code page after the password (issue 17): the pending sign-in travels on as the sign-in form's
 * hidden fields do, with the sealed totp_session; a recovery code goes in its own field, behind a
 * <details> toggle (no script).
 */
export function renderTotpPage(
  reply: FastifyReply,
  app: App,
  params: LoginParams & { totp_session: string },
  opts: { error?: Text; status?: number; recovery?: boolean } = {},
) {
  const hidden: Record<string, string> = { app_id: params.app_id, redirect_uri: params.redirect_uri, totp_session: params.totp_session };
  if (params.state !== undefined) hidden.state = params.state;
  if (params.authz !== undefined) hidden.authz = params.authz;
  if (params.ui_locales !== undefined) hidden.ui_locales = params.ui_locales;
  return renderCodePage(reply, { app, uiLocales: params.ui_locales, action: '/login/totp', hidden }, opts);
}

/** The same code page for the sign-ins that open only a session (/account, /device): their own action and hidden fields. */
export function renderCodePage(
  reply: FastifyReply,
  page: { app?: App | undefined; uiLocales?: string | undefined; action: string; hidden: Record<string, string> },
  opts: { error?: Text | undefined; status?: number | undefined; recovery?: boolean | undefined } = {},
) {
  return renderPage(
    reply,
    'login-totp.eta',
    {
      title: 'totp.title',
      heading: 'totp.heading',
      ...(page.app && { app: page.app }),
      uiLocales: page.uiLocales,
      action: page.action,
      csrfToken: reply.generateCsrf(),
      hidden: page.hidden,
      error: opts.error,
      recovery: opts.recovery === true,
    },
    opts.status ?? 200,
  );
}

/**
 * The query that carries the pending sign-in from page to page (issue 16): the app and callback, and
 * the app's state or the sealed /authorize request, so the sign-in at the end of any detour answers
 * through the flow that started it (a code for /authorize, never tokens).
 */
export function signInQuery(params: LoginParams): URLSearchParams {
  const q = new URLSearchParams({ app_id: params.app_id, redirect_uri: params.redirect_uri });
  if (params.state !== undefined) q.set('state', params.state);
  if (params.authz !== undefined) q.set('authz', params.authz);
  if (params.prompt === 'login') q.set('prompt', 'login');
  if (params.ui_locales !== undefined) q.set('ui_locales', params.ui_locales);
  return q;
}

/** "Create account" and "Forgot password?" carry the whole pending sign-in, so the user comes back to this page. */
function accountLinks(app: App, params: LoginParams, unverified: boolean): { href: string; label: Text }[] {
  if (!app.providers.includes('password')) return [];
  const q = signInQuery(params).toString();
  return [
    ...(unverified ? [{ href: `/account/verify/resend?${q}`, label: { key: 'login.resendVerification' } }] : []),
    { href: `/account/register?${q}`, label: { key: 'login.createAccount' } },
    { href: `/account/forgot-password?${q}`, label: { key: 'login.forgotPassword' } },
  ];
}

/**
 * A sealed /authorize request that cannot be used (expired, tampered with, another client's) is
 * refused on the branded error page, whose way back is the client's callback with an error (the
 * client starts again): never a sign-in that would end with tokens.
 */
export function refuseSignInRequest(
  deps: Pick<Deps, 'secret' | 'config'>,
  req: FastifyRequest,
  client: App,
  redirectUri: string,
  authz: string,
  err: unknown,
): never {
  // The app's access rule (memberships.ts) refused the user: the client hears access_denied, and why.
  const href = abandonedRequestRedirect(deps, client, redirectUri, authz, ...(isAccessRefusal(err) ? [err.description] : []));
  if (href) wayBackOnError(req, { href, label: { key: 'error.backToApp', values: { app: client.name } } });
  throw err;
}

/**
 * A sign-in for an app that requires pushed requests, without one (RFC 9126 §6): the branded error
 * page, whose way back is the client's callback with invalid_request, so the client starts again
 * through /par. Never the sign-in page (it would refuse again).
 */
export function refusePushedRequired(
  deps: Pick<Deps, 'config'>,
  req: FastifyRequest,
  client: App,
  redirectUri: string,
  state: string | undefined,
  err: unknown,
): never {
  if (isRegisteredRedirectUri(client, redirectUri)) {
    const back = errorRedirect(deps, redirectUri, 'invalid_request', 'This client requires pushed authorization requests', state);
    if (back.kind === 'redirect') wayBackOnError(req, { href: back.url, label: { key: 'error.backToApp', values: { app: client.name } } });
  }
  throw err;
}
