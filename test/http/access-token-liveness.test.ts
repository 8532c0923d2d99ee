// Access-token liveness (DESIGN.md §7.14, domain/tokens/liveness.ts): /userinfo, the account API,
// /introspect and /token/verify all refuse an access token whose grant, session or user ended, and
// accept one issued after the end. Each journey probes all four endpoints with the same token.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminUpdateUser } from '../../src/domain/accounts/accounts.js';
import { SECOND, type FixedClock } from '../../src/lib/clock.js';
import { createTestContext, TEST_SECRET, type TestContext } from '../helpers/app.js';
import { onPostgres } from '../helpers/db.js';
import { DEFAULT_REDIRECT, makeApp, makeUser } from '../helpers/factories.js';
import { cookieHeader, cookiesOf, csrfTokenOf, form, FORM } from '../helpers/http.js';
import { basicAuth, obtainCode, postForm } from '../helpers/oidc.js';
import { signIn } from '../helpers/sign-in.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ clock: 'fixed' });
});
afterAll(() => ctx.close());

const clock = () => ctx.clock as FixedClock;
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

async function setup() {
  const { app, clientSecret } = await makeApp(ctx.deps);
  const { user, password } = await makeUser(ctx.deps);
  return { app, user, password, auth: { authorization: basicAuth(app.appId, clientSecret) } };
}
type Setup = Awaited<ReturnType<typeof setup>>;

/** The authorization code flow: a code, and its exchange (the code is returned for a replay). */
async function codeFlow(s: Setup, scope = 'openid profile email offline_access', password = s.password) {
  const { code } = await obtainCode(ctx, s.app.appId, { email: s.user.email, password }, { scope });
  const exchange = () => postForm(ctx, '/token', { grant_type: 'authorization_code', code, redirect_uri: DEFAULT_REDIRECT }, s.auth);
  const first = await exchange();
  expect(first.statusCode).toBe(200);
  return { tokens: first.json() as { access_token: string; refresh_token?: string }, exchange };
}

/** What each endpoint that accepts an access token answers for `token`. */
async function probe(token: string, s: Setup) {
  const userinfo = await ctx.app.inject({ url: '/userinfo', headers: bearer(token) });
  const sessions = await ctx.app.inject({ url: '/api/v1/auth/sessions', headers: bearer(token) });
  const introspect = await postForm(ctx, '/introspect', { token }, s.auth);
  const verify = await ctx.app.inject({ method: 'POST', url: '/token/verify', payload: { token } });
  return {
    userinfo: userinfo.statusCode,
    sessions: sessions.statusCode,
    introspect: introspect.json().active as boolean,
    verify: verify.json().valid as boolean,
  };
}
const LIVE = { userinfo: 200, sessions: 200, introspect: true, verify: true };
const REFUSED = { userinfo: 401, sessions: 401, introspect: false, verify: false };
// Seed 004's error table: the account API answers a disabled account's token 403 "Account is disabled".
const REFUSED_DISABLED = { ...REFUSED, sessions: 403 };

describe('a replayed authorization code', () => {
  it.each([
    ['with a refresh token', 'openid profile email offline_access'],
    ['without one', 'openid'],
  ])(
    "oidcc-codereuse-30seconds: after a code replay the first exchange's access token is refused at /userinfo and inactive at /introspect (%s)",
    async (_n, scope) => {
      const s = await setup();
      const { tokens, exchange } = await codeFlow(s, scope);
      const other = await codeFlow(s, scope);
      expect(await probe(tokens.access_token, s)).toEqual(LIVE);
      // The conformance module waits 30 s, then presents the code again.
      clock().advance(30 * SECOND);
      const replay = await exchange();
      expect(replay.statusCode).toBe(400);
      expect(replay.json().error).toBe('invalid_grant');
      expect(await probe(tokens.access_token, s)).toEqual(REFUSED);
      // Another grant of the same user and client is untouched.
      expect(await probe(other.tokens.access_token, s)).toEqual(LIVE);
    },
  );
});

describe('a password change, sign out everywhere or a disable', () => {
  const changes = {
    'a password change (PATCH /api/v1/auth/me)': {
      refused: REFUSED,
      async run(s: Setup) {
        const by = await signIn(ctx, s.app.appId, s.user.email, s.password);
        const res = await ctx.app.inject({
          method: 'PATCH',
          url: '/api/v1/auth/me',
          headers: bearer(by.accessToken),
          payload: { current_password: s.password, new_password: 'An0ther-Pass!' },
        });
        expect(res.statusCode).toBe(200);
        return 'An0ther-Pass!';
      },
    },
    'sign out everywhere (DELETE /api/v1/auth/sessions)': {
      refused: REFUSED,
      async run(s: Setup) {
        const by = await signIn(ctx, s.app.appId, s.user.email, s.password);
        const res = await ctx.app.inject({ method: 'DELETE', url: '/api/v1/auth/sessions', headers: bearer(by.accessToken) });
        expect(res.statusCode).toBe(200);
        return s.password;
      },
    },
    'a disable (keymaster users update --disable)': {
      refused: REFUSED_DISABLED,
      async run(s: Setup) {
        await adminUpdateUser(ctx.deps, s.user.id, { disabled: true });
        return s.password;
      },
    },
  };

  it.each(Object.entries(changes))(
    '%s refuses earlier access tokens at /userinfo, /api/v1/auth/sessions, /introspect and /token/verify; a later one works',
    async (name, change) => {
      const s = await setup();
      const bystander = await setup();
      const web = await signIn(ctx, s.app.appId, s.user.email, s.password);
      const { tokens } = await codeFlow(s);
      const theirs = await signIn(ctx, bystander.app.appId, bystander.user.email, bystander.password);
      expect(await probe(web.accessToken, s)).toEqual(LIVE);
      expect(await probe(tokens.access_token, s)).toEqual(LIVE);

      clock().advance(2 * SECOND);
      const password = await change.run(s);
      expect(await probe(web.accessToken, s)).toEqual(change.refused);
      expect(await probe(tokens.access_token, s)).toEqual(change.refused);
      expect(await probe(theirs.accessToken, bystander)).toEqual(LIVE);

      if (name.includes('disable')) {
        await adminUpdateUser(ctx.deps, s.user.id, { disabled: false });
        // Enabled again, the account gets none of its earlier tokens back.
        expect(await probe(web.accessToken, s)).toEqual(REFUSED);
      }
      // In the same second as the change: whole-second iat, and tokens from that second on count.
      const after = await signIn(ctx, s.app.appId, s.user.email, password);
      expect(await probe(after.accessToken, s)).toEqual(LIVE);
      expect(await probe((await codeFlow(s, undefined, password)).tokens.access_token, s)).toEqual(LIVE);
      expect(await probe(tokens.access_token, s)).toEqual(name.includes('disable') ? REFUSED : change.refused);
    },
  );
});

describe('one grant or one SSO session ended', () => {
  it('signing out of one session (DELETE /api/v1/auth/sessions/:id) refuses its access tokens, not the others', async () => {
    const s = await setup();
    const a = await signIn(ctx, s.app.appId, s.user.email, s.password);
    const b = await signIn(ctx, s.app.appId, s.user.email, s.password);
    const family = decodeJwt(a.accessToken).grant_id as string;
    const res = await ctx.app.inject({ method: 'DELETE', url: `/api/v1/auth/sessions/${family}`, headers: bearer(b.accessToken) });
    expect(res.statusCode).toBe(200);
    expect(await probe(a.accessToken, s)).toEqual(REFUSED);
    expect(await probe(b.accessToken, s)).toEqual(LIVE);
  });

  it('revoking a refresh token (RFC 7009 /revoke) refuses the access tokens of its grant', async () => {
    const s = await setup();
    const { tokens } = await codeFlow(s);
    const other = await codeFlow(s);
    expect((await postForm(ctx, '/revoke', { token: tokens.refresh_token }, s.auth)).statusCode).toBe(200);
    expect(await probe(tokens.access_token, s)).toEqual(REFUSED);
    expect(await probe(other.tokens.access_token, s)).toEqual(LIVE);
  });

  it('signing out (POST /sso/logout) refuses the tokens issued under the session before; a refresh afterwards gets a live one', async () => {
    const s = await setup();
    const web = await signIn(ctx, s.app.appId, s.user.email, s.password);
    expect(decodeJwt(web.accessToken).sid).toEqual(expect.any(String));
    clock().advance(2 * SECOND);
    const confirm = await ctx.app.inject({ url: `/sso/logout?app_id=${s.app.appId}`, headers: { cookie: `km_sso=${web.sso}` } });
    const done = await ctx.app.inject({
      method: 'POST',
      url: '/sso/logout',
      headers: { ...FORM, cookie: cookieHeader({ ...cookiesOf(confirm), km_sso: web.sso }) },
      payload: form({ _csrf: csrfTokenOf(confirm.body), app_id: s.app.appId }),
    });
    expect(done.statusCode).toBe(200);
    expect(await probe(web.accessToken, s)).toEqual(REFUSED);
    // The refresh-token family outlives the SSO session; what it issues from now on is live.
    const refreshed = await ctx.app.inject({
      method: 'POST',
      url: '/token/refresh',
      payload: { refresh_token: web.refreshToken, app_id: s.app.appId },
    });
    expect(refreshed.statusCode).toBe(200);
    expect(await probe(refreshed.json().access_token, s)).toEqual(LIVE);
  });
});

// Another process (the CLI) shares only the database: this server sees its change within the cache
// bound (LIVENESS_CACHE_TTL_MS). Polled until it does; the test's timeout is the only limit.
describe.skipIf(!onPostgres())('a change made by another process', { timeout: 120_000 }, () => {
  const run = promisify(execFile);
  const cli = (args: string[]) =>
    run(process.execPath, [join(process.cwd(), 'src/cli/bin.js'), ...args], {
      env: { PATH: process.env.PATH!, DATABASE_URL: ctx.database.url!, KEYMASTER_SECRET: TEST_SECRET },
      timeout: 60_000,
    });

  async function refusedEventually(token: string, s: Setup, refused: typeof REFUSED) {
    for (;;) {
      const seen = await probe(token, s);
      if (seen.userinfo !== 200) return expect(seen).toEqual(refused);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('keymaster users update --disable and tokens revoke --user, run as separate processes, take effect here', async () => {
    const disabled = await setup();
    const signedOut = await setup();
    const a = await signIn(ctx, disabled.app.appId, disabled.user.email, disabled.password);
    const b = await signIn(ctx, signedOut.app.appId, signedOut.user.email, signedOut.password);
    // Cached here as live first, so only the bound can end it.
    expect(await probe(a.accessToken, disabled)).toEqual(LIVE);
    expect(await probe(b.accessToken, signedOut)).toEqual(LIVE);
    await Promise.all([
      cli(['users', 'update', disabled.user.email, '--disable']),
      cli(['tokens', 'revoke', '--user', signedOut.user.email]),
    ]);
    await refusedEventually(a.accessToken, disabled, REFUSED_DISABLED);
    await refusedEventually(b.accessToken, signedOut, REFUSED);
  });
});
