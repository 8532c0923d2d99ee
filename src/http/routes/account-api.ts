// The account API (seed 004): /api/v1/auth/* with the {detail} error shape and the documented messages.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Deps } from '../../deps.js';
import { JSON_BODY_LIMIT } from '../plugins/guards.js';
import {
  confirmPasswordReset,
  getAccount,
  loginAccount,
  loginAccountSecondFactor,
  logoutAccount,
  refreshAccount,
  registerAccount,
  requestPasswordReset,
  updateAccount,
  verifyEmail,
} from '../../domain/accounts/accounts.js';
import { confirmTotp, disableTotp, regenerateRecoveryCodes, setupTotp } from '../../domain/totp/totp.js';
import { authenticateBearer } from '../bearer.js';
import { requestMeta } from '../request-meta.js';
import { accountTokensJson, accountUserJson } from '../token-responses.js';
import {
  LoginBody,
  LoginResponse,
  LogoutBody,
  Message,
  PatchMeBody,
  RefreshBody,
  AccountTokens,
  RegisterBody,
  ResetConfirmBody,
  ResetRequestBody,
  UserJson,
  VerifyEmailBody,
  RecoveryCodesResponse,
  TokensWithUser,
  TotpConfirmBody,
  TotpFreshFactorBody,
  TotpSetupResponse,
  TotpVerifyBody,
} from '../schemas/accounts.js';

// accountUserJson lives in token-responses.ts (the accept-invite routes answer with it too).
export { accountUserJson };

export const MESSAGES = {
  registered: 'Registration successful. Please check your email to verify your account.',
  verified: 'Email verified successfully. You can now log in.',
  loggedOut: 'Logged out successfully',
  resetRequested: 'If an account exists for this email, a password reset link has been sent.',
  resetDone: 'Password has been reset successfully. Please log in with your new password.',
  totpDisabled: 'Two-step verification is turned off',
};

const accountApiRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  const config = { errorFormat: 'detail' as const };
  const jsonConfig = { ...config, accepts: 'json' as const };
  app.addHook('onSend', async (_req, reply) => {
    reply.header('Cache-Control', 'no-store');
  });

  app.post(
    '/api/v1/auth/register',
    { config: jsonConfig, bodyLimit: JSON_BODY_LIMIT, schema: { body: RegisterBody, response: { 201: Message } } },
    async (req, reply) => {
      const b = req.body;
      await registerAccount(
        deps,
        { email: b.email, password: b.password, name: b.name },
        { appId: b.app_id, redirectUri: b.redirect_uri },
        requestMeta(req),
      );
      return reply.status(201).send({ message: MESSAGES.registered });
    },
  );

  app.post(
    '/api/v1/auth/verify-email',
    { config: jsonConfig, bodyLimit: JSON_BODY_LIMIT, schema: { body: VerifyEmailBody, response: { 200: Message } } },
    async (req) => {
      await verifyEmail(deps, { token: req.body.token }, requestMeta(req));
      return { message: MESSAGES.verified };
    },
  );

  app.post(
    '/api/v1/auth/login',
    { config: jsonConfig, bodyLimit: JSON_BODY_LIMIT, schema: { body: LoginBody, response: { 200: LoginResponse } } },
    async (req) => {
      const outcome = await loginAccount(
        deps,
        { email: req.body.email, password: req.body.password, appId: req.body.app_id },
        requestMeta(req),
      );
      if (outcome.kind === 'totp_required') return { status: 'totp_required' as const, totp_session: outcome.totpSession };
      return { ...accountTokensJson(outcome.tokens), user: accountUserJson(outcome.user) };
    },
  );

  // TOTP (issue 17): the second step of a login, then enrolment and its changes (Bearer).
  app.post(
    '/api/v1/auth/totp/verify',
    { config: jsonConfig, bodyLimit: JSON_BODY_LIMIT, schema: { body: TotpVerifyBody, response: { 200: TokensWithUser } } },
    async (req) => {
      const input = { totpSession: req.body.totp_session, code: req.body.code };
      const { tokens, user } = await loginAccountSecondFactor(deps, input, requestMeta(req));
      return { ...accountTokensJson(tokens), user: accountUserJson(user) };
    },
  );

  app.post('/api/v1/auth/totp/setup', { config, schema: { response: { 200: TotpSetupResponse } } }, async (req) => {
    const claims = await authenticateBearer(deps, req);
    const s = await setupTotp(deps, claims.sub, requestMeta(req));
    return { secret: s.secret, otpauth_url: s.otpauthUrl, qr: s.qr };
  });

  app.post(
    '/api/v1/auth/totp/confirm',
    { config: jsonConfig, bodyLimit: JSON_BODY_LIMIT, schema: { body: TotpConfirmBody, response: { 200: RecoveryCodesResponse } } },
    async (req) => {
      const claims = await authenticateBearer(deps, req);
      return { recovery_codes: (await confirmTotp(deps, claims.sub, req.body.code, requestMeta(req))).recoveryCodes };
    },
  );

  app.post(
    '/api/v1/auth/totp/recovery-codes',
    { config: jsonConfig, bodyLimit: JSON_BODY_LIMIT, schema: { body: TotpFreshFactorBody, response: { 200: RecoveryCodesResponse } } },
    async (req) => {
      const claims = await authenticateBearer(deps, req);
      return { recovery_codes: (await regenerateRecoveryCodes(deps, claims.sub, req.body, requestMeta(req))).recoveryCodes };
    },
  );

  app.delete(
    '/api/v1/auth/totp',
    { config: jsonConfig, bodyLimit: JSON_BODY_LIMIT, schema: { body: TotpFreshFactorBody, response: { 200: Message } } },
    async (req) => {
      const claims = await authenticateBearer(deps, req);
      await disableTotp(deps, claims.sub, req.body, requestMeta(req));
      return { message: MESSAGES.totpDisabled };
    },
  );

  app.post(
    '/api/v1/auth/refresh',
    { config: jsonConfig, bodyLimit: JSON_BODY_LIMIT, schema: { body: RefreshBody, response: { 200: AccountTokens } } },
    async (req) => {
      return accountTokensJson(
        await refreshAccount(deps, { refreshToken: req.body.refresh_token, appId: req.body.app_id }, requestMeta(req)),
      );
    },
  );

  app.post(
    '/api/v1/auth/logout',
    { config: jsonConfig, bodyLimit: JSON_BODY_LIMIT, schema: { body: LogoutBody, response: { 200: Message } } },
    async (req) => {
      const claims = await authenticateBearer(deps, req);
      await logoutAccount(deps, { userId: claims.sub, refreshToken: req.body.refresh_token }, requestMeta(req));
      return { message: MESSAGES.loggedOut };
    },
  );

  app.post(
    '/api/v1/auth/password-reset/request',
    { config: jsonConfig, bodyLimit: JSON_BODY_LIMIT, schema: { body: ResetRequestBody, response: { 200: Message } } },
    async (req, reply) => {
      const b = req.body;
      await requestPasswordReset(deps, { email: b.email }, { appId: b.app_id, redirectUri: b.redirect_uri }, requestMeta(req, reply));
      return { message: MESSAGES.resetRequested };
    },
  );

  app.post(
    '/api/v1/auth/password-reset/confirm',
    { config: jsonConfig, bodyLimit: JSON_BODY_LIMIT, schema: { body: ResetConfirmBody, response: { 200: Message } } },
    async (req) => {
      await confirmPasswordReset(
        deps,
        { token: req.body.token, newPassword: req.body.new_password },
        { appId: req.body.app_id },
        requestMeta(req),
      );
      return { message: MESSAGES.resetDone };
    },
  );

  app.get('/api/v1/auth/me', { config, schema: { response: { 200: UserJson } } }, async (req) => {
    return accountUserJson(await getAccount(deps, await authenticateBearer(deps, req)));
  });

  app.patch('/api/v1/auth/me', { config, schema: { body: PatchMeBody, response: { 200: UserJson } } }, async (req) => {
    const claims = await authenticateBearer(deps, req);
    const b = req.body;
    return accountUserJson(
      await updateAccount(
        deps,
        claims,
        { name: b.name, currentPassword: b.current_password, newPassword: b.new_password },
        requestMeta(req),
      ),
    );
  });
};
export default accountApiRoutes;
