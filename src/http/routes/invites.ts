// Accepting an invite (issue 14): POST /auth/accept-invite (Keymaster's shape) and the same at
// /api/v1/auth/accept-invite, answered like a login (tokens and the user, or totp_required). The
// hosted page the invite email links to is GET/POST /invite.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { findApp, getApp, type App } from '../../domain/apps/apps.js';
import { acceptInvite, findOpenInvite } from '../../domain/invites/invites.js';
import { endSession, resumeSession, startSession } from '../../domain/sessions/sessions.js';
import { isTotpEnabled } from '../../domain/totp/totp.js';
import { authenticatePassword, findUserRecordByEmail, type User } from '../../domain/users/users.js';
import { AppError, appError } from '../../errors.js';
import { formError } from '../error-handler.js';
import { FORM_BODY_LIMIT, formGuard, JSON_BODY_LIMIT } from '../plugins/guards.js';
import { renderPage, type Text } from '../render.js';
import { clearSsoCookie, readSsoCookie, setSsoCookie } from '../sso-cookie.js';
import { z } from 'zod';
import type { Deps } from '../../deps.js';
import { acceptInviteAndSignIn } from '../../domain/invites/accept.js';
import { bearerToken } from '../bearer.js';
import { verifyLiveAccessToken } from '../../domain/tokens/liveness.js';
import { requestMeta } from '../request-meta.js';
import { AppId } from '../schemas/keymaster.js';
import { LoginResponse } from '../schemas/accounts.js';
import { accountTokensJson, accountUserJson } from '../token-responses.js';

export const AcceptInviteBody = z.object({
  app_id: AppId,
  invite_code: z.string().trim().min(1, 'is required').max(200, 'is too long'),
  email: z.string().trim().min(1, 'is required').max(254, 'is too long'),
  display_name: z.string().trim().min(1, 'must not be empty').max(200, 'is too long').optional(),
  password: z.string().min(1, 'is required').max(1024, 'is too long').optional(),
});

const inviteRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  const config = { errorFormat: 'detail' as const, accepts: 'json' as const };
  for (const url of ['/auth/accept-invite', '/api/v1/auth/accept-invite']) {
    app.post(
      url,
      { config, bodyLimit: JSON_BODY_LIMIT, schema: { body: AcceptInviteBody, response: { 200: LoginResponse } } },
      async (req, reply) => {
        reply.header('Cache-Control', 'no-store');
        const b = req.body;
        // Being signed in (a live access token) proves an existing account as its password would.
        const token = bearerToken(req);
        const signedInUserId = token ? (await verifyLiveAccessToken(deps, token)).sub : undefined;
        const outcome = await acceptInviteAndSignIn(
          deps,
          { appId: b.app_id, code: b.invite_code, email: b.email, name: b.display_name, password: b.password, signedInUserId },
          requestMeta(req),
        );
        if (outcome.kind === 'totp_required') return { status: 'totp_required' as const, totp_session: outcome.totpSession };
        return { ...accountTokensJson(outcome.tokens), user: accountUserJson(outcome.user) };
      },
    );
  }
};

const InvitePageQuery = z.object({ app_id: z.string().max(64).default(''), code: z.string().max(200).default('') });
const InviteForm = z.object({
  _csrf: z.string().max(200).optional(),
  app_id: z.string().max(64).default(''),
  code: z.string().max(200).default(''),
  email: z.string().trim().max(320, 'is too long').default(''),
  name: z.string().trim().max(200, 'is too long').default(''),
  password: z.string().max(1024, 'is too long').default(''),
});
const SwitchForm = InvitePageQuery.extend({ _csrf: z.string().max(200).optional() });

const inviteUrl = (appId: string, code: string) => `/invite?${new URLSearchParams({ app_id: appId, code })}`;

/**
 * The hosted accept page the invite email links to (GET shows the form: mail scanners that prefetch
 * the link spend nothing). A new user gives a name and a password; an existing one their password;
 * a browser already signed in (SSO) as the invited email accepts with one click, its session being
 * the proof. Signed in as anyone else, the page says so and offers only to sign out and come back:
 * an invite is never accepted for, nor an account made beside, the account this browser holds.
 * Then the user is signed in (an SSO session, unless the account has TOTP: the app's sign-in asks
 * for the code) and continues to the app's sign-in, which answers at once.
 */
const invitePageRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  const config = { errorFormat: 'html' as const };
  const p = deps.config.passwordPolicy;
  const policy = { min: p.minLength, max: p.maxLength, classes: p.requireClasses ? 'yes' : 'no' };
  const signedInUser = async (req: FastifyRequest): Promise<User | undefined> =>
    (await resumeSession(deps, readSsoCookie(deps.config, req)))?.user;
  const isInvited = (user: User, email: string) => user.email.toLowerCase() === email.toLowerCase();
  const page = async (
    reply: FastifyReply,
    inviteApp: App,
    f: { code: string; email: string; name?: string },
    signedIn: User | undefined,
    error?: Text,
    status = 200,
  ) => {
    const wrongAccount = signedIn !== undefined && !isInvited(signedIn, f.email);
    const existing = (await findUserRecordByEmail(deps, f.email)) !== undefined;
    return renderPage(
      reply,
      'invite.eta',
      {
        title: wrongAccount ? 'account.inviteWrongAccountTitle' : 'account.inviteTitle',
        app: inviteApp,
        csrfToken: reply.generateCsrf(),
        code: f.code,
        email: f.email,
        name: f.name,
        mode: wrongAccount ? 'wrong_account' : signedIn ? 'signed_in' : existing ? 'existing' : 'new',
        signedInEmail: signedIn?.email,
        policy,
        error,
      },
      wrongAccount ? 409 : status,
    );
  };

  const signInUrlOf = (a: App) => {
    const redirectUri = a.redirectUris[0];
    return redirectUri ? `/login?${new URLSearchParams({ app_id: a.appId, redirect_uri: redirectUri })}` : undefined;
  };
  /**
   * The open invite, or undefined after rendering the page of one that cannot be used (unknown, used,
   * revoked or expired alike): the app's own page, with a way on to its sign-in, else the start page.
   */
  const openInvite = async (reply: FastifyReply, appId: string, code: string) => {
    try {
      return await findOpenInvite(deps, appId, code);
    } catch (err) {
      if (!(err instanceof AppError) || err.reason !== 'invite_invalid') throw err;
      const inviteApp = await findApp(deps, appId);
      const back = inviteApp && signInUrlOf(inviteApp);
      await renderPage(
        reply,
        'error.eta',
        {
          title: 'account.inviteDeadTitle',
          app: inviteApp,
          message: { key: 'errors.invite_invalid' },
          home: '/',
          ...(back && { back, backLabel: { key: 'account.continueToSignIn' } }),
        },
        400,
      );
      return undefined;
    }
  };

  app.get('/invite', { config, schema: { querystring: InvitePageQuery } }, async (req, reply) => {
    const invite = await openInvite(reply, req.query.app_id, req.query.code);
    if (!invite) return reply;
    const inviteApp = await getApp(deps, invite.appId);
    return page(reply, inviteApp, { code: req.query.code, email: invite.email }, await signedInUser(req));
  });

  app.post(
    '/invite',
    { config, schema: { body: InviteForm }, preValidation: formGuard(app, deps.config), bodyLimit: FORM_BODY_LIMIT },
    async (req, reply) => {
      const f = req.body;
      const invite = await openInvite(reply, f.app_id, f.code);
      if (!invite) return reply;
      const inviteApp = await getApp(deps, invite.appId);
      const meta = requestMeta(req);
      const signedIn = await signedInUser(req);
      const form = { code: f.code, email: invite.email, name: f.name };
      if (signedIn && !isInvited(signedIn, invite.email)) return page(reply, inviteApp, form, signedIn);
      try {
        let provenUserId = signedIn?.id;
        if (!signedIn) {
          if (!f.password) throw appError('credentials_missing');
          const existing = await findUserRecordByEmail(deps, invite.email);
          provenUserId = existing
            ? (await authenticatePassword(deps, { email: invite.email, password: f.password, appId: inviteApp.appId }, meta)).id
            : undefined;
        }
        const { user } = await acceptInvite(
          deps,
          { appId: inviteApp.appId, code: f.code, email: invite.email, name: f.name || undefined, password: f.password, provenUserId },
          meta,
        );
        // Signed in here (a browser that was keeps its session), unless a second factor is due:
        // then the app's sign-in asks for it.
        if (!signedIn && !(await isTotpEnabled(deps, user.id))) {
          const { cookieValue } = await startSession(deps, user.id, meta, ['pwd']);
          setSsoCookie(deps.config, reply, cookieValue);
        }
      } catch (err) {
        const { message, status } = formError(reply, err);
        return page(reply, inviteApp, form, signedIn, message, status);
      }
      return renderPage(reply, 'account-done.eta', {
        title: 'account.inviteJoinedTitle',
        app: inviteApp,
        message: { key: 'account.inviteJoined', values: { app: inviteApp.name } },
        signInUrl: signInUrlOf(inviteApp),
      });
    },
  );

  // "Not you?": ends this browser's SSO session and goes back to the invite, now signed out.
  app.post(
    '/invite/switch',
    {
      config: { ...config, accepts: 'form' as const },
      schema: { body: SwitchForm },
      preValidation: formGuard(app, deps.config),
      bodyLimit: FORM_BODY_LIMIT,
    },
    async (req, reply) => {
      await endSession(deps, readSsoCookie(deps.config, req), requestMeta(req));
      clearSsoCookie(deps.config, reply);
      return reply.redirect(inviteUrl(req.body.app_id, req.body.code), 303);
    },
  );
};

export { invitePageRoutes };
export default inviteRoutes;
