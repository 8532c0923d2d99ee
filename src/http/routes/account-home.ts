// The hosted account page (issue 16), Keymaster's own brand: GET /account (profile, password, sessions,
// connected apps) for the browser's SSO session, its sign-in (/account/sign-in, which returns only to
// a same-origin /account path) and one POST per change, each with CSRF, answered by a redirect back
// to /account with a status message (redirect-after-post). A form with field errors is drawn again.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Deps } from '../../deps.js';
import { accountHolder, accountOverview, changeAccountPassword, renameAccount } from '../../domain/accounts/account-home.js';
import { revokeConsent } from '../../domain/consents/consents.js';
import { RULES } from '../../domain/rate-limits/rate-limits.js';
import { finishSessionSignIn, signInToAccount } from '../../domain/sign-in/sign-in.js';
import { confirmTotp, disableTotp, getTotpStatus, pendingTotpSetup, regenerateRecoveryCodes, setupTotp } from '../../domain/totp/totp.js';
import { revokeUserSession, signOutEverywhere } from '../../domain/tokens/token-inventory.js';
import { isSignInRefusal, type User } from '../../domain/users/users.js';
import { AppError } from '../../errors.js';
import { safeEqual } from '../../lib/crypto.js';
import { formError } from '../error-handler.js';
import { renderCodePage } from '../login-page.js';
import { SecondFactorCode, secondFactorOf, SessionTotpFields } from '../schemas/login.js';
import { accountStatus, describeScope } from '../page-text.js';
import { FORM_BODY_LIMIT, formGuard, rateLimit } from '../plugins/guards.js';
import { renderPage, type Text } from '../render.js';
import { requestMeta } from '../request-meta.js';
import {
  AccountQuery,
  AccountSignInForm,
  AccountSignInQuery,
  CsrfOnlyForm,
  PasswordForm,
  ProfileForm,
  RowParams,
} from '../schemas/consent-account.js';
import { clearSsoCookie, readDeviceCookie, readSsoCookie, setDeviceCookie, setSsoCookie } from '../sso-cookie.js';

const when = (v: Date | string | null) => (v === null ? '—' : `${new Date(v).toISOString().slice(0, 16).replace('T', ' ')} UTC`);

/** Field errors of the change-password form, by field. */
type PasswordErrors = Partial<Record<'current_password' | 'new_password' | 'confirm_password' | 'form', Text>>;

const PASSWORD_FIELD: Record<string, keyof PasswordErrors> = {
  current_password_required: 'current_password',
  current_password_incorrect: 'current_password',
  password_too_weak: 'new_password',
};

const accountHomeRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  const config = { errorFormat: 'html' as const };
  const post = { config: { ...config, accepts: 'form' as const }, bodyLimit: FORM_BODY_LIMIT, preValidation: formGuard(app, deps.config) };
  const p = deps.config.passwordPolicy;
  // The values of account.policy (the register and reset pages' own message).
  const policy = { min: p.minLength, max: p.maxLength, classes: p.requireClasses ? 'yes' : 'no' };

  const toSignIn = (reply: FastifyReply, status?: string) =>
    reply
      .header('Cache-Control', 'no-store')
      .redirect(`/account/sign-in?${new URLSearchParams({ return_to: '/account', ...(status && { status }) })}`, 303);
  const back = (reply: FastifyReply, status: string) =>
    reply.header('Cache-Control', 'no-store').redirect(`/account?status=${status}`, 303);
  const holder = (req: FastifyRequest) => accountHolder(deps, readSsoCookie(deps.config, req));

  async function accountPage(
    reply: FastifyReply,
    user: User,
    opts: {
      status?: string | undefined;
      name?: string;
      nameError?: Text;
      passwordErrors?: PasswordErrors;
      code?: number;
      /** The two-step verification section (issue 17): a setup under way, codes to show once, a refusal. */
      totp?: { setup?: { secret: string; qr: string } | undefined; recoveryCodes?: string[]; error?: Text };
    } = {},
  ) {
    const overview = await accountOverview(deps, user);
    const totp = { ...(await getTotpStatus(deps, user.id)), ...opts.totp };
    return renderPage(
      reply,
      'account.eta',
      {
        title: 'myaccount.title',
        wide: true,
        notice: accountStatus(opts.status),
        user,
        name: opts.name ?? user.name ?? '',
        nameError: opts.nameError,
        pw: opts.passwordErrors ?? {},
        policy,
        csrfToken: reply.generateCsrf(),
        totp,
        sessions: overview.sessions.map((s) => ({
          id: s.id,
          appName: s.appName,
          device: s.userAgent ? s.userAgent.slice(0, 120) : undefined,
          lastUsed: when(s.lastUsedAt ?? s.createdAt),
        })),
        consents: overview.consents.map((c) => ({
          id: c.id,
          appName: c.appName,
          scopes: c.scopes.map(describeScope),
          grantedAt: when(c.grantedAt),
        })),
      },
      opts.code ?? 200,
    );
  }

  app.get('/account', { config, schema: { querystring: AccountQuery } }, async (req, reply) => {
    const user = await holder(req);
    if (!user) return toSignIn(reply);
    return accountPage(reply, user, { status: req.query.status });
  });

  const signInPage = (
    reply: FastifyReply,
    returnTo: string | undefined,
    opts: { error?: Text; email?: string; notice?: Text; code?: number } = {},
  ) =>
    renderPage(
      reply,
      'account-sign-in.eta',
      {
        title: 'myaccount.signInTitle',
        csrfToken: reply.generateCsrf(),
        hidden: returnTo ? { return_to: returnTo } : {},
        ...opts,
      },
      opts.code ?? 200,
    );

  app.get('/account/sign-in', { config, schema: { querystring: AccountSignInQuery.extend(AccountQuery.shape) } }, async (req, reply) => {
    const notice = accountStatus(req.query.status);
    return signInPage(reply, req.query.return_to, { ...(notice && { notice }) });
  });

  app.post(
    '/account/sign-in',
    { ...post, schema: { body: AccountSignInForm }, preHandler: rateLimit(deps, RULES.loginAttemptsPerIp) },
    async (req, reply) => {
      const f = req.body;
      try {
        const done = await signInToAccount(deps, f, requestMeta(req), readDeviceCookie(deps.config, req));
        // TOTP on (issue 17): the code page first, no session yet.
        if (done.kind === 'second_factor_required') return codePage(reply, { totp_session: done.totpSession, return_to: f.return_to });
        setSsoCookie(deps.config, reply, done.sessionCookie);
        setDeviceCookie(deps.config, reply, done.deviceCookie);
        // ReturnTo (the schema) admits only /account paths of this site.
        return reply.header('Cache-Control', 'no-store').redirect(f.return_to ?? '/account', 303);
      } catch (err) {
        if (!isSignInRefusal(err)) throw err;
        const { message, status } = formError(reply, err);
        return signInPage(reply, f.return_to, { error: message, email: f.email, code: status });
      }
    },
  );

  const codePage = (
    reply: FastifyReply,
    fields: { totp_session: string; return_to?: string | undefined },
    opts: { error?: Text; status?: number; recovery?: boolean } = {},
  ) =>
    renderCodePage(
      reply,
      {
        action: '/account/sign-in/totp',
        hidden: { totp_session: fields.totp_session, ...(fields.return_to !== undefined && { return_to: fields.return_to }) },
      },
      opts,
    );

  app.post(
    '/account/sign-in/totp',
    {
      ...post,
      schema: { body: z.object({ ...SessionTotpFields, return_to: AccountSignInForm.shape.return_to }) },
      preHandler: rateLimit(deps, RULES.loginAttemptsPerIp),
    },
    async (req, reply) => {
      const f = req.body;
      const { code, recovery } = secondFactorOf(f);
      try {
        const done = await finishSessionSignIn(
          deps,
          { purpose: 'account' },
          f.totp_session,
          code,
          requestMeta(req),
          readDeviceCookie(deps.config, req),
        );
        setSsoCookie(deps.config, reply, done.sessionCookie);
        setDeviceCookie(deps.config, reply, done.deviceCookie);
        return reply.header('Cache-Control', 'no-store').redirect(f.return_to ?? '/account', 303);
      } catch (err) {
        // Anything but a wrong code ends this sign-in: the error page, whose way back is the sign-in.
        if (!(err instanceof AppError) || err.reason !== 'totp_code_invalid') throw err;
        const { message, status } = formError(reply, err);
        return codePage(reply, f, { error: message, status, recovery });
      }
    },
  );

  // Two-step verification (issue 17): set up (QR and key), confirm (recovery codes shown once), and
  // turn off or renew the codes with a fresh factor. Setup and codes are drawn in the answer to the
  // POST itself (no redirect): the secret and the codes never travel in a URL.
  const TotpFactorForm = z.object({
    _csrf: z.string().max(200).optional(),
    code: SecondFactorCode.optional(),
    password: z.string().max(1024).optional(),
  });
  const freshFactor = (f: z.infer<typeof TotpFactorForm>) => ({ code: f.code || undefined, password: f.password || undefined });
  const totpRefusal = async (reply: FastifyReply, user: User, err: unknown, setup?: { secret: string; qr: string }) => {
    if (!(err instanceof AppError)) throw err;
    const { message, status } = formError(reply, err);
    return accountPage(reply, user, { totp: { error: message, setup }, code: status });
  };

  app.post('/account/totp/setup', { ...post, schema: { body: CsrfOnlyForm } }, async (req, reply) => {
    const user = await holder(req);
    if (!user) return toSignIn(reply);
    try {
      const setup = await setupTotp(deps, user.id, { ...requestMeta(req), actor: 'user' });
      return accountPage(reply, user, { totp: { setup } });
    } catch (err) {
      return totpRefusal(reply, user, err);
    }
  });

  app.post('/account/totp/confirm', { ...post, schema: { body: TotpFactorForm } }, async (req, reply) => {
    const user = await holder(req);
    if (!user) return toSignIn(reply);
    try {
      const { recoveryCodes } = await confirmTotp(deps, user.id, req.body.code ?? '', { ...requestMeta(req), actor: 'user' });
      return accountPage(reply, user, { totp: { recoveryCodes } });
    } catch (err) {
      return totpRefusal(reply, user, err, await pendingTotpSetup(deps, user.id));
    }
  });

  app.post('/account/totp/recovery-codes', { ...post, schema: { body: TotpFactorForm } }, async (req, reply) => {
    const user = await holder(req);
    if (!user) return toSignIn(reply);
    try {
      const { recoveryCodes } = await regenerateRecoveryCodes(deps, user.id, freshFactor(req.body), { ...requestMeta(req), actor: 'user' });
      return accountPage(reply, user, { totp: { recoveryCodes } });
    } catch (err) {
      return totpRefusal(reply, user, err);
    }
  });

  app.post('/account/totp/disable', { ...post, schema: { body: TotpFactorForm } }, async (req, reply) => {
    const user = await holder(req);
    if (!user) return toSignIn(reply);
    try {
      await disableTotp(deps, user.id, freshFactor(req.body), { ...requestMeta(req), actor: 'user' });
    } catch (err) {
      return totpRefusal(reply, user, err);
    }
    return back(reply, 'totp_disabled');
  });

  app.post('/account/profile', { ...post, schema: { body: ProfileForm } }, async (req, reply) => {
    const user = await holder(req);
    if (!user) return toSignIn(reply);
    if (!req.body.name) return accountPage(reply, user, { name: '', nameError: { key: 'myaccount.nameRequired' }, code: 400 });
    await renameAccount(deps, user, req.body.name, { ...requestMeta(req), actor: 'user' });
    return back(reply, 'name_saved');
  });

  app.post('/account/password', { ...post, schema: { body: PasswordForm } }, async (req, reply) => {
    const user = await holder(req);
    if (!user) return toSignIn(reply);
    const f = req.body;
    if (!safeEqual(f.new_password, f.confirm_password))
      return accountPage(reply, user, { passwordErrors: { confirm_password: { key: 'myaccount.mismatch' } }, code: 400 });
    try {
      const input = { currentPassword: f.current_password, newPassword: f.new_password };
      setSsoCookie(deps.config, reply, await changeAccountPassword(deps, user, input, { ...requestMeta(req), actor: 'user' }));
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      const { message, status } = formError(reply, err);
      return accountPage(reply, user, { passwordErrors: { [PASSWORD_FIELD[err.reason] ?? 'form']: message }, code: status });
    }
    return back(reply, 'password_changed');
  });

  app.post('/account/sessions/:id/sign-out', { ...post, schema: { params: RowParams, body: CsrfOnlyForm } }, async (req, reply) => {
    const user = await holder(req);
    if (!user) return toSignIn(reply);
    await revokeUserSession(deps, user.id, req.params.id, { ...requestMeta(req), actor: 'user' });
    return back(reply, 'session_ended');
  });

  app.post('/account/sign-out-everywhere', { ...post, schema: { body: CsrfOnlyForm } }, async (req, reply) => {
    const user = await holder(req);
    if (!user) return toSignIn(reply);
    await signOutEverywhere(deps, user.id, { ...requestMeta(req), actor: 'user' });
    clearSsoCookie(deps.config, reply);
    return toSignIn(reply, 'signed_out_everywhere');
  });

  app.post('/account/apps/:id/revoke', { ...post, schema: { params: RowParams, body: CsrfOnlyForm } }, async (req, reply) => {
    const user = await holder(req);
    if (!user) return toSignIn(reply);
    await revokeConsent(deps, user.id, req.params.id, { ...requestMeta(req), actor: 'user' });
    return back(reply, 'app_revoked');
  });
};
export default accountHomeRoutes;
