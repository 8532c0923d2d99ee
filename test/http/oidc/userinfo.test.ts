// /userinfo, /introspect, /revoke and /token/verify against forged, foreign and expired tokens.
import { createPublicKey, randomUUID } from 'node:crypto';
import { SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MINUTE, type FixedClock } from '../../../src/lib/clock.js';
import { createTestContext, type TestContext } from '../../helpers/app.js';
import { DEFAULT_REDIRECT, makeApp, makeUser } from '../../helpers/factories.js';
import { basicAuth, obtainCode, postForm } from '../../helpers/oidc.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ clock: 'fixed' });
});
afterAll(() => ctx.close());

async function signedIn(scope = 'openid profile email roles offline_access') {
  const { app, clientSecret } = await makeApp(ctx.deps);
  const { user, password } = await makeUser(ctx.deps, { memberOf: { app, roles: ['editor'] } });
  const { code } = await obtainCode(ctx, app.appId, { email: user.email, password }, { scope });
  const auth = { authorization: basicAuth(app.appId, clientSecret) };
  const tokens = (await postForm(ctx, '/token', { grant_type: 'authorization_code', code, redirect_uri: DEFAULT_REDIRECT }, auth)).json();
  return { app, clientSecret, user, auth, tokens };
}

const userinfo = (token: string, method: 'GET' | 'POST' = 'GET') =>
  ctx.app.inject({ method, url: '/userinfo', headers: { authorization: `Bearer ${token}` } });

function claimsFor(userId: string, appId: string, over: Record<string, unknown> = {}) {
  const iat = Math.floor(ctx.clock.now().getTime() / 1000);
  return {
    sub: userId,
    aud: appId,
    iss: ctx.deps.config.issuer,
    iat,
    exp: iat + 900,
    jti: randomUUID(),
    email: 'x@example.com',
    name: null,
    roles: [],
    ...over,
  };
}

function publicPem(): string {
  const jwk = JSON.parse(ctx.deps.keys.jwksBody).keys[0];
  return createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
}

describe('/userinfo', () => {
  it('returns the user claims for GET and POST; no-store', async () => {
    const s = await signedIn();
    for (const method of ['GET', 'POST'] as const) {
      const res = await userinfo(s.tokens.access_token, method);
      expect(res.statusCode).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.json()).toEqual({
        sub: s.user.id,
        email: s.user.email,
        email_verified: true,
        name: 'Test User',
        updated_at: Math.floor(s.user.updatedAt.getTime() / 1000),
        roles: ['editor'],
      });
    }
  });

  it('accepts the token in a POST form body (RFC 6750 §2.2), but not in both places', async () => {
    const s = await signedIn();
    const body = await ctx.app.inject({
      method: 'POST',
      url: '/userinfo',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `access_token=${s.tokens.access_token}`,
    });
    expect(body.statusCode).toBe(200);
    expect(body.json().sub).toBe(s.user.id);
    const both = await ctx.app.inject({
      method: 'POST',
      url: '/userinfo',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${s.tokens.access_token}` },
      payload: `access_token=${s.tokens.access_token}`,
    });
    expect(both.statusCode).toBe(400);
    expect(both.json().error).toBe('invalid_request');
  });

  it('refuses alg none, HS256 keyed with our public key, unknown kid, wrong iss, expired, an ID token and a service token', async () => {
    const s = await signedIn();
    const kid = JSON.parse(ctx.deps.keys.jwksBody).keys[0].kid;
    const claims = claimsFor(s.user.id, s.app.appId);
    const none = new UnsecuredJWT(claims)
      .encode()
      .replace(/^[^.]+/, Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt', kid })).toString('base64url'));
    const hs256 = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid })
      .sign(new TextEncoder().encode(publicPem()));
    const unknownKid = await ctx.deps.keys.sign(claims, 'at+jwt').then((t) => {
      const [, p, sig] = t.split('.');
      return `${Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'at+jwt', kid: 'not-a-key' })).toString('base64url')}.${p}.${sig}`;
    });
    const wrongIss = await ctx.deps.keys.sign(claimsFor(s.user.id, s.app.appId, { iss: 'https://evil.example' }), 'at+jwt');
    const { app: svc, clientSecret } = await makeApp(ctx.deps, { grantTypes: ['client_credentials'], allowedScopes: ['push:send'] });
    const service = (
      await postForm(ctx, '/auth/token', { grant_type: 'client_credentials', client_id: svc.appId, client_secret: clientSecret })
    ).json().access_token;
    for (const token of [none, hs256, unknownKid, wrongIss, s.tokens.id_token, service]) {
      const res = await userinfo(token);
      expect(res.statusCode).toBe(401);
      expect(res.json().error).toBe('invalid_token');
      expect(res.headers['www-authenticate']).toMatch(/^Bearer .*error="invalid_token"/);
    }
    (ctx.clock as FixedClock).advance(16 * MINUTE);
    const expired = await userinfo(s.tokens.access_token);
    expect(expired.statusCode).toBe(401);
    expect(expired.json().error_description).toBe('Token has expired');
    const missing = await ctx.app.inject({ url: '/userinfo' });
    expect(missing.statusCode).toBe(401);
    expect(missing.headers['www-authenticate']).toMatch(/^Bearer /);
  });
});

describe('claims without a value (OIDC Core §5.3.2)', () => {
  it('are omitted from userinfo and the ID token, never null', async () => {
    const { app, clientSecret } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps, { name: undefined });
    const withoutName = await ctx.deps.db
      .updateTable('users')
      .set({ name: null })
      .where('id', '=', user.id)
      .returning('name')
      .executeTakeFirstOrThrow();
    expect(withoutName.name).toBeNull();
    const { code } = await obtainCode(ctx, app.appId, { email: user.email, password });
    const tokens = (
      await postForm(
        ctx,
        '/token',
        { grant_type: 'authorization_code', code, redirect_uri: DEFAULT_REDIRECT },
        { authorization: basicAuth(app.appId, clientSecret) },
      )
    ).json();
    const info = (await userinfo(tokens.access_token)).json();
    expect(info).not.toHaveProperty('name');
    expect(JSON.parse(Buffer.from(tokens.id_token.split('.')[1], 'base64url').toString())).not.toHaveProperty('name');
  });
});

describe('/introspect (RFC 7662)', () => {
  it('is client-authenticated, and shows only the caller its own live tokens', async () => {
    const s = await signedIn();
    const { app: other, clientSecret } = await makeApp(ctx.deps);
    const otherAuth = { authorization: basicAuth(other.appId, clientSecret) };
    for (const token of [s.tokens.access_token, s.tokens.refresh_token]) {
      expect((await postForm(ctx, '/introspect', { token }, s.auth)).json().active).toBe(true);
      const foreign = await postForm(ctx, '/introspect', { token }, otherAuth);
      expect(foreign.statusCode).toBe(200);
      expect(foreign.json()).toEqual({ active: false });
    }
    for (const token of ['garbage', 'a.b.c', s.tokens.id_token])
      expect((await postForm(ctx, '/introspect', { token }, s.auth)).json()).toEqual({ active: false });
    const unauth = await postForm(ctx, '/introspect', { token: s.tokens.access_token });
    expect(unauth.statusCode).toBe(401);
    expect(unauth.json().error).toBe('invalid_client');
    const missing = await postForm(ctx, '/introspect', {}, s.auth);
    expect(missing.json().error).toBe('invalid_request');
  });

  it('an expired access token is inactive', async () => {
    const s = await signedIn();
    (ctx.clock as FixedClock).advance(16 * MINUTE);
    expect((await postForm(ctx, '/introspect', { token: s.tokens.access_token }, s.auth)).json()).toEqual({ active: false });
  });
});

describe('/revoke (RFC 7009)', () => {
  it("revokes the caller's refresh token family; 200 for unknown and foreign tokens, which stay untouched", async () => {
    const s = await signedIn();
    const { app: other, clientSecret } = await makeApp(ctx.deps);
    const foreign = await postForm(
      ctx,
      '/revoke',
      { token: s.tokens.refresh_token, token_type_hint: 'refresh_token' },
      { authorization: basicAuth(other.appId, clientSecret) },
    );
    expect(foreign.statusCode).toBe(200);
    const live = () =>
      ctx.deps.db.selectFrom('refresh_tokens').select('jti').where('user_id', '=', s.user.id).where('revoked_at', 'is', null).execute();
    expect(await live()).toHaveLength(1);
    expect((await postForm(ctx, '/revoke', { token: 'unknown' }, s.auth)).statusCode).toBe(200);
    expect((await postForm(ctx, '/revoke', { token: s.tokens.refresh_token }, s.auth)).statusCode).toBe(200);
    expect(await live()).toHaveLength(0);
    const refresh = await postForm(ctx, '/token', { grant_type: 'refresh_token', refresh_token: s.tokens.refresh_token }, s.auth);
    expect(refresh.json().error).toBe('invalid_grant');
    expect((await postForm(ctx, '/revoke', { token: s.tokens.refresh_token })).statusCode).toBe(401);
  });
});

describe('POST /token/verify (KEYMASTER-API.md)', () => {
  it('answers valid with the documented claims, or valid:false with the reason', async () => {
    const s = await signedIn();
    const ok = await ctx.app.inject({
      method: 'POST',
      url: '/token/verify',
      payload: { token: s.tokens.access_token, audience: s.app.appId },
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({
      valid: true,
      claims: { sub: s.user.id, email: s.user.email, roles: ['editor'], aud: s.app.appId, iss: ctx.deps.config.issuer },
    });
    const wrongAud = await ctx.app.inject({
      method: 'POST',
      url: '/token/verify',
      payload: { token: s.tokens.access_token, audience: randomUUID() },
    });
    expect(wrongAud.json().valid).toBe(false);
    (ctx.clock as FixedClock).advance(16 * MINUTE);
    const expired = await ctx.app.inject({ method: 'POST', url: '/token/verify', payload: { token: s.tokens.access_token } });
    expect(expired.json()).toEqual({ valid: false, error: 'Token has expired' });
    const bad = await ctx.app.inject({ method: 'POST', url: '/token/verify', payload: {} });
    expect(bad.statusCode).toBe(400);
  });
});
