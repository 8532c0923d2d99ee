// Turns any error into the reply of the route's error format (`config.errorFormat`):
//   keymaster → Keymaster's JSON {error, error_description} (/token/refresh and the other Keymaster endpoints; the default)
//   oauth     → RFC 6749 §5.2 JSON {error, error_description} (401 + WWW-Authenticate for invalid_client)
//   detail    → the account API's {detail} (seed 004)
//   html      → a branded error page; forms show the same refusals as a message (formError)
// The domain's AppError says what happened (code + reason); the tables below are the ONE place that
// decides the status, the wire error code and any wording an endpoint family documents differently.
// A new reason needs no entry unless its format answers it other than its code's default.
// Anything that is not an AppError or a Fastify 4xx is a server_error, logged once with its stack,
// and shown without internals.
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { isAccessRefusal } from '../domain/memberships/memberships.js';
import { AppError, appError, type ErrorCode, type PasswordProblem, type Reason } from '../errors.js';
import { isMessageKey } from '../i18n/catalog.js';
import { DatabaseUnavailableError } from '../storage/unavailable.js';
import { renderPage, type PageApp, type Text } from './render.js';

export type ErrorFormat = 'keymaster' | 'oauth' | 'detail' | 'html';

declare module 'fastify' {
  interface FastifyContextConfig {
    errorFormat?: ErrorFormat;
  }
}

/** How one format answers: the status, the wire `error` value (JSON formats) and the public text. */
export interface WireError {
  status: number;
  error: string;
  text: string;
}

interface Entry {
  status?: number;
  /** The wire `error` value, when it is not the code itself. */
  error?: string;
  text?: string | ((e: AppError) => string);
}

interface Table {
  codes: Partial<Record<ErrorCode, Entry>>;
  reasons: Partial<Record<Reason, Entry>>;
}

/** Every format's starting point: the status of each code (RFC 6749 §5.2, RFC 6750 §3.1, HTTP). */
const CODE_STATUS: Record<ErrorCode, number> = {
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  invalid_scope: 400,
  invalid_target: 400,
  access_denied: 403,
  authorization_pending: 400,
  slow_down: 400,
  expired_token: 400,
  unsupported_response_type: 400,
  invalid_token: 401,
  login_required: 400,
  not_found: 404,
  forbidden: 403,
  conflict: 409,
  rate_limited: 429,
  server_error: 500,
  temporarily_unavailable: 503,
};

/** Statuses that follow from the reason whatever the format. */
const REASON_STATUS: Partial<Record<Reason, number>> = {
  body_too_large: 413,
  logo_too_large: 413,
  unsupported_media_type: 415,
  invalid_credentials: 401,
  totp_code_invalid: 401,
};

/** RFC 6749 §5.2 has no code for these: they travel as invalid_request; KEYMASTER-API.md §5 names 429 too_many_requests. */
const OAUTH_CODES: Table['codes'] = {
  not_found: { error: 'invalid_request' },
  forbidden: { error: 'invalid_request' },
  conflict: { error: 'invalid_request' },
  rate_limited: { error: 'too_many_requests' },
};

const TABLES: Record<ErrorFormat, Table> = {
  // RFC 6749 §5.2: a refused grant is 400; a disabled account is one more invalid_grant.
  oauth: {
    codes: OAUTH_CODES,
    reasons: {
      account_disabled: { status: 400, error: 'invalid_grant', text: 'Account suspended' },
      // RFC 8628 §3.5: a token error, 400 like every other (RFC 6749 §5.2).
      device_access_denied: { status: 400 },
      // A grant refused by the user's membership of the app (issue 14): an invalid_grant like a disabled account.
      membership_suspended: { status: 400, error: 'invalid_grant' },
      membership_pending: { status: 400, error: 'invalid_grant' },
      app_access_denied: { status: 400, error: 'invalid_grant' },
    },
  },
  // Keymaster's /token/refresh contract: a refused refresh token is 401; KEYMASTER-API.md §5 says "Account suspended".
  keymaster: {
    codes: { ...OAUTH_CODES, invalid_grant: { status: 401 } },
    reasons: { account_disabled: { text: 'Account suspended' } },
  },
  // Seed 004's error table.
  detail: {
    codes: {},
    reasons: {
      email_already_registered: { status: 400 },
      refresh_token_invalid: { status: 401, text: 'Invalid refresh token' },
      refresh_token_wrong_app: { status: 401, text: 'Invalid refresh token' },
      refresh_token_client_bound: { status: 401, text: 'Invalid refresh token' },
      access_token_account_disabled: { status: 403, text: 'Account is disabled' },
    },
  },
  // The hosted pages mirror the account API's statuses.
  html: {
    codes: {},
    reasons: { email_already_registered: { status: 400 } },
  },
};

/** What `format` answers for `e`. `httpStatus` is the status Fastify itself gave an error it raised. */
export function wireError(format: ErrorFormat, e: AppError, httpStatus?: number): WireError {
  const table = TABLES[format];
  const byReason = table.reasons[e.reason];
  const byCode = table.codes[e.code];
  const text = byReason?.text ?? byCode?.text;
  return {
    status: byReason?.status ?? REASON_STATUS[e.reason] ?? httpStatus ?? byCode?.status ?? CODE_STATUS[e.code],
    error: byReason?.error ?? byCode?.error ?? e.code,
    text: text === undefined ? e.description : typeof text === 'string' ? text : text(e),
  };
}

/**
 * How a hosted page shows a refusal (a form's message, the error page): the reason's message in the
 * page's language (locales/<locale>/errors.json, keyed by reason), with the params it needs. A reason
 * with no message there is shown as the generic refusal: a page never shows an untranslated text.
 */
export function pageText(e: AppError): Text {
  if (!isMessageKey(`errors.${e.reason}`)) return { key: 'errors.fallback' };
  const p = (e.params ?? {}) as Record<string, unknown>;
  switch (e.reason) {
    case 'rate_limited':
    case 'account_locked':
      // Retry-After in whole minutes, rounded up ("1 minute", "15 minutes").
      return { key: `errors.${e.reason}`, values: { minutes: Math.ceil((e.retryAfter ?? 60) / 60) } };
    case 'password_too_weak':
      return { key: 'errors.password_too_weak', values: { problems: (p.problems as PasswordProblem[]).map(problemText) } };
    default: {
      const values: Record<string, string | number> = {};
      for (const [k, v] of Object.entries(p)) if (typeof v === 'string' || typeof v === 'number') values[k] = v;
      return { key: `errors.${e.reason}`, values };
    }
  }
}

function problemText(p: PasswordProblem): Text {
  const { rule, ...values } = p;
  return { key: `errors.problem_${rule}`, values };
}

/**
 * A domain refusal shown on a hosted form (the sign-in page, the account pages): the status and the
 * message; sets Retry-After. Server faults are rethrown for the error handler.
 */
export function formError(reply: FastifyReply, err: unknown): { status: number; message: Text } {
  if (!(err instanceof AppError)) throw err;
  const wire = wireError('html', err);
  if (wire.status >= 500) throw err;
  if (err.retryAfter !== undefined) reply.header('Retry-After', String(err.retryAfter));
  return { status: wire.status, message: pageText(err) };
}

function describeValidation(err: FastifyError): string {
  if (hasZodFastifySchemaValidationErrors(err)) {
    return err.validation
      .map((v) => {
        const path = v.instancePath.replace(/^\//, '').replaceAll('/', '.');
        const field = path || (v.params as { issue?: { path?: unknown[] } })?.issue?.path?.join('.') || err.validationContext;
        return `${field ? `${field}: ` : ''}${v.message}`;
      })
      .join('; ');
  }
  return err.message;
}

/**
 * Maps what Fastify itself throws (bad JSON, body too large, wrong content type, CSRF) to AppErrors;
 * `httpStatus` keeps the status of a Fastify 4xx that has no reason of its own.
 */
export function toAppError(err: unknown): { error: AppError; httpStatus?: number } {
  if (err instanceof AppError) return { error: err };
  if (err instanceof DatabaseUnavailableError) {
    return { error: appError('database_unavailable', { retryAfter: err.retryAfterSeconds, detail: err.message }) };
  }
  const fe = err as FastifyError;
  if (fe.validation) return { error: appError('invalid_input', { problems: describeValidation(fe) }) };
  if (fe.code === 'FST_CSRF_INVALID_TOKEN' || fe.code === 'FST_CSRF_MISSING_SECRET') return { error: appError('form_expired') };
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return { error: appError('body_too_large') };
  if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return { error: appError('unsupported_media_type', {}) };
  if (fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return { error: appError('invalid_json') };
  // The router's own refusals (Fastify's frameworkErrors): a 400 like any other bad path parameter.
  if (fe.code === 'FST_ERR_MAX_PARAM_LENGTH') return { error: appError('invalid_input', { problems: 'a path parameter is too long' }) };
  if (fe.code === 'FST_ERR_BAD_URL')
    return { error: appError('invalid_input', { problems: 'the path is not valid percent-encoded UTF-8' }) };
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    const reason = fe.statusCode === 404 ? 'route_not_found' : 'request_not_processed';
    return { error: appError(reason, { detail: fe.message }), httpStatus: fe.statusCode };
  }
  return { error: appError('server_error', { detail: (err as Error)?.message }) };
}

export async function errorHandler(this: unknown, err: unknown, request: FastifyRequest, reply: FastifyReply) {
  const { error, httpStatus } = toAppError(err);
  if (error.code === 'server_error') request.log.error({ err }, 'unhandled error');
  const wire = wireError(formatOf(request), error, httpStatus);
  if (err instanceof DatabaseUnavailableError) {
    request.log.warn({ event: 'request.unavailable', reason: err.reason, detail: err.message }, 'database unavailable: 503');
  } else if (error.code !== 'server_error') {
    request.log.info(
      { event: 'request.rejected', code: error.code, reason: error.reason, status: wire.status, detail: error.detail ?? error.description },
      'request rejected',
    );
  }
  return send(request, reply, error, wire);
}

/** The APIs whose every answer is `{detail}`: a path under them that matched no route answers so too. */
const DETAIL_PREFIXES = /^\/(?:admin|api)(?:[/?]|$)/;

function formatOf(request: FastifyRequest): ErrorFormat {
  const own = request.routeOptions.config?.errorFormat;
  if (own) return own;
  // No route (a 404, or a URL the router refused): the shape of the API the path belongs to.
  if (request.is404 && DETAIL_PREFIXES.test(request.url)) return 'detail';
  return 'keymaster';
}

/** Answers `e` in the route's error format (the not-found handler, the error handler). */
export function sendError(request: FastifyRequest, reply: FastifyReply, e: AppError) {
  return send(request, reply, e, wireError(formatOf(request), e));
}

/** A browser asking for a page (a GET whose Accept puts text/html before JSON): an unknown path gets the 404 page. */
export function prefersHtml(request: FastifyRequest): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  const accept = request.headers.accept ?? '';
  const html = accept.indexOf('text/html');
  const json = accept.indexOf('application/json');
  return html !== -1 && (json === -1 || html < json);
}

/** A way back a route named for its error page (wayBackOnError). */
interface WayBack {
  href: string;
  label: Text;
}
const wayBacks = new WeakMap<FastifyRequest, WayBack>();

/**
 * Names the way back of this request's error page, for a route that knows better than the form's
 * fields where to go (a broken /authorize request goes back to the client, never to a sign-in that
 * would answer with tokens). Set just before the error is thrown on.
 */
export function wayBackOnError(request: FastifyRequest, back: WayBack): void {
  wayBacks.set(request, back);
}

/**
 * The branded error page: what happened, a reference that is in the log line of this request (reqId),
 * and a way back: the one the route named (wayBackOnError), else the app's sign-in page the form came
 * from, else Keymaster's start page.
 */
function renderErrorPage(request: FastifyRequest, reply: FastifyReply, e: AppError, wire: WireError) {
  const signIn = signIns.get(request);
  if (signIn && isAccessRefusal(e)) return renderMembershipRefused(request, reply, e, signIn, wire.status);
  const notFound = e.reason === 'route_not_found';
  const title = notFound ? 'error.titleNotFound' : wire.status >= 500 ? 'error.titleServer' : 'error.titleRefused';
  const message = notFound ? { key: 'error.notFound' } : pageText(e);
  const named = wayBacks.get(request);
  return renderPage(
    reply,
    'error.eta',
    {
      title,
      message,
      reference: request.id,
      home: '/',
      uiLocales: uiLocalesOf(request),
      ...(named ? { back: named.href, backLabel: named.label } : signInPageOf(request)),
    },
    wire.status,
  );
}

/** The hosted sign-in a request was for (signInOnError): the app, its callback and the pending request. */
export interface HostedSignIn {
  app: PageApp;
  redirectUri: string;
  state?: string | undefined;
  authz?: string | undefined;
  uiLocales?: string | undefined;
}
const signIns = new WeakMap<FastifyRequest, HostedSignIn>();

/**
 * Names the app a hosted sign-in is for (its callback already checked as registered): if the app's
 * access rule refuses the user (memberships.ts admitToApp: waiting for approval, no access, suspended),
 * the error page is that app's own membership page instead of the generic one.
 */
export function signInOnError(request: FastifyRequest, signIn: HostedSignIn): void {
  signIns.set(request, signIn);
}

/** Each refusal's page: its kind (the template's text) and title. */
const MEMBERSHIP_PAGES: Partial<Record<Reason, { kind: string; title: string }>> = {
  membership_pending: { kind: 'pending', title: 'membership.pendingTitle' },
  app_access_denied: { kind: 'denied', title: 'membership.deniedTitle' },
  membership_suspended: { kind: 'suspended', title: 'membership.suspendedTitle' },
};

/**
 * A membership refusal (issue 14) in the app's branding: what happened and what to do, as a page of
 * its own. Not a fault, so no support reference. 403 like the account API's answer: access is not
 * granted (yet), and a client or monitor reading the status sees the same as the JSON paths. Ways on:
 * sign in with a different account (the sign-in form with prompt=login semantics: the SSO session is
 * not resumed, and a new sign-in replaces it), and back to the app: the client's callback with
 * access_denied for an OIDC request (refuseSignInRequest named it), else the site of the registered
 * callback.
 */
function renderMembershipRefused(request: FastifyRequest, reply: FastifyReply, e: AppError, s: HostedSignIn, status: number) {
  const { kind, title } = MEMBERSHIP_PAGES[e.reason] ?? MEMBERSHIP_PAGES.app_access_denied!;
  const q = new URLSearchParams({ app_id: s.app.appId, redirect_uri: s.redirectUri });
  if (s.state !== undefined) q.set('state', s.state);
  // A sealed /authorize request is answered by the form, never by the SSO session; without one, prompt=login says so.
  if (s.authz !== undefined) q.set('authz', s.authz);
  else q.set('prompt', 'login');
  if (s.uiLocales !== undefined) q.set('ui_locales', s.uiLocales);
  return renderPage(
    reply,
    'membership-refused.eta',
    {
      title,
      app: s.app,
      sub: 'membership.forApp',
      kind,
      signInAgain: `/login?${q.toString()}`,
      backToApp: wayBacks.get(request)?.href ?? siteOf(s.redirectUri),
      uiLocales: s.uiLocales,
    },
    status,
  );
}

/** The site of a registered web callback (https, or http on loopback): the app's own pages. */
function siteOf(uri: string): string | undefined {
  try {
    const u = new URL(uri);
    return u.protocol === 'https:' || u.protocol === 'http:' ? `${u.origin}/` : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A refused form post (a throttle before the handler ran, a bad CSRF token) goes back to the app's
 * sign-in page when the form named the app and its callback, with the pending sign-in it carried
 * (the app's state, the sealed /authorize request) within the login schema's limits; /login checks
 * everything again.
 */
function signInPageOf(request: FastifyRequest): { back: string; backLabel: Text } | undefined {
  if (request.method !== 'POST') return undefined;
  const body = request.body as Record<string, unknown> | undefined;
  const field = (name: string, max: number) => {
    const v = body?.[name];
    return typeof v === 'string' && v.length <= max ? v : undefined;
  };
  const appId = field('app_id', 100);
  const redirectUri = field('redirect_uri', 2000);
  if (appId === undefined || redirectUri === undefined) return undefined;
  const state = field('state', 1000);
  const authz = field('authz', 8000);
  // A pending request that does not fit is not dropped (that would turn a code flow into tokens): no link.
  if ((body?.authz !== undefined && authz === undefined) || (body?.state !== undefined && state === undefined)) return undefined;
  const q = new URLSearchParams({ app_id: appId, redirect_uri: redirectUri });
  if (state !== undefined) q.set('state', state);
  if (authz !== undefined) q.set('authz', authz);
  if (body?.prompt === 'login') q.set('prompt', 'login');
  const uiLocales = field('ui_locales', 100);
  if (uiLocales !== undefined) q.set('ui_locales', uiLocales);
  return { back: `/login?${q.toString()}`, backLabel: { key: 'error.backToSignIn' } };
}

/** The ui_locales the refused request carried (query or form), so its error page keeps the journey's language. */
function uiLocalesOf(request: FastifyRequest): string | undefined {
  for (const source of [request.query, request.body]) {
    const v = (source as Record<string, unknown> | undefined)?.ui_locales;
    if (typeof v === 'string' && v.length <= 100) return v;
  }
  return undefined;
}

function send(request: FastifyRequest, reply: FastifyReply, e: AppError, wire: WireError) {
  const format = formatOf(request);
  reply.status(wire.status);
  // A 404 or an error raised before the route's onRequest hook ran has no security headers yet.
  if (!reply.hasHeader('x-content-type-options')) reply.headers(request.server.securityHeaders);
  if (e.retryAfter !== undefined) reply.header('Retry-After', String(e.retryAfter));
  reply.header('Cache-Control', 'no-store');
  if (format === 'html' || (e.reason === 'route_not_found' && prefersHtml(request))) {
    return renderErrorPage(request, reply, e, wire);
  }
  if (format === 'detail') {
    // RFC 6750 §3: a refused bearer token is announced in WWW-Authenticate whatever the body shape.
    if (e.code === 'invalid_token') reply.header('WWW-Authenticate', `Bearer realm="keymaster", error="invalid_token"`);
    // A limit with its own text (Too many TOTP attempts) says it too.
    if (e.code === 'rate_limited')
      return reply.send({ error: 'rate_limited', retry_after: e.retryAfter, ...(e.reason !== 'rate_limited' && { detail: wire.text }) });
    // Like the documented 429: the code and the delay in the body, and the text a {detail} reader shows.
    if (e.code === 'temporarily_unavailable') return reply.send({ error: e.code, retry_after: e.retryAfter, detail: wire.text });
    return reply.send({ detail: wire.text });
  }
  if (e.code === 'invalid_client') reply.header('WWW-Authenticate', 'Basic realm="keymaster", error="invalid_client"');
  if (e.code === 'invalid_token') {
    reply.header(
      'WWW-Authenticate',
      `Bearer realm="keymaster", error="invalid_token", error_description="${wire.text.replace(/"/g, "'")}"`,
    );
  }
  // RFC 6749 §5.2: error_description is limited to %x20-21 / %x23-5B / %x5D-7E.
  const description = wire.text.replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, '?');
  // KEYMASTER-API.md §2: a 429 carries retry_after in the body as well as the Retry-After header.
  if (e.code === 'rate_limited') return reply.send({ error: wire.error, error_description: description, retry_after: e.retryAfter });
  return reply.send({ error: wire.error, error_description: description });
}

const CLIENT_ERRORS: Record<string, [number, string, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large', 'Request headers are too large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout', 'The request was not received in time'],
};

/**
 * Errors the HTTP parser raises before there is a request or a route (Fastify's clientErrorHandler):
 * answered in the OAuth JSON shape, the default of sendError, then the socket is closed.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Duplex): void {
  // A reset connection has nobody to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, reason, description] = CLIENT_ERRORS[err.code ?? ''] ?? [400, 'Bad Request', 'The request is malformed'];
  const body = JSON.stringify({ error: 'invalid_request', error_description: description });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}
