// The Keymaster quick start (seed 000), end to end on a real listening server: sign in through the
// hosted page → tokens in the callback → verified by jose's createRemoteJWKSet as a resource server
// would → refresh (rotation) → revoke → SSO logout.
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestContext } from '../helpers/app.js';
import { CookieJar, get, hiddenFields, postForm } from '../helpers/browserless.js';
import { DEFAULT_LOGOUT, DEFAULT_REDIRECT, makeApp, makeUser } from '../helpers/factories.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await startTestServer();
});
afterAll(() => ctx.close());

describe('quick start journey', () => {
  it('sign in → verify → refresh → revoke → logout', async () => {
    const { app } = await makeApp(ctx.deps, { name: 'Quickstart App' });
    const { user, password } = await makeUser(ctx.deps, { name: 'Jane Doe', memberOf: { app, roles: ['user', 'admin'] } });
    const jar = new CookieJar();

    // Step 1: redirect to /login.
    const page = await get(jar, `${ctx.baseUrl}/login?app_id=${app.appId}&redirect_uri=${encodeURIComponent(DEFAULT_REDIRECT)}&state=abc`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('Quickstart App');

    // Step 2: the callback carries the tokens.
    const signedIn = await postForm(jar, `${ctx.baseUrl}/login`, { ...hiddenFields(html), email: user.email, password });
    expect(signedIn.status).toBe(303);
    const callback = new URL(signedIn.headers.get('location')!);
    const accessToken = callback.searchParams.get('access_token')!;
    const refreshToken = callback.searchParams.get('refresh_token')!;
    expect(callback.searchParams.get('state')).toBe('abc');

    // Step 3: verify as a resource server does.
    const JWKS = createRemoteJWKSet(new URL(`${ctx.baseUrl}/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(accessToken, JWKS, {
      issuer: ctx.baseUrl,
      audience: app.appId,
      algorithms: ['RS256'],
    });
    expect(protectedHeader.alg).toBe('RS256');
    expect(protectedHeader.kid).toBeTruthy();
    expect(payload).toMatchObject({
      sub: user.id,
      email: user.email,
      name: 'Jane Doe',
      roles: ['user', 'admin'],
      aud: app.appId,
      iss: ctx.baseUrl,
    });
    expect(payload.exp! - payload.iat!).toBe(900);
    expect(payload.jti).toBeTruthy();

    // Step 4: refresh rotates.
    const refreshed = await fetch(`${ctx.baseUrl}/token/refresh`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refresh_token: refreshToken, app_id: app.appId }),
    });
    expect(refreshed.status).toBe(200);
    const next = (await refreshed.json()) as { access_token: string; refresh_token: string; expires_in: number };
    expect(next.expires_in).toBe(900);
    expect(next.refresh_token).not.toBe(refreshToken);
    await jwtVerify(next.access_token, JWKS, { issuer: ctx.baseUrl, audience: app.appId });
    expect(decodeProtectedHeader(next.access_token).kid).toBe(protectedHeader.kid);

    // Step 5: logout — revoke, then the branded logout page.
    const revoked = await fetch(`${ctx.baseUrl}/token/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refresh_token: next.refresh_token }),
    });
    expect(await revoked.json()).toEqual({ status: 'ok' });
    const dead = await fetch(`${ctx.baseUrl}/token/refresh`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refresh_token: next.refresh_token, app_id: app.appId }),
    });
    expect(dead.status).toBe(401);

    const confirm = await get(
      jar,
      `${ctx.baseUrl}/sso/logout?app_id=${app.appId}&post_logout_redirect_uri=${encodeURIComponent(DEFAULT_LOGOUT)}`,
    );
    const confirmHtml = await confirm.text();
    expect(confirmHtml).toContain('Sign out');
    const out = await postForm(jar, `${ctx.baseUrl}/sso/logout`, hiddenFields(confirmHtml));
    expect(out.status).toBe(200);
    expect(await out.text()).toContain(`href="${DEFAULT_LOGOUT}"`);
    expect(jar.cookies.has('km_sso')).toBe(false);

    // The SSO session is over: /login shows the form again.
    const again = await get(jar, `${ctx.baseUrl}/login?app_id=${app.appId}&redirect_uri=${encodeURIComponent(DEFAULT_REDIRECT)}`);
    expect(again.status).toBe(200);
  });
});
