// Hosted account pages (seed 004's journeys for browsers): create account, verify email (the link in
// the email), forgot password and reset password (the link in the email). Every form carries a CSRF
// token; pages show the app's branding and end with "Continue to sign in" back to the app's /login.
// Every page, form and way back carries the pending sign-in the user left (issue 16): the app's state,
// or the sealed /authorize request, so that sign-in still ends with a code; the emails keep it with
// their token (emailLinkSignIn), so their links stay short. Links in emails are opened with GET,
// which only shows a button: mail scanners that prefetch links cannot spend the single-use token.
import { randomToken, safeEqual } from '../../lib/crypto.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Deps } from '../../deps.js';
import { FORM_BODY_LIMIT, formGuard } from '../plugins/guards.js';
import {
  confirmPasswordReset,
  emailLinkSignIn,
  registerAccount,
  requestPasswordReset,
  resetLinkAccount,
  requestVerificationEmail,
  resolveAccountApp,
  verifyEmailInBrowser,
  type AccountContext,
  type EmailLinkSignIn,
} from '../../domain/accounts/accounts.js';
import { findApp, resolveAppForRedirect, type App } from '../../domain/apps/apps.js';
import { AppError, appError } from '../../errors.js';
import { formError, signInOnError } from '../error-handler.js';
import { refuseSignInRequest, signInQuery } from '../login-page.js';
import { pageLocale, renderPage, type Text } from '../render.js';
import { requestMeta } from '../request-meta.js';
import { isAccessRefusal } from '../../domain/memberships/memberships.js';
import { isPushedRequestRequired, isSignInRequestRefusal, signInAfterVerification } from '../../domain/sign-in/sign-in.js';
import { answerSignIn } from '../sign-in-reply.js';
import { clearVerifyCookie, readVerifyCookie, setVerifyCookie } from '../sso-cookie.js';
import { ForgotForm, PageQuery, RegisterForm, ResetForm, TokenPageQuery, VerifyForm } from '../schemas/accounts.js';

interface PageContext {
  app: App | undefined;
  redirectUri: string | undefined;
  /** The pending sign-in the user left for this page (issue 16), carried on to the sign-in after it. */
  signIn: EmailLinkSignIn;
  /** Hidden fields that carry the context through a form. */
  hidden: Record<string, string>;
  signInUrl: string | undefined;
  uiLocales: string | undefined;
}

/** What a page or form names: the app, its callback, and the pending sign-in (state, sealed /authorize request). */
interface ContextFields {
  app_id?: string | undefined;
  redirect_uri?: string | undefined;
  state?: string | undefined;
  authz?: string | undefined;
  prompt?: string | undefined;
  ui_locales?: string | undefined;
}

/**
 * The app, its callback and the pending sign-in a page carries. An email link carries only the app
 * and callback; `stored` is the pending sign-in kept with its token, which wins over the query.
 */
async function pageContext(deps: Deps, f: ContextFields, stored: EmailLinkSignIn = {}): Promise<PageContext> {
  const { app_id: appId, redirect_uri: redirectUri } = f;
  let app: App | undefined;
  if (appId && redirectUri) app = await resolveAppForRedirect(deps, appId, redirectUri);
  else if (appId) {
    app = await findApp(deps, appId);
    if (!app) throw appError('unknown_app', { party: 'app' });
  } else app = await resolveAccountApp(deps, undefined);
  const callback = redirectUri ?? app?.redirectUris[0];
  const signIn: EmailLinkSignIn = {
    ...(f.state !== undefined && { state: f.state }),
    ...(f.authz !== undefined && { authz: f.authz }),
    ...(f.prompt === 'login' && { prompt: 'login' as const }),
    ...stored,
  };
  const hidden: Record<string, string> = {};
  if (app) hidden.app_id = app.appId;
  if (app && redirectUri) hidden.redirect_uri = redirectUri;
  // Without an app there is no sign-in to go back to, so nothing of it to carry either.
  if (app && signIn.state !== undefined) hidden.state = signIn.state;
  if (app && signIn.authz !== undefined) hidden.authz = signIn.authz;
  if (app && signIn.prompt !== undefined) hidden.prompt = signIn.prompt;
  // The journey's language (OIDC ui_locales) goes on with the pages, with or without an app.
  if (f.ui_locales !== undefined) hidden.ui_locales = f.ui_locales;
  const signInUrl =
    app && callback
      ? `/login?${signInQuery({ app_id: app.appId, redirect_uri: callback, ...signIn, ui_locales: f.ui_locales })}`
      : undefined;
  return { app, redirectUri, signIn, hidden, signInUrl, uiLocales: f.ui_locales };
}

/** What the domain keeps with an email token: where its link leads, and the pending sign-in it continues. */
const accountContext = (req: FastifyRequest, c: PageContext): AccountContext => ({
  appId: c.app?.appId,
  redirectUri: c.redirectUri,
  ...(c.app && c.signIn),
  // The page's language: the email is written in it, and a new account remembers it.
  locale: pageLocale(req, c.app, c.uiLocales),
});

/** Query string that carries the context from one page to the next. */
const carry = (c: PageContext) => (Object.keys(c.hidden).length ? `?${new URLSearchParams(c.hidden)}` : '');

function done(reply: FastifyReply, c: PageContext, title: string, message: Text) {
  return renderPage(reply, 'account-done.eta', { title, app: c.app, uiLocales: c.uiLocales, message, signInUrl: c.signInUrl });
}

const accountPageRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  const config = { errorFormat: 'html' as const };
  const p = deps.config.passwordPolicy;
  const policy = { min: p.minLength, max: p.maxLength, classes: p.requireClasses ? 'yes' : 'no' };

  const registerPage = (reply: FastifyReply, c: PageContext, opts: { error?: Text; name?: string; email?: string; status?: number } = {}) =>
    renderPage(
      reply,
      'register.eta',
      {
        title: 'account.registerTitle',
        app: c.app,
        uiLocales: c.uiLocales,
        csrfToken: reply.generateCsrf(),
        hidden: c.hidden,
        policy,
        signInUrl: c.signInUrl,
        ...opts,
      },
      opts.status ?? 200,
    );

  app.get('/account/register', { config, schema: { querystring: PageQuery } }, async (req, reply) => {
    return registerPage(reply, await pageContext(deps, req.query));
  });

  app.post(
    '/account/register',
    { config, schema: { body: RegisterForm }, preValidation: formGuard(app, deps.config), bodyLimit: FORM_BODY_LIMIT },
    async (req, reply) => {
      const f = req.body;
      const c = await pageContext(deps, f);
      if (!f.email || !f.password)
        return registerPage(reply, c, { error: { key: 'account.missingFields' }, name: f.name, email: f.email, status: 400 });
      // This browser's binding (km_verify): the link, opened here, signs the user in (POST /account/verify).
      const browserBinding = randomToken(32);
      try {
        await registerAccount(
          deps,
          { email: f.email, password: f.password, name: f.name || undefined },
          { ...accountContext(req, c), browserBinding },
          requestMeta(req),
        );
      } catch (err) {
        const { message, status } = formError(reply, err);
        return registerPage(reply, c, { error: message, name: f.name, email: f.email, status });
      }
      setVerifyCookie(deps.config, reply, browserBinding);
      return done(reply, c, 'account.checkEmailTitle', { key: 'account.registered', values: { email: f.email } });
    },
  );

  const verifyPage = (reply: FastifyReply, c: PageContext, token: string) =>
    renderPage(reply, 'verify.eta', {
      title: 'account.verifyTitle',
      app: c.app,
      uiLocales: c.uiLocales,
      csrfToken: reply.generateCsrf(),
      hidden: { ...c.hidden, token },
    });

  app.get('/account/verify', { config, schema: { querystring: TokenPageQuery } }, async (req, reply) => {
    const stored = await emailLinkSignIn(deps, req.query.token, 'verify');
    return verifyPage(reply, await pageContext(deps, req.query, stored), req.query.token);
  });

  app.post(
    '/account/verify',
    { config, schema: { body: VerifyForm }, preValidation: formGuard(app, deps.config), bodyLimit: FORM_BODY_LIMIT },
    async (req, reply) => {
      const c = await pageContext(deps, req.body);
      let verified: Awaited<ReturnType<typeof verifyEmailInBrowser>>;
      try {
        verified = await verifyEmailInBrowser(
          deps,
          { token: req.body.token, browserBinding: readVerifyCookie(deps.config, req) },
          requestMeta(req),
        );
      } catch (err) {
        const { status } = formError(reply, err);
        return renderPage(
          reply,
          'account-done.eta',
          {
            title: 'account.linkExpiredTitle',
            app: c.app,
            uiLocales: c.uiLocales,
            error: { key: 'account.verifyLinkDead' },
            retryUrl: `/account/verify/resend${carry(c)}`,
            signInUrl: c.signInUrl,
          },
          status,
        );
      }
      // The browser that registered: signed in, on to the app through the flow that started it (a code,
      // the consent page, or tokens). A request that can no longer be used falls back to "sign in".
      if (verified.sameBrowser && c.app) {
        const request = { redirectUri: c.redirectUri ?? c.app.redirectUris[0]!, ...c.signIn };
        const { state, authz } = c.signIn;
        signInOnError(req, { app: c.app, redirectUri: request.redirectUri, state, authz, uiLocales: c.uiLocales });
        try {
          const outcome = await signInAfterVerification(deps, c.app, verified.user, request, requestMeta(req));
          clearVerifyCookie(deps.config, reply);
          return answerSignIn(deps.config, reply, outcome);
        } catch (err) {
          // Refused by the app's access rule: its membership page, back to an OIDC client with access_denied.
          if (authz !== undefined && isAccessRefusal(err)) refuseSignInRequest(deps, req, c.app, request.redirectUri, authz, err);
          // A stale request, or an app that requires pushed requests without one: "verified, sign in".
          if (!isSignInRequestRefusal(err) && !isPushedRequestRequired(err)) throw err;
        }
      }
      return done(reply, c, 'account.verifiedTitle', { key: 'account.verified' });
    },
  );

  /** A page whose form asks for an email only (forgot password, send a new verification link). */
  const emailFormPage =
    (view: string, title: string) =>
    (reply: FastifyReply, c: PageContext, opts: { error?: Text; email?: string; status?: number } = {}) =>
      renderPage(
        reply,
        view,
        { title, app: c.app, uiLocales: c.uiLocales, csrfToken: reply.generateCsrf(), hidden: c.hidden, signInUrl: c.signInUrl, ...opts },
        opts.status ?? 200,
      );
  const resendPage = emailFormPage('verify-resend.eta', 'account.verifyTitle');

  app.get('/account/verify/resend', { config, schema: { querystring: PageQuery } }, async (req, reply) => {
    return resendPage(reply, await pageContext(deps, req.query));
  });

  app.post(
    '/account/verify/resend',
    { config, schema: { body: ForgotForm }, preValidation: formGuard(app, deps.config), bodyLimit: FORM_BODY_LIMIT },
    async (req, reply) => {
      const f = req.body;
      const c = await pageContext(deps, f);
      if (!f.email) return resendPage(reply, c, { error: { key: 'account.enterEmail' }, status: 400 });
      const browserBinding = randomToken(32);
      try {
        await requestVerificationEmail(deps, { email: f.email }, { ...accountContext(req, c), browserBinding }, requestMeta(req, reply));
      } catch (err) {
        const { message, status } = formError(reply, err);
        return resendPage(reply, c, { error: message, email: f.email, status });
      }
      // The same page (and cookie) whether the email has an account, is verified already, or not.
      setVerifyCookie(deps.config, reply, browserBinding);
      return done(reply, c, 'account.checkEmailTitle', { key: 'account.resent', values: { hours: deps.config.verifyTokenTtlHours } });
    },
  );

  const forgotPage = emailFormPage('forgot-password.eta', 'account.forgotTitle');

  app.get('/account/forgot-password', { config, schema: { querystring: PageQuery } }, async (req, reply) => {
    return forgotPage(reply, await pageContext(deps, req.query));
  });

  app.post(
    '/account/forgot-password',
    { config, schema: { body: ForgotForm }, preValidation: formGuard(app, deps.config), bodyLimit: FORM_BODY_LIMIT },
    async (req, reply) => {
      const f = req.body;
      const c = await pageContext(deps, f);
      if (!f.email) return forgotPage(reply, c, { error: { key: 'account.enterEmail' }, status: 400 });
      try {
        await requestPasswordReset(deps, { email: f.email }, accountContext(req, c), requestMeta(req, reply));
      } catch (err) {
        const { message, status } = formError(reply, err);
        return forgotPage(reply, c, { error: message, email: f.email, status });
      }
      // The same page whether or not the email has an account.
      return done(reply, c, 'account.checkEmailTitle', {
        key: 'account.resetSent',
        values: { minutes: deps.config.resetTokenTtlMinutes },
      });
    },
  );

  const deadResetLink = (reply: FastifyReply, c: PageContext, status: number) =>
    renderPage(
      reply,
      'account-done.eta',
      {
        title: 'account.linkExpiredTitle',
        app: c.app,
        uiLocales: c.uiLocales,
        error: { key: 'account.resetLinkDead' },
        retryUrl: `/account/forgot-password${carry(c)}`,
        signInUrl: c.signInUrl,
      },
      status,
    );

  // The account's email rides along as a hidden username field, so a password manager saves the new
  // password under the right account (it is not submitted: it has no name).
  const resetPage = async (reply: FastifyReply, c: PageContext, token: string, opts: { error?: Text; status?: number } = {}) => {
    const account = await resetLinkAccount(deps, token);
    if (!account) return deadResetLink(reply, c, 400);
    return renderPage(
      reply,
      'reset-password.eta',
      {
        title: 'account.resetTitle',
        app: c.app,
        uiLocales: c.uiLocales,
        csrfToken: reply.generateCsrf(),
        hidden: { ...c.hidden, token },
        username: account.email,
        policy,
        ...opts,
      },
      opts.status ?? 200,
    );
  };

  app.get('/account/reset-password', { config, schema: { querystring: TokenPageQuery } }, async (req, reply) => {
    const stored = await emailLinkSignIn(deps, req.query.token, 'reset');
    return resetPage(reply, await pageContext(deps, req.query, stored), req.query.token);
  });

  app.post(
    '/account/reset-password',
    { config, schema: { body: ResetForm }, preValidation: formGuard(app, deps.config), bodyLimit: FORM_BODY_LIMIT },
    async (req, reply) => {
      const f = req.body;
      const c = await pageContext(deps, f);
      if (!safeEqual(f.new_password, f.confirm_password))
        return resetPage(reply, c, f.token, { error: { key: 'account.passwordsDiffer' }, status: 400 });
      try {
        await confirmPasswordReset(deps, { token: f.token, newPassword: f.new_password }, accountContext(req, c), requestMeta(req));
      } catch (err) {
        const { message, status } = formError(reply, err);
        if (err instanceof AppError && err.reason === 'password_too_weak') return resetPage(reply, c, f.token, { error: message, status });
        return deadResetLink(reply, c, status);
      }
      return done(reply, c, 'account.changedTitle', { key: 'account.changed' });
    },
  );
};
export default accountPageRoutes;
