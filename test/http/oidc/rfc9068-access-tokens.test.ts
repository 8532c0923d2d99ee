// RFC 9068 §2.2 access tokens, checked by an independent resource-server library: oauth4webapi's
// validateJwtAccessToken (typ at+jwt, iss exp aud sub iat jti client_id, our JWKS over HTTP) against
// a real listening Keymaster — a code-flow user token, the token of a rotated OIDC family (through
// /token, /token/refresh and the reuse grace), a service token, and a Keymaster sign-in's token.
import { randomUUID } from 'node:crypto';
import { decodeJwt } from 'jose';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACR_PASSWORD } from '../../../src/domain/oidc/auth-context.js';
import { epochSeconds } from '../../../src/lib/clock.js';
import { startTestServer, type TestContext } from '../../helpers/app.js';
import { DEFAULT_REDIRECT, makeApp, makeUser } from '../../helpers/factories.js';
import { basicAuth, pkcePair, signIn } from '../../helpers/oidc.js';

let ctx: TestContext;
let as: oauth.AuthorizationServer;
const insecure = { [oauth.allowInsecureRequests]: true };

beforeAll(async () => {
  ctx = await startTestServer();
  const issuer = new URL(ctx.deps.config.issuer);
  as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
});
afterAll(() => ctx.close());

/** A resource server's check of a bearer token: oauth4webapi's RFC 9068 validation, its claims on success. */
const validate = (token: string, audience: string) =>
  oauth.validateJwtAccessToken(
    as,
    new Request('https://api.example.com/resource', { headers: { authorization: `Bearer ${token}` } }),
    audience,
    insecure,
  );

async function form(path: string, body: Record<string, string>, headers: Record<string, string> = {}) {
  const res = await fetch(new URL(path, ctx.baseUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(body).toString(),
  });
  return { status: res.status, body: (await res.json()) as Record<string, string> };
}

/** The authorization code flow over HTTP: /authorize → hosted sign-in → /token. */
async function codeFlow(scope: string, clientType: 'confidential' | 'public' = 'confidential') {
  const { app, clientSecret } = await makeApp(ctx.deps, { clientType });
  const { user, password } = await makeUser(ctx.deps, { memberOf: { app, roles: ['editor'] } });
  const pkce = pkcePair();
  const q = new URLSearchParams({
    client_id: app.appId,
    redirect_uri: DEFAULT_REDIRECT,
    response_type: 'code',
    scope,
    state: 'st',
    code_challenge: pkce.challenge,
    code_challenge_method: 'S256',
  });
  const { callback } = await signIn(new URL(`/authorize?${q}`, ctx.baseUrl), user.email, password);
  const auth: Record<string, string> = clientType === 'confidential' ? { authorization: basicAuth(app.appId, clientSecret) } : {};
  const tokens = await form(
    '/token',
    {
      grant_type: 'authorization_code',
      code: callback.searchParams.get('code')!,
      redirect_uri: DEFAULT_REDIRECT,
      code_verifier: pkce.verifier,
      ...(clientType === 'public' && { client_id: app.appId }),
    },
    auth,
  );
  expect(tokens.status).toBe(200);
  return { app, clientSecret, user, auth, tokens: tokens.body };
}

describe('RFC 9068 §2.2: oauth4webapi validateJwtAccessToken accepts our access tokens', () => {
  it('a code-flow user token: client_id, scope, aud = the client, auth_time; user claims only as scoped', async () => {
    const s = await codeFlow('openid email offline_access');
    const claims = await validate(s.tokens.access_token!, s.app.appId);
    expect(claims).toMatchObject({
      iss: ctx.deps.config.issuer,
      sub: s.user.id,
      aud: s.app.appId,
      client_id: s.app.appId,
      scope: 'openid email offline_access',
      email: s.user.email,
      email_verified: true,
      // How the user signed in (RFC 9068 §2.2.3), as the code's session recorded it.
      acr: ACR_PASSWORD,
      amr: ['pwd'],
    });
    // auth_time is the session's sign-in, the same as the ID token's (RFC 9068 §2.2.1).
    expect(claims.auth_time).toBe(decodeJwt(s.tokens.id_token!).auth_time);
    expect(claims).not.toHaveProperty('name');
    expect(claims).not.toHaveProperty('roles');
    await expect(validate(s.tokens.access_token!, randomUUID())).rejects.toThrow(/aud/);
    // Introspection (RFC 7662) still answers for it, to its own client.
    const intro = await form('/introspect', { token: s.tokens.access_token! }, s.auth);
    expect(intro.body).toMatchObject({ active: true, client_id: s.app.appId, sub: s.user.id, aud: s.app.appId, scope: s.tokens.scope });
  });

  it('a token granted only openid carries no user claims: exactly the RFC 9068 set', async () => {
    const s = await codeFlow('openid');
    const claims = await validate(s.tokens.access_token!, s.app.appId);
    // + grant_id and sid: what ties the token to its grant and SSO session (access-token liveness).
    // + acr and amr: how the user signed in (RFC 9068 §2.2.3).
    expect(Object.keys(claims).sort()).toEqual([
      'acr',
      'amr',
      'aud',
      'auth_time',
      'client_id',
      'exp',
      'grant_id',
      'iat',
      'iss',
      'jti',
      'scope',
      'sid',
      'sub',
    ]);
    // /token/verify reports what the token carries: no email, no roles (and no 500 for their absence).
    const res = await fetch(new URL('/token/verify', ctx.baseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: s.tokens.access_token, audience: s.app.appId }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      valid: true,
      claims: { sub: s.user.id, aud: s.app.appId, iss: ctx.deps.config.issuer, exp: claims.exp },
    });
  });

  it('the token of a rotated OIDC family, through /token, /token/refresh and the reuse grace, keeps the family scope and auth_time', async () => {
    const s = await codeFlow('openid profile roles offline_access');
    const first = await validate(s.tokens.access_token!, s.app.appId);
    const viaToken = await form('/token', { grant_type: 'refresh_token', refresh_token: s.tokens.refresh_token! }, s.auth);
    expect(viaToken.status).toBe(200);
    const rotated = await validate(viaToken.body.access_token!, s.app.appId);
    expect(rotated).toMatchObject({
      sub: s.user.id,
      client_id: s.app.appId,
      scope: 'openid profile roles offline_access',
      auth_time: first.auth_time,
      name: 'Test User',
      roles: ['editor'],
    });
    expect(rotated).not.toHaveProperty('email');
    expect(rotated.jti).not.toBe(first.jti);
    // The parent again within the reuse interval: the same successor, a freshly signed token (read from users, not the statement).
    const grace = await form('/token', { grant_type: 'refresh_token', refresh_token: s.tokens.refresh_token! }, s.auth);
    expect(grace.body.refresh_token).toBe(viaToken.body.refresh_token);
    expect(await validate(grace.body.access_token!, s.app.appId)).toMatchObject({
      scope: rotated.scope,
      auth_time: first.auth_time,
      roles: ['editor'],
      updated_at: rotated.updated_at,
    });

    // A public client's family rotates through Keymaster's /token/refresh too, and stays an OAuth grant.
    const p = await codeFlow('openid email offline_access', 'public');
    const res = await fetch(new URL('/token/refresh', ctx.baseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refresh_token: p.tokens.refresh_token, app_id: p.app.appId }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { access_token: string };
    expect(await validate(body.access_token, p.app.appId)).toMatchObject({
      client_id: p.app.appId,
      scope: 'openid email offline_access',
      email: p.user.email,
      email_verified: true,
    });
  });

  it('a service token (client credentials) has aud = its own app, and introspection still answers', async () => {
    const { app, clientSecret } = await makeApp(ctx.deps, { grantTypes: ['client_credentials'], allowedScopes: ['push:send'] });
    const res = await form('/token', { grant_type: 'client_credentials', client_id: app.appId, client_secret: clientSecret });
    expect(res.status).toBe(200);
    const claims = await validate(res.body.access_token!, app.appId);
    expect(claims).toMatchObject({ sub: app.appId, aud: app.appId, client_id: app.appId, scope: 'push:send', token_type: 'service' });
    const intro = await form('/introspect', { token: res.body.access_token! }, { authorization: basicAuth(app.appId, clientSecret) });
    expect(intro.body).toMatchObject({ active: true, token_type: 'service', client_id: app.appId, aud: app.appId, scope: 'push:send' });
  });

  it("Keymaster's own /login token keeps seed 000's claims (plus client_id), and passes too", async () => {
    const { app } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps, { memberOf: { app, roles: ['editor'] } });
    const q = new URLSearchParams({ app_id: app.appId, redirect_uri: DEFAULT_REDIRECT });
    const { callback } = await signIn(new URL(`/login?${q}`, ctx.baseUrl), user.email, password);
    const token = callback.searchParams.get('access_token')!;
    const claims = await validate(token, app.appId);
    expect(Object.keys(claims).sort()).toEqual([
      'aud',
      'client_id',
      'email',
      'exp',
      'grant_id',
      'iat',
      'iss',
      'jti',
      'name',
      'roles',
      'sid',
      'sub',
    ]);
    expect(claims).toMatchObject({ sub: user.id, email: user.email, name: 'Test User', roles: ['editor'], aud: app.appId });
    // The session behind it recorded a password sign-in, but seed 000's claim set has no amr or acr.
    expect(claims).not.toHaveProperty('amr');
    expect(claims).not.toHaveProperty('acr');
  });

  it('the library does refuse what we used to sign: a service token without aud, a user token without client_id', async () => {
    const { app } = await makeApp(ctx.deps);
    const iat = epochSeconds(ctx.deps.clock.now());
    const base = { iss: ctx.deps.config.issuer, iat, exp: iat + 900, jti: randomUUID() };
    const oldService = await ctx.deps.keys.sign(
      { ...base, sub: app.appId, client_id: app.appId, scope: 'push:send', token_type: 'service' },
      'at+jwt',
    );
    const oldUser = await ctx.deps.keys.sign({ ...base, sub: randomUUID(), email: 'x@example.com', roles: [], aud: app.appId }, 'at+jwt');
    await expect(validate(oldService, app.appId)).rejects.toThrow(/"aud"/);
    await expect(validate(oldUser, app.appId)).rejects.toThrow(/"client_id"/);
  });
});
