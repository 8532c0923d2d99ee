// The Device Authorization Grant (RFC 8628), registered only when KEYMASTER_DEVICE_GRANT is on:
//   POST /device_authorization   §3.1-3.2, client authenticated as at /token; RFC 6749 §5.2 JSON errors
//   GET/POST /device             §3.3 the user enters (or confirms the linked) user code
//   POST /device/login           the hosted sign-in form, when the browser has no SSO session
//   GET/POST /device/confirm     the app, the scopes in plain words, Approve / Deny; then the done page
// The device's polls are a grant of POST /token (oidc-token.ts).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Deps } from '../../deps.js';
import type { App } from '../../domain/apps/apps.js';
import { authenticateTokenClient } from '../../domain/oidc/client-auth.js';
import {
  decideDeviceRequest,
  DEVICE_CODE_TTL_MS,
  enterUserCode,
  resumeDeviceRequest,
  startDeviceAuthorization,
  type DeviceRequest,
} from '../../domain/oidc/device-grant.js';
import { isAccessRefusal } from '../../domain/memberships/memberships.js';
import { RULES } from '../../domain/rate-limits/rate-limits.js';
import { finishSessionSignIn, signInForDevice } from '../../domain/sign-in/sign-in.js';
import { isSignInRefusal } from '../../domain/users/users.js';
import { AppError } from '../../errors.js';
import { clientCredentialsOf } from '../client-credentials.js';
import { formError } from '../error-handler.js';
import { renderCodePage, renderDeviceSignInPage } from '../login-page.js';
import { secondFactorOf, SessionTotpFields } from '../schemas/login.js';
import { FORM_BODY_LIMIT, formGuard, rateLimit } from '../plugins/guards.js';
import { renderPage, type Text } from '../render.js';
import { requestMeta } from '../request-meta.js';
import {
  DeviceAuthorizationBody,
  DeviceAuthorizationResponse,
  DeviceCodeForm,
  DeviceConfirmForm,
  DeviceQuery,
  DeviceRequestQuery,
  DeviceSignInForm,
} from '../schemas/device.js';
import {
  readDeviceCookie,
  readDeviceRequestCookie,
  readSsoCookie,
  setDeviceCookie,
  setDeviceRequestCookie,
  setSsoCookie,
} from '../sso-cookie.js';

const isReason = (err: unknown, reason: string): err is AppError => err instanceof AppError && err.reason === reason;

const oidcDeviceRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  app.post(
    '/device_authorization',
    {
      schema: { body: DeviceAuthorizationBody, response: { 200: DeviceAuthorizationResponse } },
      config: { errorFormat: 'oauth', accepts: 'form' },
      bodyLimit: FORM_BODY_LIMIT,
      preHandler: rateLimit(deps, RULES.tokenPerIp),
    },
    async (req, reply) => {
      reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache');
      const client = await authenticateTokenClient(deps, clientCredentialsOf(req, req.body), { allowPublic: true, source: req.ip });
      const d = await startDeviceAuthorization(deps, client, { scope: req.body.scope, resource: req.body.resource });
      return {
        device_code: d.deviceCode,
        user_code: d.userCode,
        verification_uri: d.verificationUri,
        verification_uri_complete: d.verificationUriComplete,
        expires_in: d.expiresIn,
        interval: d.interval,
      };
    },
  );

  const html = { errorFormat: 'html' as const };
  const form = { config: { ...html, accepts: 'form' as const }, bodyLimit: FORM_BODY_LIMIT, preValidation: formGuard(app, deps.config) };

  /** The code entry page; also where every refusal of the journey lands, with the form to try again. */
  const codePage = (reply: FastifyReply, opts: { userCode?: string; error?: Text; notice?: Text; status?: number } = {}) =>
    renderPage(reply, 'device-code.eta', { title: 'device.title', csrfToken: reply.generateCsrf(), ...opts }, opts.status ?? 200);

  /** Past the user-code throttle: how long to wait, and no form (every entry would be refused). */
  const throttledPage = (reply: FastifyReply, err: AppError) => {
    const retryAfter = err.retryAfter ?? 60;
    reply.header('Retry-After', String(retryAfter));
    const error = { key: 'device.throttled', values: { minutes: Math.max(1, Math.ceil(retryAfter / 60)) } };
    return renderPage(reply, 'device-code.eta', { title: 'device.title', error }, 429);
  };

  const signInPage = (reply: FastifyReply, client: App, request: string, opts: { error?: Text; email?: string; status?: number } = {}) =>
    renderDeviceSignInPage(reply, client, { action: '/device/login', hidden: { request }, title: 'device.signInTitle' }, opts);

  /** The scopes in plain words (USER_SCOPES); one without words is named as it is. */
  const SCOPE_WORDS: Record<string, string> = {
    openid: 'device.scopeOpenid',
    profile: 'device.scopeProfile',
    email: 'device.scopeEmail',
    offline_access: 'device.scopeOfflineAccess',
    roles: 'device.scopeRoles',
  };
  const scopeText = (scope: string): Text => {
    const key = SCOPE_WORDS[scope];
    return key ? { key } : { key: 'device.scopeOther', values: { scope } };
  };

  /** The confirm screen when the browser is signed in, else the sign-in form that leads to it. */
  const nextStep = (reply: FastifyReply, found: DeviceRequest) => {
    if (!found.user) return signInPage(reply, found.app, found.request);
    return renderPage(reply, 'device-confirm.eta', {
      title: 'device.confirmTitle',
      app: found.app,
      scopes: found.scopes.map(scopeText),
      email: found.user.email,
      userCode: found.userCode,
      request: found.request,
      csrfToken: reply.generateCsrf(),
    });
  };

  /** A sealed request that is stale or answered, or another browser's: the code page says so and offers a new try. */
  const requestRefused = (reply: FastifyReply, err: unknown) => {
    if (isReason(err, 'device_request_foreign')) return codePage(reply, { error: { key: 'device.requestForeign' }, status: 400 });
    if (!isReason(err, 'device_request_invalid')) throw err;
    return codePage(reply, { error: { key: 'device.requestInvalid' }, status: 400 });
  };
  const binding = (req: FastifyRequest) => readDeviceRequestCookie(deps.config, req);

  app.get('/device', { schema: { querystring: DeviceQuery }, config: html }, async (req, reply) => {
    const userCode = req.query.user_code?.trim();
    // §5.4: a code from the link is only filled in; the user confirms it is the one on the device.
    return codePage(reply, userCode ? { userCode, notice: { key: 'device.linkNotice' } } : {});
  });

  app.post('/device', { schema: { body: DeviceCodeForm }, ...form }, async (req, reply) => {
    const userCode = req.body.user_code;
    try {
      const found = await enterUserCode(deps, { userCode, source: req.ip, sessionCookie: readSsoCookie(deps.config, req) });
      if (found.browserBinding) setDeviceRequestCookie(deps.config, reply, found.browserBinding, DEVICE_CODE_TTL_MS / 1000);
      return nextStep(reply, found);
    } catch (err) {
      if (isReason(err, 'rate_limited')) return throttledPage(reply, err);
      if (!isReason(err, 'user_code_invalid')) throw err;
      return codePage(reply, { userCode, error: { key: 'device.codeInvalid' }, status: 400 });
    }
  });

  app.post(
    '/device/login',
    { schema: { body: DeviceSignInForm }, ...form, preHandler: rateLimit(deps, RULES.loginAttemptsPerIp) },
    async (req, reply) => {
      const f = req.body;
      let found: DeviceRequest;
      try {
        found = await resumeDeviceRequest(deps, { request: f.request, browserBinding: binding(req), sessionCookie: undefined });
      } catch (err) {
        return requestRefused(reply, err);
      }
      try {
        const credentials = { email: f.email, password: f.password };
        const cookies = await signInForDevice(deps, found.app, credentials, requestMeta(req), readDeviceCookie(deps.config, req));
        // TOTP on (issue 17): the code page first, no session yet.
        if (cookies.kind === 'second_factor_required') return totpPage(reply, found.app, found.request, cookies.totpSession);
        setSsoCookie(deps.config, reply, cookies.sessionCookie);
        setDeviceCookie(deps.config, reply, cookies.deviceCookie);
        return reply
          .header('Cache-Control', 'no-store')
          .redirect(`/device/confirm?${new URLSearchParams({ request: found.request })}`, 303);
      } catch (err) {
        if (!isSignInRefusal(err)) throw err;
        const { message, status } = formError(reply, err);
        return signInPage(reply, found.app, found.request, { error: message, email: f.email, status });
      }
    },
  );

  const totpPage = (
    reply: FastifyReply,
    client: App,
    request: string,
    totpSession: string,
    opts: { error?: Text; status?: number; recovery?: boolean } = {},
  ) => renderCodePage(reply, { app: client, action: '/device/login/totp', hidden: { request, totp_session: totpSession } }, opts);

  app.post(
    '/device/login/totp',
    {
      schema: { body: z.object({ ...SessionTotpFields, request: DeviceSignInForm.shape.request }) },
      ...form,
      preHandler: rateLimit(deps, RULES.loginAttemptsPerIp),
    },
    async (req, reply) => {
      const f = req.body;
      let found: DeviceRequest;
      try {
        found = await resumeDeviceRequest(deps, { request: f.request, browserBinding: binding(req), sessionCookie: undefined });
      } catch (err) {
        return requestRefused(reply, err);
      }
      const { code, recovery } = secondFactorOf(f);
      try {
        const target = { purpose: 'device' as const, app: found.app };
        const cookies = await finishSessionSignIn(deps, target, f.totp_session, code, requestMeta(req), readDeviceCookie(deps.config, req));
        setSsoCookie(deps.config, reply, cookies.sessionCookie);
        setDeviceCookie(deps.config, reply, cookies.deviceCookie);
        return reply
          .header('Cache-Control', 'no-store')
          .redirect(`/device/confirm?${new URLSearchParams({ request: found.request })}`, 303);
      } catch (err) {
        if (!(err instanceof AppError) || err.reason !== 'totp_code_invalid') throw err;
        const { message, status } = formError(reply, err);
        return totpPage(reply, found.app, found.request, f.totp_session, { error: message, status, recovery });
      }
    },
  );

  app.get('/device/confirm', { schema: { querystring: DeviceRequestQuery }, config: html }, async (req, reply) => {
    try {
      return nextStep(
        reply,
        await resumeDeviceRequest(deps, {
          request: req.query.request,
          browserBinding: binding(req),
          sessionCookie: readSsoCookie(deps.config, req),
        }),
      );
    } catch (err) {
      return requestRefused(reply, err);
    }
  });

  app.post('/device/confirm', { schema: { body: DeviceConfirmForm }, ...form }, async (req, reply) => {
    const { request, decision } = req.body;
    try {
      const input = {
        request,
        approve: decision === 'approve',
        browserBinding: binding(req),
        sessionCookie: readSsoCookie(deps.config, req),
      };
      const outcome = await decideDeviceRequest(deps, input, requestMeta(req));
      // The session ended between the pages: sign in again, then the same confirm screen.
      if (outcome.kind === 'sign_in') {
        return nextStep(reply, await resumeDeviceRequest(deps, { request, browserBinding: binding(req), sessionCookie: undefined }));
      }
      return renderPage(reply, 'device-done.eta', {
        title: outcome.approved ? 'device.approvedTitle' : 'device.deniedTitle',
        app: outcome.app,
        approved: outcome.approved,
      });
    } catch (err) {
      // The app does not admit this user (not invited, suspended, awaiting approval): its words, 403.
      if (isAccessRefusal(err)) {
        const { message, status } = formError(reply, err);
        return codePage(reply, { error: message, status });
      }
      return requestRefused(reply, err);
    }
  });
};
export default oidcDeviceRoutes;
