// A certified relying-party library (openid-client v6) against a real listening Keymaster:
// discovery → PKCE authorization → hosted sign-in → code exchange (ID token validated by the library)
// → userinfo → refresh → introspection → revocation → end session; and client credentials.
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '../../src/lib/crypto.js';
import { startTestServer, type TestContext } from '../helpers/app.js';
import { DEFAULT_LOGOUT, DEFAULT_REDIRECT, makeApp, makeUser } from '../helpers/factories.js';
import { get, signIn } from '../helpers/oidc.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await startTestServer();
});
afterAll(() => ctx.close());

const discover = (clientId: string, auth: oidc.ClientAuth, metadata?: Partial<oidc.ClientMetadata>) =>
  oidc.discovery(new URL(ctx.baseUrl), clientId, metadata, auth, { execute: [oidc.allowInsecureRequests] });

describe('openid-client as the relying party (oidcc-server, oidcc-refresh-token, oidcc-rp-initiated-logout)', () => {
  it('runs the whole authorization code + PKCE journey with a confidential client', async () => {
    const { app, clientSecret } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps, { name: 'Ada Lovelace', memberOf: { app, roles: ['admin'] } });
    const config = await discover(app.appId, oidc.ClientSecretBasic(clientSecret));
    expect(config.serverMetadata().issuer).toBe(ctx.deps.config.issuer);

    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: DEFAULT_REDIRECT,
      scope: 'openid profile email roles offline_access',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    const { callback, jar } = await signIn(url, user.email, password);
    expect(callback.origin + callback.pathname).toBe(DEFAULT_REDIRECT);
    expect(callback.searchParams.get('iss')).toBe(ctx.deps.config.issuer);

    const tokens = await oidc.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true,
    });
    const idClaims = tokens.claims()!;
    expect(idClaims).toMatchObject({
      iss: ctx.deps.config.issuer,
      sub: user.id,
      aud: app.appId,
      nonce,
      email: user.email,
      name: 'Ada Lovelace',
    });
    expect(typeof idClaims.auth_time).toBe('number');
    expect(typeof idClaims.sid).toBe('string');
    expect(tokens.refresh_token).toMatch(/^[0-9a-f]{64}$/);
    expect(tokens.scope).toBe('openid profile email roles offline_access');
    // The code is stored hashed and is now spent.
    const code = callback.searchParams.get('code')!;
    const row = await ctx.deps.db
      .selectFrom('authorization_codes')
      .selectAll()
      .where('code_hash', '=', sha256(code))
      .executeTakeFirstOrThrow();
    expect(row.used_at).not.toBeNull();
    expect(row.code_challenge_method).toBe('S256');

    const info = await oidc.fetchUserInfo(config, tokens.access_token, user.id);
    expect(info).toMatchObject({ sub: user.id, email: user.email, email_verified: true, name: 'Ada Lovelace', roles: ['admin'] });

    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    expect(refreshed.claims()).toMatchObject({ sub: user.id, aud: app.appId, auth_time: idClaims.auth_time });
    const family = await ctx.deps.db
      .selectFrom('refresh_tokens')
      .select(['rotated_at', 'scope', 'family_id'])
      .where('user_id', '=', user.id)
      .orderBy('created_at')
      .execute();
    expect(family).toHaveLength(2);
    expect(family[0]!.family_id).toBe(row.family_id);
    expect(family[1]!.scope).toBe('openid profile email roles offline_access');

    const active = await oidc.tokenIntrospection(config, refreshed.access_token);
    expect(active).toMatchObject({ active: true, sub: user.id, client_id: app.appId });
    const activeRt = await oidc.tokenIntrospection(config, refreshed.refresh_token!);
    expect(activeRt).toMatchObject({
      active: true,
      sub: user.id,
      token_type: 'refresh_token',
      scope: 'openid profile email roles offline_access',
    });
    // The rotated-away refresh token is no longer active.
    expect(await oidc.tokenIntrospection(config, tokens.refresh_token!)).toEqual({ active: false });

    await oidc.tokenRevocation(config, refreshed.refresh_token!);
    expect(await oidc.tokenIntrospection(config, refreshed.refresh_token!)).toEqual({ active: false });
    const revoked = await ctx.deps.db.selectFrom('refresh_tokens').select('revoked_at').where('family_id', '=', row.family_id).execute();
    expect(revoked.every((r) => r.revoked_at !== null)).toBe(true);

    const endUrl = oidc.buildEndSessionUrl(config, {
      id_token_hint: refreshed.id_token!,
      post_logout_redirect_uri: DEFAULT_LOGOUT,
      state: 'bye',
    });
    const end = await get(endUrl, jar);
    expect(end.status).toBe(303);
    expect(end.headers.get('location')).toBe(`${DEFAULT_LOGOUT}?state=bye`);
    const session = await ctx.deps.db
      .selectFrom('sessions')
      .select('revoked_at')
      .where('id', '=', idClaims.sid as string)
      .executeTakeFirstOrThrow();
    expect(session.revoked_at).not.toBeNull();

    // Nothing secret reached the logs.
    const logs = ctx.logText();
    for (const secret of [
      code,
      tokens.access_token,
      tokens.refresh_token!,
      tokens.id_token!,
      refreshed.refresh_token!,
      clientSecret,
      password,
      verifier,
    ]) {
      expect(logs).not.toContain(secret);
    }

    // Signed out: prompt=none now reports login_required to the client.
    const again = oidc.buildAuthorizationUrl(config, {
      redirect_uri: DEFAULT_REDIRECT,
      scope: 'openid',
      prompt: 'none',
      state: 's2',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const res = await get(again, jar);
    const loc = new URL(res.headers.get('location')!);
    expect(loc.searchParams.get('error')).toBe('login_required');
    expect(loc.searchParams.get('state')).toBe('s2');
  });

  it('serves a public client with PKCE alone (token_endpoint_auth_method none)', async () => {
    const { app } = await makeApp(ctx.deps, { clientType: 'public' });
    const { user, password } = await makeUser(ctx.deps);
    const config = await discover(app.appId, oidc.None());
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: DEFAULT_REDIRECT,
      scope: 'openid email',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: 'st',
    });
    const { callback } = await signIn(url, user.email, password);
    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: 'st' });
    expect(tokens.claims()).toMatchObject({ sub: user.id, email: user.email });
    expect(tokens.claims()!.name).toBeUndefined();
    expect(tokens.refresh_token).toBeUndefined(); // no offline_access, no refresh token
    expect(await ctx.deps.db.selectFrom('refresh_tokens').select('jti').where('user_id', '=', user.id).execute()).toHaveLength(0);
  });

  it('issues service tokens by client credentials that /userinfo refuses', async () => {
    const { app, clientSecret } = await makeApp(ctx.deps, {
      grantTypes: ['client_credentials'],
      allowedScopes: ['push:send', 'users:read'],
    });
    const config = await discover(app.appId, oidc.ClientSecretPost(clientSecret));
    const res = await oidc.clientCredentialsGrant(config, { scope: 'push:send' });
    expect(res.scope).toBe('push:send');
    expect(res.expires_in).toBe(900);
    const claims = JSON.parse(Buffer.from(res.access_token.split('.')[1]!, 'base64url').toString());
    expect(claims).toMatchObject({ sub: app.appId, scope: 'push:send', token_type: 'service', iss: ctx.deps.config.issuer });
    expect(await oidc.tokenIntrospection(config, res.access_token)).toMatchObject({
      active: true,
      token_type: 'service',
      scope: 'push:send',
    });
    await expect(oidc.fetchUserInfo(config, res.access_token, oidc.skipSubjectCheck)).rejects.toThrow();
  });
});
