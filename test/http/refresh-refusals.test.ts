// Every refusal of a refresh endpoint (/token with grant_type=refresh_token, /token/refresh,
// /api/v1/auth/refresh) leaves the database as it was: the presented token's row is unchanged, and
// the same token then refreshes where it should. One test per refusal path.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '../../src/lib/crypto.js';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { DEFAULT_REDIRECT, makeApp, makeUser } from '../helpers/factories.js';
import { basicAuth, obtainCode, pkcePair, postForm } from '../helpers/oidc.js';
import { signIn } from '../helpers/sign-in.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({
    // A small refresh limit, so the 429 path is reachable in one test (its own source address).
    env: { KEYMASTER_REFRESH_REUSE_INTERVAL: '0', KEYMASTER_RATE_LIMIT_TOKEN_REFRESH_IP: '2/60' },
  });
});
afterAll(() => ctx.close());

const row = (token: string) =>
  ctx.deps.db.selectFrom('refresh_tokens').selectAll().where('token_hash', '=', sha256(token)).executeTakeFirstOrThrow();
const familyRows = async (token: string) =>
  ctx.deps.db
    .selectFrom('refresh_tokens')
    .selectAll()
    .where('family_id', '=', (await row(token)).family_id)
    .orderBy('created_at')
    .execute();
const auditCount = async () =>
  Number(
    (
      await ctx.deps.db
        .selectFrom('audit_events')
        .select((e) => e.fn.countAll().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  );

/** A confidential client's code-flow token (scope openid offline_access), refreshed at /token with the client's secret. */
async function codeFlowToken() {
  const { app, clientSecret } = await makeApp(ctx.deps);
  const { user, password } = await makeUser(ctx.deps);
  const pkce = pkcePair();
  const { code } = await obtainCode(
    ctx,
    app.appId,
    { email: user.email, password },
    { scope: 'openid offline_access', code_challenge: pkce.challenge, code_challenge_method: 'S256' },
  );
  const auth = { authorization: basicAuth(app.appId, clientSecret) };
  const res = await postForm(
    ctx,
    '/token',
    { grant_type: 'authorization_code', code, redirect_uri: DEFAULT_REDIRECT, code_verifier: pkce.verifier },
    auth,
  );
  expect(res.statusCode).toBe(200);
  const token = res.json().refresh_token as string;
  return {
    app,
    clientSecret,
    auth,
    token,
    refresh: () => postForm(ctx, '/token', { grant_type: 'refresh_token', refresh_token: token }, auth),
  };
}

/** A token from the hosted /login flow (KEYMASTER-API.md), refreshed at /token/refresh. */
async function loginToken() {
  const { app } = await makeApp(ctx.deps);
  const { user, password } = await makeUser(ctx.deps);
  const { refreshToken } = await signIn(ctx, app.appId, user.email, password);
  return { app, token: refreshToken };
}

/** Runs the refusal, checks it refused and wrote nothing, then checks the same token still refreshes. */
async function refusedThenWorks(
  token: string,
  refuse: () => Promise<{ statusCode: number; json(): unknown }>,
  expected: { status: number; body?: Record<string, unknown> },
  works: () => Promise<{ statusCode: number }>,
) {
  const before = await familyRows(token);
  const audits = await auditCount();
  const res = await refuse();
  expect(res.statusCode).toBe(expected.status);
  if (expected.body) expect(res.json()).toMatchObject(expected.body);
  expect(await familyRows(token)).toEqual(before);
  expect(await auditCount()).toBe(audits);
  expect((await works()).statusCode).toBe(200);
  const after = await row(token);
  expect(after.rotated_at).not.toBeNull();
  expect(after.revoked_at).toBeNull();
}

describe('POST /token, grant_type=refresh_token: each refusal spends nothing', () => {
  it('a wider scope than granted → invalid_scope, checked before the rotation', async () => {
    const c = await codeFlowToken();
    await refusedThenWorks(
      c.token,
      () => postForm(ctx, '/token', { grant_type: 'refresh_token', refresh_token: c.token, scope: 'openid email' }, c.auth),
      { status: 400, body: { error: 'invalid_scope' } },
      c.refresh,
    );
  });

  it('a narrower scope is accepted (and the family keeps its scope)', async () => {
    const c = await codeFlowToken();
    const res = await postForm(ctx, '/token', { grant_type: 'refresh_token', refresh_token: c.token, scope: 'openid' }, c.auth);
    expect(res.statusCode).toBe(200);
    expect(res.json().scope).toBe('openid offline_access');
  });

  it('a wrong client secret → invalid_client', async () => {
    const c = await codeFlowToken();
    await refusedThenWorks(
      c.token,
      () =>
        postForm(
          ctx,
          '/token',
          { grant_type: 'refresh_token', refresh_token: c.token },
          { authorization: basicAuth(c.app.appId, 'wrong-secret') },
        ),
      { status: 401, body: { error: 'invalid_client' } },
      c.refresh,
    );
  });

  it('no client authentication at all (client_id only) → invalid_client', async () => {
    const c = await codeFlowToken();
    await refusedThenWorks(
      c.token,
      () => postForm(ctx, '/token', { grant_type: 'refresh_token', refresh_token: c.token, client_id: c.app.appId }),
      { status: 401, body: { error: 'invalid_client' } },
      c.refresh,
    );
  });

  it("another client's credentials → invalid_grant", async () => {
    const c = await codeFlowToken();
    const other = await makeApp(ctx.deps);
    await refusedThenWorks(
      c.token,
      () =>
        postForm(
          ctx,
          '/token',
          { grant_type: 'refresh_token', refresh_token: c.token },
          { authorization: basicAuth(other.app.appId, other.clientSecret) },
        ),
      { status: 400, body: { error: 'invalid_grant' } },
      c.refresh,
    );
  });

  it('a client whose refresh_token grant was withdrawn → unauthorized_client; restored, the token works', async () => {
    const c = await codeFlowToken();
    const { updateApp } = await import('../../src/domain/apps/apps.js');
    await updateApp(ctx.deps, c.app.appId, { grantTypes: ['authorization_code'] });
    await refusedThenWorks(
      c.token,
      () => postForm(ctx, '/token', { grant_type: 'refresh_token', refresh_token: c.token }, c.auth),
      { status: 400, body: { error: 'unauthorized_client' } },
      async () => {
        await updateApp(ctx.deps, c.app.appId, { grantTypes: ['authorization_code', 'refresh_token'] });
        return c.refresh();
      },
    );
  });
});

describe('POST /token/refresh: each refusal spends nothing', () => {
  // Each request from its own address (the limit is 2 a minute per address here), unless one is given.
  let n = 0;
  const refresh = (token: string, appId: string, remoteAddress = `10.1.${Math.floor(++n / 250)}.${n % 250}`) =>
    ctx.app.inject({ method: 'POST', url: '/token/refresh', payload: { refresh_token: token, app_id: appId }, remoteAddress });

  it("another app's app_id → 401", async () => {
    const l = await loginToken();
    const other = await makeApp(ctx.deps);
    await refusedThenWorks(
      l.token,
      () => refresh(l.token, other.app.appId),
      { status: 401 },
      () => refresh(l.token, l.app.appId),
    );
  });

  it('an unknown app_id → 401', async () => {
    const l = await loginToken();
    await refusedThenWorks(
      l.token,
      () => refresh(l.token, '00000000-0000-4000-8000-000000000000'),
      { status: 401 },
      () => refresh(l.token, l.app.appId),
    );
  });

  it('an app_id that is not a uuid → 401 (no such app)', async () => {
    const l = await loginToken();
    await refusedThenWorks(
      l.token,
      () => refresh(l.token, 'not-a-uuid'),
      { status: 401 },
      () => refresh(l.token, l.app.appId),
    );
  });

  it('a form body instead of JSON → 415', async () => {
    const l = await loginToken();
    await refusedThenWorks(
      l.token,
      () => postForm(ctx, '/token/refresh', { refresh_token: l.token, app_id: l.app.appId }, {}, { remoteAddress: '10.2.0.1' }),
      { status: 415 },
      () => refresh(l.token, l.app.appId),
    );
  });

  it('rate-limited → 429; from another address the token still works', async () => {
    const l = await loginToken();
    const other = await makeApp(ctx.deps);
    // Two refused requests use up this address's limit (2 a minute), the third is the 429.
    for (let i = 0; i < 2; i++) expect((await refresh(l.token, other.app.appId, '198.51.100.21')).statusCode).toBe(401);
    await refusedThenWorks(
      l.token,
      () => refresh(l.token, l.app.appId, '198.51.100.21'),
      { status: 429 },
      () => refresh(l.token, l.app.appId),
    );
  });
});

describe('POST /api/v1/auth/refresh: each refusal spends nothing', () => {
  const refresh = (payload: Record<string, unknown>) => ctx.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload });

  it("another app's app_id → 401", async () => {
    const l = await loginToken();
    const other = await makeApp(ctx.deps);
    await refusedThenWorks(
      l.token,
      () => refresh({ refresh_token: l.token, app_id: other.app.appId }),
      { status: 401 },
      () => refresh({ refresh_token: l.token }),
    );
  });

  it('a wrong type in a field → 400', async () => {
    const l = await loginToken();
    await refusedThenWorks(
      l.token,
      () => refresh({ refresh_token: l.token, app_id: 42 }),
      { status: 400 },
      () => refresh({ refresh_token: l.token }),
    );
  });
});

// RFC 6749 §6, RFC 9700 §4.14.2: a token issued under client authentication (a confidential client's
// code exchange) is refreshed only with that client's authentication, at every refresh endpoint.
describe('client-bound refresh tokens: refused without client authentication, spending nothing', () => {
  let n = 0;
  const keymasterRefresh = (token: string, appId: string) =>
    ctx.app.inject({
      method: 'POST',
      url: '/token/refresh',
      payload: { refresh_token: token, app_id: appId },
      remoteAddress: `10.3.${Math.floor(++n / 250)}.${n % 250}`,
    });
  const accountRefresh = (payload: Record<string, unknown>) => ctx.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload });
  const bound = async (token: string) => (await row(token)).client_bound;

  it("a confidential client's code-flow token at /token/refresh → 401 invalid_grant; it still refreshes at /token with the secret", async () => {
    const c = await codeFlowToken();
    expect(await bound(c.token)).toBe(true);
    await refusedThenWorks(
      c.token,
      () => keymasterRefresh(c.token, c.app.appId),
      { status: 401, body: { error: 'invalid_grant', error_description: expect.stringMatching(/client authentication/) } },
      c.refresh,
    );
  });

  it("a confidential client's code-flow token at /api/v1/auth/refresh → 401 {detail}; it still refreshes at /token with the secret", async () => {
    const c = await codeFlowToken();
    await refusedThenWorks(
      c.token,
      () => accountRefresh({ refresh_token: c.token }),
      { status: 401, body: { detail: 'Invalid refresh token' } },
      async () => {
        // Naming the app changes nothing.
        expect((await accountRefresh({ refresh_token: c.token, app_id: c.app.appId })).statusCode).toBe(401);
        return c.refresh();
      },
    );
  });

  it('successors inherit the binding: the rotated token is refused too, and refreshes at /token', async () => {
    const c = await codeFlowToken();
    const first = await c.refresh();
    expect(first.statusCode).toBe(200);
    const successor = first.json().refresh_token as string;
    expect(await bound(successor)).toBe(true);
    expect((await familyRows(successor)).map((r) => r.client_bound)).toEqual([true, true]);
    await refusedThenWorks(
      successor,
      () => keymasterRefresh(successor, c.app.appId),
      { status: 401, body: { error: 'invalid_grant' } },
      () => postForm(ctx, '/token', { grant_type: 'refresh_token', refresh_token: successor }, c.auth),
    );
    expect((await accountRefresh({ refresh_token: successor })).statusCode).toBe(401);
  });

  it('a spent client-bound token presented without authentication is refused before the replay check: the family lives on', async () => {
    const c = await codeFlowToken();
    const next = (await c.refresh()).json().refresh_token as string;
    // Without the binding this would be a replay (strict rotation here) and revoke the family.
    await refusedThenWorks(
      c.token,
      () => keymasterRefresh(c.token, c.app.appId),
      { status: 401, body: { error: 'invalid_grant' } },
      () => postForm(ctx, '/token', { grant_type: 'refresh_token', refresh_token: next }, c.auth),
    );
    expect((await familyRows(c.token)).every((r) => r.revoked_at === null)).toBe(true);
  });

  it('at /token the same client without its secret (made public) → invalid_grant; confidential again, the token works', async () => {
    const c = await codeFlowToken();
    const { updateApp } = await import('../../src/domain/apps/apps.js');
    await updateApp(ctx.deps, c.app.appId, { clientType: 'public' });
    await refusedThenWorks(
      c.token,
      () => postForm(ctx, '/token', { grant_type: 'refresh_token', refresh_token: c.token, client_id: c.app.appId }),
      { status: 400, body: { error: 'invalid_grant' } },
      async () => {
        await updateApp(ctx.deps, c.app.appId, { clientType: 'confidential' });
        return c.refresh();
      },
    );
  });

  it('a hosted /login token is not bound: it refreshes at /token/refresh as documented, and so does its successor', async () => {
    const l = await loginToken();
    expect(await bound(l.token)).toBe(false);
    const res = await keymasterRefresh(l.token, l.app.appId);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(Object.keys(body).sort()).toEqual(['access_token', 'expires_in', 'refresh_token', 'token_type']);
    expect(body.token_type).toBe('Bearer');
    expect(await bound(body.refresh_token)).toBe(false);
    expect((await keymasterRefresh(body.refresh_token, l.app.appId)).statusCode).toBe(200);
  });

  it("a public client's code-flow token (no client authentication) is not bound", async () => {
    const { app } = await makeApp(ctx.deps, { clientType: 'public' });
    const { user, password } = await makeUser(ctx.deps);
    const pkce = pkcePair();
    const { code } = await obtainCode(
      ctx,
      app.appId,
      { email: user.email, password },
      { scope: 'openid offline_access', code_challenge: pkce.challenge, code_challenge_method: 'S256' },
    );
    const res = await postForm(ctx, '/token', {
      grant_type: 'authorization_code',
      code,
      redirect_uri: DEFAULT_REDIRECT,
      code_verifier: pkce.verifier,
      client_id: app.appId,
    });
    expect(res.statusCode).toBe(200);
    const token = res.json().refresh_token as string;
    expect(await bound(token)).toBe(false);
    expect((await keymasterRefresh(token, app.appId)).statusCode).toBe(200);
  });
});
