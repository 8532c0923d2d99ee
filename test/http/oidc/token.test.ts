// POST /token and /auth/token: the RFC 9700 negatives, each with its exact error, and the rows behind them.
import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECOND, type FixedClock } from '../../../src/lib/clock.js';
import { createTestContext, type TestContext } from '../../helpers/app.js';
import { DEFAULT_REDIRECT, makeApp, makeUser } from '../../helpers/factories.js';
import { basicAuth, obtainCode, pkcePair, postForm } from '../../helpers/oidc.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ clock: 'fixed', env: { KEYMASTER_REFRESH_REUSE_INTERVAL: '0' } });
});
afterAll(() => ctx.close());

async function setup(appInput = {}, extra: Record<string, string | undefined> = {}) {
  const { app, clientSecret } = await makeApp(ctx.deps, appInput);
  const { user, password } = await makeUser(ctx.deps);
  const pkce = pkcePair();
  const { code, cookies } = await obtainCode(
    ctx,
    app.appId,
    { email: user.email, password },
    { code_challenge: pkce.challenge, code_challenge_method: 'S256', ...extra },
  );
  return { app, clientSecret, user, password, pkce, code, cookies, auth: { authorization: basicAuth(app.appId, clientSecret) } };
}

const exchange = (s: Awaited<ReturnType<typeof setup>>, over: Record<string, string | undefined> = {}, headers = s.auth) =>
  postForm(
    ctx,
    '/token',
    { grant_type: 'authorization_code', code: s.code, redirect_uri: DEFAULT_REDIRECT, code_verifier: s.pkce.verifier, ...over },
    headers,
  );

const jwks = () => createLocalJWKSet(JSON.parse(ctx.deps.keys.jwksBody));

describe('POST /token: authorization_code', () => {
  it('oidcc-server: issues access, ID and refresh tokens; no-store; ID token verifies with jose', async () => {
    const s = await setup();
    const res = await exchange(s);
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers.pragma).toBe('no-cache');
    const body = res.json();
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 900, scope: 'openid profile email offline_access' });
    const { payload, protectedHeader } = await jwtVerify(body.id_token, jwks(), {
      issuer: ctx.deps.config.issuer,
      audience: s.app.appId,
      algorithms: ['RS256'],
      currentDate: ctx.clock.now(),
    });
    expect(protectedHeader.typ).toBe('JWT');
    expect(payload).toMatchObject({ sub: s.user.id, nonce: 'n-1', email: s.user.email, email_verified: true, name: 'Test User' });
    expect(payload.auth_time).toBe(Math.floor(ctx.clock.now().getTime() / 1000));
    expect(payload.at_hash).toHaveLength(22);
    expect(decodeJwt(body.access_token).aud).toBe(s.app.appId);
    const rt = await ctx.deps.db.selectFrom('refresh_tokens').selectAll().where('user_id', '=', s.user.id).executeTakeFirstOrThrow();
    expect(rt.scope).toBe('openid profile email offline_access');
    expect(rt.token_hash).not.toBe(body.refresh_token);
  });

  it('client_secret_post authenticates too; no offline_access means no refresh token', async () => {
    const s = await setup({}, { scope: 'openid' });
    const res = await exchange(s, { client_id: s.app.appId, client_secret: s.clientSecret }, {} as never);
    expect(res.statusCode).toBe(200);
    expect(res.json().refresh_token).toBeUndefined();
    expect(res.json().id_token).toBeTruthy();
    expect(await ctx.deps.db.selectFrom('refresh_tokens').select('jti').where('user_id', '=', s.user.id).execute()).toHaveLength(0);
  });

  it('oidcc-codereuse: a second use fails invalid_grant and revokes the tokens the first use issued', async () => {
    const s = await setup();
    const first = await exchange(s);
    expect(first.statusCode).toBe(200);
    const again = await exchange(s);
    expect(again.statusCode).toBe(400);
    expect(again.json().error).toBe('invalid_grant');
    const rows = await ctx.deps.db
      .selectFrom('refresh_tokens')
      .select(['revoked_at', 'revoked_reason'])
      .where('user_id', '=', s.user.id)
      .execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ revoked_reason: 'code_replay' });
    const audit = await ctx.deps.db
      .selectFrom('audit_events')
      .select('event')
      .where('user_id', '=', s.user.id)
      .where('event', '=', 'authorization_code.replay')
      .execute();
    expect(audit).toHaveLength(1);
    const refresh = await postForm(ctx, '/token', { grant_type: 'refresh_token', refresh_token: first.json().refresh_token }, s.auth);
    expect(refresh.json().error).toBe('invalid_grant');
  });

  it('concurrent redemptions: at most one wins, and no refresh token stays live', async () => {
    const s = await setup();
    const results = await Promise.all([exchange(s), exchange(s), exchange(s)]);
    expect(results.filter((r) => r.statusCode === 200).length).toBeLessThanOrEqual(1);
    expect(results.filter((r) => r.statusCode === 400).every((r) => r.json().error === 'invalid_grant')).toBe(true);
    const live = await ctx.deps.db
      .selectFrom('refresh_tokens')
      .select('jti')
      .where('user_id', '=', s.user.id)
      .where('revoked_at', 'is', null)
      .execute();
    expect(live).toHaveLength(0);
  });

  it('a code expires after 60 s', async () => {
    const s = await setup();
    (ctx.clock as FixedClock).advance(61 * SECOND);
    const res = await exchange(s);
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe('invalid_grant');
  });

  it('PKCE: missing, wrong or plain (challenge as verifier) verifier → invalid_grant', async () => {
    for (const over of [{ code_verifier: undefined }, { code_verifier: pkcePair().verifier }, {}]) {
      const s = await setup();
      const res = await exchange(s, Object.keys(over).length ? over : { code_verifier: s.pkce.challenge });
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toBe('invalid_grant');
    }
  });

  it('a verifier without a challenge in the request is refused', async () => {
    const s = await setup({}, { code_challenge: undefined, code_challenge_method: undefined });
    const res = await exchange(s);
    expect(res.json().error).toBe('invalid_grant');
  });

  it('redirect_uri mismatch (or missing) → invalid_grant', async () => {
    const s = await setup({ redirectUris: [DEFAULT_REDIRECT, 'https://app.example.com/other'] });
    expect((await exchange(s, { redirect_uri: 'https://app.example.com/other' })).json().error).toBe('invalid_grant');
    const t = await setup();
    expect((await exchange(t, { redirect_uri: undefined })).json().error).toBe('invalid_grant');
  });

  it('a code is bound to its client: another client gets invalid_grant and the code survives', async () => {
    const s = await setup();
    const { app: other, clientSecret } = await makeApp(ctx.deps);
    const res = await exchange(s, {}, { authorization: basicAuth(other.appId, clientSecret) });
    expect(res.json().error).toBe('invalid_grant');
    expect((await exchange(s)).statusCode).toBe(200);
  });

  it('wrong client secret gets the same answer as an unknown client: 401 invalid_client + WWW-Authenticate', async () => {
    const s = await setup();
    const wrong = await exchange(s, {}, { authorization: basicAuth(s.app.appId, 'f'.repeat(64)) });
    const unknown = await exchange(s, {}, { authorization: basicAuth('00000000-0000-4000-8000-000000000000', s.clientSecret) });
    for (const res of [wrong, unknown]) {
      expect(res.statusCode).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Basic /);
      expect(res.json()).toEqual({ error: 'invalid_client', error_description: 'Client authentication failed' });
    }
    expect(wrong.body).toBe(unknown.body);
    const noAuth = await exchange(s, {}, {} as never);
    expect(noAuth.statusCode).toBe(401);
    const both = await exchange(s, { client_secret: s.clientSecret });
    expect(both.json().error).toBe('invalid_request');
  });

  it('a public client needs no secret but must not send one; a confidential client must', async () => {
    const s = await setup({ clientType: 'public' });
    const withSecret = await exchange(s, {}, { authorization: basicAuth(s.app.appId, s.clientSecret) });
    expect(withSecret.json().error).toBe('invalid_client');
    const ok = await exchange(s, { client_id: s.app.appId }, {} as never);
    expect(ok.statusCode).toBe(200);
    const c = await setup();
    const noSecret = await exchange(c, { client_id: c.app.appId }, {} as never);
    expect(noSecret.json().error).toBe('invalid_client');
  });

  it('missing or unknown grant types', async () => {
    const { app, clientSecret } = await makeApp(ctx.deps);
    const auth = { authorization: basicAuth(app.appId, clientSecret) };
    expect((await postForm(ctx, '/token', {}, auth)).json().error).toBe('invalid_request');
    expect((await postForm(ctx, '/token', { grant_type: 'password' }, auth)).json().error).toBe('unsupported_grant_type');
    expect((await postForm(ctx, '/token', { grant_type: 'authorization_code' }, auth)).json().error).toBe('invalid_request');
  });
});

describe('POST /token: refresh_token (oidcc-refresh-token)', () => {
  it('rotates, returns a new ID token, and refuses the rotated token (family revoked)', async () => {
    const s = await setup();
    const first = (await exchange(s)).json();
    const res = await postForm(ctx, '/token', { grant_type: 'refresh_token', refresh_token: first.refresh_token }, s.auth);
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.json();
    expect(body.scope).toBe(first.scope);
    const idt = decodeJwt(body.id_token);
    expect(idt).toMatchObject({ sub: s.user.id, aud: s.app.appId, auth_time: decodeJwt(first.id_token).auth_time });
    const replay = await postForm(ctx, '/token', { grant_type: 'refresh_token', refresh_token: first.refresh_token }, s.auth);
    expect(replay.statusCode).toBe(400);
    expect(replay.json().error).toBe('invalid_grant');
    const live = await ctx.deps.db
      .selectFrom('refresh_tokens')
      .select('jti')
      .where('user_id', '=', s.user.id)
      .where('revoked_at', 'is', null)
      .execute();
    expect(live).toHaveLength(0);
  });

  it('a refresh token of app A presented by app B → invalid_grant (400) and A keeps it', async () => {
    const s = await setup();
    const first = (await exchange(s)).json();
    const { app: b, clientSecret } = await makeApp(ctx.deps);
    const res = await postForm(
      ctx,
      '/token',
      { grant_type: 'refresh_token', refresh_token: first.refresh_token },
      { authorization: basicAuth(b.appId, clientSecret) },
    );
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe('invalid_grant');
    expect((await postForm(ctx, '/token', { grant_type: 'refresh_token', refresh_token: first.refresh_token }, s.auth)).statusCode).toBe(
      200,
    );
  });

  it('a wider scope than granted → invalid_scope', async () => {
    const s = await setup({}, { scope: 'openid offline_access' });
    const first = (await exchange(s)).json();
    const res = await postForm(
      ctx,
      '/token',
      { grant_type: 'refresh_token', refresh_token: first.refresh_token, scope: 'openid email' },
      s.auth,
    );
    expect(res.json().error).toBe('invalid_scope');
  });
});

describe('client_credentials (/token and /auth/token)', () => {
  async function serviceApp() {
    const { app, clientSecret } = await makeApp(ctx.deps, {
      grantTypes: ['client_credentials'],
      allowedScopes: ['push:send', 'users:read'],
    });
    return { app, clientSecret };
  }

  it('/auth/token answers the documented shape; the service token verifies and is refused as a user token', async () => {
    const { app, clientSecret } = await serviceApp();
    const res = await postForm(ctx, '/auth/token', {
      grant_type: 'client_credentials',
      client_id: app.appId,
      client_secret: clientSecret,
      scope: 'push:send users:read',
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.json();
    expect(body).toMatchObject({ token_type: 'bearer', expires_in: 900, scope: 'push:send users:read' });
    const { payload, protectedHeader } = await jwtVerify(body.access_token, jwks(), {
      issuer: ctx.deps.config.issuer,
      currentDate: ctx.clock.now(),
    });
    expect(protectedHeader.typ).toBe('at+jwt');
    expect(payload).toMatchObject({ sub: app.appId, token_type: 'service', scope: 'push:send users:read' });
    const verify = await ctx.app.inject({ method: 'POST', url: '/token/verify', payload: { token: body.access_token } });
    expect(verify.json().valid).toBe(false);
  });

  it('errors: unsupported_grant_type, invalid_scope, unauthorized_client, invalid_client', async () => {
    const { app, clientSecret } = await serviceApp();
    const cc = (over: Record<string, string>) =>
      postForm(ctx, '/auth/token', { grant_type: 'client_credentials', client_id: app.appId, client_secret: clientSecret, ...over });
    expect((await cc({ grant_type: 'authorization_code' })).json().error).toBe('unsupported_grant_type');
    const scope = await cc({ scope: 'push:send admin' });
    expect(scope.statusCode).toBe(400);
    expect(scope.json()).toEqual({ error: 'invalid_scope', error_description: 'invalid_scope: admin' });
    const { app: web, clientSecret: webSecret } = await makeApp(ctx.deps);
    expect(
      (await postForm(ctx, '/token', { grant_type: 'client_credentials', client_id: web.appId, client_secret: webSecret })).json().error,
    ).toBe('unauthorized_client');
    expect((await cc({ client_secret: 'nope' })).statusCode).toBe(401);
  });

  it(`a repeated request within KEYMASTER_SERVICE_TOKEN_REUSE (30 s) gets the same token with its remaining lifetime; other scopes, a rotated secret or a later request get a new one`, async () => {
    const { app, clientSecret } = await serviceApp();
    const cc = (secret: string, scope = 'push:send') =>
      postForm(ctx, '/token', { grant_type: 'client_credentials', client_id: app.appId, client_secret: secret, scope });
    const first = (await cc(clientSecret)).json();
    (ctx.clock as FixedClock).advance(10 * SECOND);
    const again = (await cc(clientSecret)).json();
    expect(again.access_token).toBe(first.access_token);
    expect(again.expires_in).toBe(first.expires_in - 10);
    expect(decodeJwt(again.access_token).exp).toBe(decodeJwt(first.access_token).exp);
    // Another scope set is another token; so is the next request after the reuse interval.
    const other = (await cc(clientSecret, 'users:read')).json();
    expect(other.access_token).not.toBe(first.access_token);
    expect(other.expires_in).toBe(900);
    (ctx.clock as FixedClock).advance(21 * SECOND);
    const later = (await cc(clientSecret)).json();
    expect(later.access_token).not.toBe(first.access_token);
    expect(later.expires_in).toBe(900);
    // A wrong secret never gets the remembered token; a rotated secret drops it.
    expect((await cc('wrong-secret')).statusCode).toBe(401);
    const { rotateClientSecret } = await import('../../../src/domain/apps/apps.js');
    const rotated = await rotateClientSecret(ctx.deps, app.appId);
    expect((await cc(clientSecret)).statusCode).toBe(401);
    const fresh = (await cc(rotated)).json();
    expect(fresh.access_token).not.toBe(later.access_token);
  });

  it('KEYMASTER_SERVICE_TOKEN_REUSE=0: every request signs a new token', async () => {
    const strict = await createTestContext({ env: { KEYMASTER_SERVICE_TOKEN_REUSE: '0' } });
    try {
      const { app, clientSecret } = await makeApp(strict.deps, { grantTypes: ['client_credentials'], allowedScopes: ['push:send'] });
      const cc = async () =>
        (await postForm(strict, '/token', { grant_type: 'client_credentials', client_id: app.appId, client_secret: clientSecret })).json()
          .access_token;
      expect(await cc()).not.toBe(await cc());
    } finally {
      await strict.close();
    }
  });

  it('10 failures per 15 min per (client_id, source) → the 11th wrong secret is 429 too_many_requests; the right secret is never refused; a success resets', async () => {
    const { app, clientSecret } = await serviceApp();
    const from = '198.51.100.1';
    const cc = (secret: string, remoteAddress = from) =>
      postForm(
        ctx,
        '/auth/token',
        { grant_type: 'client_credentials', client_id: app.appId, client_secret: secret },
        {},
        { remoteAddress },
      );
    for (let i = 0; i < 9; i++) expect((await cc('bad')).statusCode).toBe(401);
    expect((await cc(clientSecret)).statusCode).toBe(200); // resets
    for (let i = 0; i < 10; i++) expect((await cc('bad')).statusCode).toBe(401);
    const limited = await cc('bad');
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error).toBe('too_many_requests');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // The client's own secret still works, from the throttled source and from anywhere else.
    expect((await cc(clientSecret)).statusCode).toBe(200);
    expect((await cc(clientSecret, '198.51.100.2')).statusCode).toBe(200);
    // The success reset this source's count; another source was never counted.
    expect((await cc('bad')).statusCode).toBe(401);
    expect((await cc('bad', '198.51.100.2')).statusCode).toBe(401);
    const pairKeys = await ctx.deps.db
      .selectFrom('rate_limits')
      .select('key')
      .where('key', 'like', `client_credentials_failures:${app.appId}%`)
      .execute();
    expect(pairKeys.map((r) => r.key).sort()).toEqual([
      `client_credentials_failures:${app.appId}|198.51.100.1`,
      `client_credentials_failures:${app.appId}|198.51.100.2`,
    ]);
  });

  it('a flood of failures on a public client_id never refuses its genuine PKCE exchange, nor a confidential client elsewhere', async () => {
    const pub = await setup({ clientType: 'public' });
    const conf = await serviceApp();
    const attacker = '198.51.100.66';
    for (const clientId of [pub.app.appId, conf.app.appId])
      for (let i = 0; i < 12; i++)
        await postForm(
          ctx,
          '/token',
          { grant_type: 'client_credentials', client_id: clientId, client_secret: 'guess' },
          {},
          { remoteAddress: attacker },
        );
    const exchanged = await exchange(pub, { client_id: pub.app.appId }, {} as never);
    expect(exchanged.statusCode).toBe(200);
    const cc = await postForm(ctx, '/auth/token', {
      grant_type: 'client_credentials',
      client_id: conf.app.appId,
      client_secret: conf.clientSecret,
    });
    expect(cc.statusCode).toBe(200);
    // Even from the attacker's own address a genuine exchange passes (the throttle counts failures only).
    const again = await setup({ clientType: 'public' });
    const fromAttacker = await postForm(
      ctx,
      '/token',
      {
        grant_type: 'authorization_code',
        client_id: again.app.appId,
        code: again.code,
        redirect_uri: DEFAULT_REDIRECT,
        code_verifier: again.pkce.verifier,
      },
      {},
      { remoteAddress: attacker },
    );
    expect(fromAttacker.statusCode).toBe(200);
  });

  it('per source across client_ids: past 50 failures a wrong secret is 429, a right one from the same source still passes', async () => {
    const { app, clientSecret } = await serviceApp();
    const spray = '198.51.100.77';
    const post = (clientId: string, secret: string) =>
      postForm(
        ctx,
        '/auth/token',
        { grant_type: 'client_credentials', client_id: clientId, client_secret: secret },
        {},
        { remoteAddress: spray },
      );
    for (let i = 0; i < 50; i++) expect((await post(crypto.randomUUID(), 'x')).statusCode).toBe(401);
    const limited = await post(crypto.randomUUID(), 'x');
    expect(limited.statusCode).toBe(429);
    expect((await post(app.appId, 'wrong')).statusCode).toBe(429);
    expect((await post(app.appId, clientSecret)).statusCode).toBe(200);
    (ctx.clock as FixedClock).advance(15 * 60 * SECOND);
    expect((await post(crypto.randomUUID(), 'x')).statusCode).toBe(401);
  });
});
