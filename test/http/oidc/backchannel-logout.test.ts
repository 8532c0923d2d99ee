// OpenID Connect Back-Channel Logout 1.0, named after the conformance suite's modules: every way a
// session ends sends each app that signed in through it a logout token, through the delivery queue,
// to a real receiver on 127.0.0.1 that verifies every token with jose against the server's JWKS.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminUpdateUser } from '../../../src/domain/accounts/accounts.js';
import { createApp, updateApp, type App } from '../../../src/domain/apps/apps.js';
import { revokeTokens } from '../../../src/domain/tokens/token-inventory.js';
import { deliverDueWebhooks, type DeliveryOptions } from '../../../src/domain/webhooks/webhook-delivery.js';
import { type FixedClock, SECOND } from '../../../src/lib/clock.js';
import { createTestContext, type TestContext } from '../../helpers/app.js';
import { DEFAULT_REDIRECT, makeApp, makeUser } from '../../helpers/factories.js';
import { cookieHeader, cookiesOf, csrfTokenOf, FORM } from '../../helpers/http.js';
import { authorizeQuery, basicAuth, obtainCode, postForm } from '../../helpers/oidc.js';
import { linkIn, startSmtpCapture, type SmtpCapture } from '../../helpers/smtp.js';

const EVENT = 'http://schemas.openid.net/event/backchannel-logout';

interface Received {
  path: string;
  contentType: string | undefined;
  body: string;
}

/** A real receiver: records every POST and answers with the next queued status (200 when none). */
class LogoutReceiver {
  received: Received[] = [];
  statuses: number[] = [];
  base = '';
  #server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      this.received.push({ path: req.url ?? '', contentType: req.headers['content-type'], body: Buffer.concat(chunks).toString('utf8') });
      res.statusCode = this.statuses.shift() ?? 200;
      res.end();
    });
  });
  async start() {
    await new Promise<void>((r) => this.#server.listen(0, '127.0.0.1', r));
    this.base = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }
  stop() {
    return new Promise<void>((r) => this.#server.close(() => r()));
  }
}

let ctx: TestContext;
let rx: LogoutReceiver;
let smtp: SmtpCapture;
const clock = () => ctx.clock as FixedClock;
const OPTS: DeliveryOptions = { maxAttempts: 3, timeoutMs: 5000, baseDelayMs: 30 * SECOND, random: () => 1 };
/** Every jti seen by the receiver in this file: each token has its own (§2.4). */
const seenJtis = new Set<string>();

beforeAll(async () => {
  smtp = await startSmtpCapture();
  // The receiver is on loopback, which the delivery worker may reach only when allow-listed (development).
  ctx = await createTestContext({ clock: 'fixed', env: { KEYMASTER_WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8', SMTP_URL: smtp.url } });
  rx = new LogoutReceiver();
  await rx.start();
});
afterAll(async () => {
  await rx.stop();
  await ctx.close();
  await smtp.close();
});

let appSeq = 0;
/** An app whose back-channel logout URI is a path of the receiver of its own. */
async function logoutApp(input: Parameters<typeof makeApp>[1] = {}) {
  const path = `/bcl/${++appSeq}?tenant=t1`;
  const made = await makeApp(ctx.deps, { backchannelLogoutUri: `${rx.base}${path}`, ...input });
  return { ...made, path };
}

/** A code-flow sign-in (a fresh browser unless `cookies` carries an SSO session): the ID token and the cookies. */
async function codeSignIn(
  app: { app: App; clientSecret: string },
  user: { email: string; password: string },
  opts: { scope?: string; cookies?: Record<string, string> } = {},
) {
  const extra = { scope: opts.scope ?? 'openid offline_access' };
  let code: string;
  let cookies: Record<string, string>;
  if (opts.cookies) {
    const res = await ctx.app.inject({
      url: `/authorize?${authorizeQuery(app.app.appId, extra)}`,
      headers: { cookie: cookieHeader(opts.cookies) },
    });
    expect(res.statusCode).toBe(303);
    code = new URL(res.headers.location as string).searchParams.get('code')!;
    cookies = opts.cookies;
  } else {
    ({ code, cookies } = await obtainCode(ctx, app.app.appId, user, extra));
  }
  const tokens = (
    await postForm(
      ctx,
      '/token',
      { grant_type: 'authorization_code', code, redirect_uri: DEFAULT_REDIRECT },
      { authorization: basicAuth(app.app.appId, app.clientSecret) },
    )
  ).json();
  return {
    idToken: tokens.id_token as string,
    accessToken: tokens.access_token as string,
    sid: decodeJwt(tokens.id_token).sid as string,
    cookies,
  };
}

/** What a relying party does with a logout token (§2.6): jose against our JWKS, then the claims. */
async function verifyLogoutToken(token: string, appId: string): Promise<JWTPayload> {
  const jwks = createLocalJWKSet((await ctx.app.inject({ url: '/.well-known/jwks.json' })).json());
  const { payload } = await jwtVerify(token, jwks, {
    issuer: ctx.deps.config.issuer,
    audience: appId,
    typ: 'logout+jwt',
    algorithms: ['RS256'],
    currentDate: clock().now(),
    requiredClaims: ['iat', 'exp', 'jti', 'sub', 'sid', 'events'],
  });
  expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'RS256', typ: 'logout+jwt' });
  expect(payload.events).toEqual({ [EVENT]: {} });
  expect(payload).not.toHaveProperty('nonce');
  expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(120);
  expect(seenJtis.has(payload.jti!)).toBe(false);
  seenJtis.add(payload.jti!);
  return payload;
}

/** The logout tokens the receiver got on `path`, each verified for `appId`. */
async function tokensAt(path: string, appId: string): Promise<JWTPayload[]> {
  const got = rx.received.filter((r) => r.path === path);
  const out: JWTPayload[] = [];
  for (const r of got) {
    expect(r.contentType).toBe('application/x-www-form-urlencoded');
    const form = new URLSearchParams(r.body);
    expect([...form.keys()]).toEqual(['logout_token']);
    out.push(await verifyLogoutToken(form.get('logout_token')!, appId));
  }
  return out;
}

const queued = (appId: string) =>
  ctx.deps.db.selectFrom('webhook_deliveries').selectAll().where('app_id', '=', appId).where('event', '=', 'backchannel_logout').execute();

async function ssoLogout(cookies: Record<string, string>) {
  const page = await ctx.app.inject({ url: '/sso/logout', headers: { cookie: cookieHeader(cookies) } });
  const res = await ctx.app.inject({
    method: 'POST',
    url: '/sso/logout',
    headers: { ...FORM, cookie: cookieHeader({ ...cookies, ...cookiesOf(page) }) },
    payload: new URLSearchParams({ _csrf: csrfTokenOf(page.body) }).toString(),
  });
  expect(res.statusCode).toBe(200);
}

describe('Back-Channel Logout 1.0', () => {
  it('oidcc-backchannel-rp-initiated-logout: /end_session tells every app of the session; jose verifies each token; sid is the ID token sid', async () => {
    const withRefresh = await logoutApp();
    const codeOnly = await logoutApp();
    const untold = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    const other = await makeUser(ctx.deps);
    const a = await codeSignIn(withRefresh, { email: user.email, password });
    // The same SSO session signs in to two more apps: one without a refresh token (a code-flow sign-in only).
    const b = await codeSignIn(codeOnly, { email: user.email, password }, { scope: 'openid', cookies: a.cookies });
    await codeSignIn(untold, { email: user.email, password }, { cookies: a.cookies });
    expect(b.sid).toBe(a.sid);
    // Another user's session at the same app is not concerned.
    await codeSignIn(withRefresh, { email: other.user.email, password: other.password });

    const res = await ctx.app.inject({ url: `/end_session?id_token_hint=${a.idToken}`, headers: { cookie: cookieHeader(a.cookies) } });
    expect(res.statusCode).toBe(200);
    // Queued in the sign-out, not sent on the request path.
    expect(rx.received.filter((r) => r.path === withRefresh.path || r.path === codeOnly.path)).toEqual([]);
    expect(await queued(withRefresh.app.appId)).toHaveLength(1);
    expect(await queued(untold.app.appId)).toEqual([]);

    await deliverDueWebhooks(ctx.deps, OPTS);
    const [ta, ...moreA] = await tokensAt(withRefresh.path, withRefresh.app.appId);
    const [tb, ...moreB] = await tokensAt(codeOnly.path, codeOnly.app.appId);
    expect([moreA, moreB]).toEqual([[], []]);
    expect(ta).toMatchObject({ sub: user.id, sid: a.sid, aud: withRefresh.app.appId, iss: ctx.deps.config.issuer });
    expect(tb).toMatchObject({ sub: user.id, sid: a.sid, aud: codeOnly.app.appId });
    expect(await queued(withRefresh.app.appId)).toMatchObject([{ status: 'delivered', attempts: 1, last_status: 200, webhook_id: null }]);
  });

  it('oidcc-backchannel-rp-initiated-logout-retry: a receiver answering 500 gets the logout again, as a fresh token', async () => {
    const app = await logoutApp();
    const { user, password } = await makeUser(ctx.deps);
    const s = await codeSignIn(app, { email: user.email, password });
    await ssoLogout(s.cookies);
    rx.statuses.push(500);
    expect(await deliverDueWebhooks(ctx.deps, OPTS)).toMatchObject({ retried: 1 });
    expect(await queued(app.app.appId)).toMatchObject([{ status: 'pending', attempts: 1, last_status: 500 }]);
    // Not due before its backoff (30 s here); then sent again and accepted.
    expect(await deliverDueWebhooks(ctx.deps, OPTS)).toMatchObject({ claimed: 0 });
    clock().advance(31 * SECOND);
    expect(await deliverDueWebhooks(ctx.deps, OPTS)).toMatchObject({ delivered: 1 });
    const tokens = await tokensAt(app.path, app.app.appId);
    expect(tokens).toHaveLength(2);
    for (const t of tokens) expect(t).toMatchObject({ sub: user.id, sid: s.sid });
    // Signed at each attempt: the retry's token is valid from its own sending.
    expect(tokens[1]!.iat).toBe(tokens[0]!.iat! + 31);
    expect(await queued(app.app.appId)).toMatchObject([{ status: 'delivered', attempts: 2, last_status: 200 }]);
  });

  it('Keymaster sign-out (/sso/logout) sends the logout token for the session', async () => {
    const app = await logoutApp();
    const { user, password } = await makeUser(ctx.deps);
    const s = await codeSignIn(app, { email: user.email, password });
    await ssoLogout(s.cookies);
    await deliverDueWebhooks(ctx.deps, OPTS);
    expect(await tokensAt(app.path, app.app.appId)).toMatchObject([{ sub: user.id, sid: s.sid }]);
  });

  it('sign out everywhere (DELETE /api/v1/auth/sessions) tells the apps of every session of the user', async () => {
    const app = await logoutApp();
    const { user, password } = await makeUser(ctx.deps);
    const laptop = await codeSignIn(app, { email: user.email, password });
    const phone = await codeSignIn(app, { email: user.email, password });
    expect(phone.sid).not.toBe(laptop.sid);
    const res = await ctx.app.inject({
      method: 'DELETE',
      url: '/api/v1/auth/sessions',
      headers: { authorization: `Bearer ${phone.accessToken}` },
    });
    expect(res.statusCode).toBe(200);
    await deliverDueWebhooks(ctx.deps, OPTS);
    const sids = (await tokensAt(app.path, app.app.appId)).map((t) => t.sid);
    expect(sids.sort()).toEqual([laptop.sid, phone.sid].sort());
  });

  it('a password reset ends every session, and each app is told', async () => {
    const app = await logoutApp();
    const { user, password } = await makeUser(ctx.deps);
    const s = await codeSignIn(app, { email: user.email, password });
    const reset = await ctx.app.inject({ method: 'POST', url: '/api/v1/auth/password-reset/request', payload: { email: user.email } });
    expect(reset.statusCode).toBe(200);
    const token = linkIn(await smtp.next(user.email), '/account/reset-password').searchParams.get('token')!;
    const confirm = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/auth/password-reset/confirm',
      payload: { token, new_password: 'N3w-Passw0rd!-bcl' },
    });
    expect(confirm.statusCode).toBe(200);
    await deliverDueWebhooks(ctx.deps, OPTS);
    expect(await tokensAt(app.path, app.app.appId)).toMatchObject([{ sub: user.id, sid: s.sid }]);
  });

  it('a password change (PATCH /api/v1/auth/me) ends every session, and each app is told', async () => {
    const app = await logoutApp();
    const { user, password } = await makeUser(ctx.deps);
    const s = await codeSignIn(app, { email: user.email, password });
    const res = await ctx.app.inject({
      method: 'PATCH',
      url: '/api/v1/auth/me',
      headers: { authorization: `Bearer ${s.accessToken}` },
      payload: { current_password: password, new_password: 'An0ther-Passw0rd!-bcl' },
    });
    expect(res.statusCode).toBe(200);
    await deliverDueWebhooks(ctx.deps, OPTS);
    expect(await tokensAt(app.path, app.app.appId)).toMatchObject([{ sub: user.id, sid: s.sid }]);
  });

  it('disabling a user (keymaster users update --disabled) tells the apps of every session', async () => {
    const app = await logoutApp();
    const { user, password } = await makeUser(ctx.deps);
    const s = await codeSignIn(app, { email: user.email, password });
    await adminUpdateUser(ctx.deps, user.id, { disabled: true });
    await deliverDueWebhooks(ctx.deps, OPTS);
    expect(await tokensAt(app.path, app.app.appId)).toMatchObject([{ sub: user.id, sid: s.sid }]);
  });

  it('an admin revoking a refresh-token family (keymaster tokens revoke --family) tells that app only', async () => {
    const revokedApp = await logoutApp();
    const keptApp = await logoutApp();
    const { user, password } = await makeUser(ctx.deps);
    const s = await codeSignIn(revokedApp, { email: user.email, password });
    await codeSignIn(keptApp, { email: user.email, password }, { cookies: s.cookies });
    const family = await ctx.deps.db
      .selectFrom('refresh_tokens')
      .select('family_id')
      .where('app_id', '=', revokedApp.app.appId)
      .where('user_id', '=', user.id)
      .executeTakeFirstOrThrow();
    expect(await revokeTokens(ctx.deps, { familyId: family.family_id })).toMatchObject({ revoked: 1 });
    await deliverDueWebhooks(ctx.deps, OPTS);
    expect(await tokensAt(revokedApp.path, revokedApp.app.appId)).toMatchObject([{ sub: user.id, sid: s.sid }]);
    expect(await tokensAt(keptApp.path, keptApp.app.appId)).toEqual([]);
  });

  it('the user ending one sign-in (DELETE /api/v1/auth/sessions/:id) tells that app, with the sid', async () => {
    const app = await logoutApp();
    const { user, password } = await makeUser(ctx.deps);
    const s = await codeSignIn(app, { email: user.email, password });
    const bearer = { authorization: `Bearer ${s.accessToken}` };
    const [listed] = (await ctx.app.inject({ url: '/api/v1/auth/sessions', headers: bearer })).json().sessions;
    const res = await ctx.app.inject({ method: 'DELETE', url: `/api/v1/auth/sessions/${listed.id}`, headers: bearer });
    expect(res.statusCode).toBe(200);
    await deliverDueWebhooks(ctx.deps, OPTS);
    expect(await tokensAt(app.path, app.app.appId)).toMatchObject([{ sub: user.id, sid: s.sid }]);
  });

  it('an app that clears its URI before delivery is not contacted (the delivery fails, nothing is sent)', async () => {
    const app = await logoutApp();
    const { user, password } = await makeUser(ctx.deps);
    const s = await codeSignIn(app, { email: user.email, password });
    await ssoLogout(s.cookies);
    await updateApp(ctx.deps, app.app.appId, { backchannelLogoutUri: null });
    await deliverDueWebhooks(ctx.deps, OPTS);
    expect(await queued(app.app.appId)).toMatchObject([{ status: 'failed', last_error: 'no backchannel_logout_uri' }]);
    expect(await tokensAt(app.path, app.app.appId)).toEqual([]);
  });

  it('the outbound address policy applies: a loopback URI is never connected to without the allow-list', async () => {
    const app = await logoutApp();
    const { user, password } = await makeUser(ctx.deps);
    const s = await codeSignIn(app, { email: user.email, password });
    await ssoLogout(s.cookies);
    const strict = { ...ctx.deps, config: { ...ctx.deps.config, webhookAllowedCidrs: [] } };
    await deliverDueWebhooks(strict, { ...OPTS, maxAttempts: 1 });
    const [row] = await queued(app.app.appId);
    expect(row).toMatchObject({ status: 'failed', last_status: null });
    expect(row!.last_error).toMatch(/address 127\.0\.0\.1 is in a private, loopback, link-local or reserved range/);
    expect(rx.received.filter((r) => r.path === app.path)).toEqual([]);
    expect(ctx.logs().some((l) => l.event === 'backchannel_logout.address_refused' && l.appId === app.app.appId)).toBe(true);
  });
});

describe('registration (§2.2) and discovery (§2.1)', () => {
  it('backchannel_logout_uri: absolute http(s) without a fragment; http only on loopback unless development; null clears', async () => {
    const base = { name: 'BCL', redirectUris: [DEFAULT_REDIRECT] };
    for (const uri of ['not a uri', 'ftp://rp.example/bcl', 'https://rp.example/bcl#frag', '/relative']) {
      await expect(createApp(ctx.deps, { ...base, backchannelLogoutUri: uri }), uri).rejects.toThrow();
    }
    await expect(createApp(ctx.deps, { ...base, backchannelLogoutUri: 'http://rp.example/bcl' })).rejects.toMatchObject({
      reason: 'http_uri_not_loopback',
    });
    const dev = await createApp(ctx.deps, { ...base, development: true, backchannelLogoutUri: 'http://rp.example/bcl' });
    expect(dev.app.backchannelLogoutUri).toBe('http://rp.example/bcl');
    const { app } = await createApp(ctx.deps, { ...base, backchannelLogoutUri: 'https://rp.example/bcl?x=1' });
    expect(app.backchannelLogoutUri).toBe('https://rp.example/bcl?x=1');
    await expect(updateApp(ctx.deps, app.appId, { backchannelLogoutUri: 'http://rp.example/bcl' })).rejects.toMatchObject({
      reason: 'http_uri_not_loopback',
    });
    expect((await updateApp(ctx.deps, app.appId, { backchannelLogoutUri: null })).backchannelLogoutUri).toBeNull();
  });

  it('oidcc-backchannel-logout-discovery-endpoint-verification: back-channel logout with sid, and an end_session_endpoint', async () => {
    const doc = (await ctx.app.inject({ url: '/.well-known/openid-configuration' })).json();
    expect(doc).toMatchObject({ backchannel_logout_supported: true, backchannel_logout_session_supported: true });
    expect(doc.end_session_endpoint).toBe(`${ctx.deps.config.issuer}/end_session`);
  });
});
