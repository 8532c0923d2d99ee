// Consent for third-party apps at /authorize (issue 16): first-party apps never ask; a third-party app
// asks once per set of scopes, remembered per (user, app) as a union; prompt=consent always asks,
// prompt=none cannot (consent_required, OIDC Core §3.1.2.6); Deny is access_denied with the state and
// iss (RFC 6749 §4.1.2.1, RFC 9207). The pending request (state, nonce, PKCE) survives the page.
import * as jose from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { DEFAULT_REDIRECT, makeApp, makeUser } from '../helpers/factories.js';
import { authorizeQuery, basicAuth, hiddenFieldsOf, pkcePair, postForm } from '../helpers/oidc.js';
import { localPath, Visitor } from '../helpers/visitor.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx.close());

const consentsOf = (userId: string) => ctx.deps.db.selectFrom('consents').selectAll().where('user_id', '=', userId).execute();
const codesOf = (appId: string) => ctx.deps.db.selectFrom('authorization_codes').selectAll().where('app_id', '=', appId).execute();

/** /authorize → the sign-in page → signed in: the answer to POST /login. */
async function signInThrough(v: Visitor, clientId: string, user: { email: string }, password: string, extra = {}) {
  const page = await v.get(`/authorize?${authorizeQuery(clientId, extra)}`);
  expect(page.statusCode).toBe(200);
  return v.submit(page, '/login', { email: user.email, password });
}

describe('consent at /authorize', () => {
  it('a first-party app gets its code without a consent page, and nothing is remembered', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    const res = await signInThrough(new Visitor(ctx), app.appId, user, password);
    expect(res.statusCode).toBe(303);
    const landed = new URL(res.headers.location as string);
    expect(landed.origin + landed.pathname).toBe(DEFAULT_REDIRECT);
    expect(landed.searchParams.get('code')).toBeTruthy();
    expect(await consentsOf(user.id)).toEqual([]);
  });

  it('a third-party app: sign in → consent page → Allow → the code, with state, nonce and PKCE kept; remembered', async () => {
    const { app, clientSecret } = await makeApp(ctx.deps, { name: 'Gadget Store', thirdParty: true });
    const { user, password } = await makeUser(ctx.deps);
    const pkce = pkcePair();
    const v = new Visitor(ctx);
    const extra = { state: 'st-consent', nonce: 'n-consent', code_challenge: pkce.challenge, code_challenge_method: 'S256' };
    const signedIn = await signInThrough(v, app.appId, user, password, extra);
    expect(signedIn.statusCode).toBe(303);
    expect(localPath(signedIn)).toMatch(/^\/authorize\/consent\?/);
    expect(v.cookies.km_sso).toBeTruthy();
    // No code yet: the app waits for the user's answer.
    expect(await codesOf(app.appId)).toEqual([]);

    const page = await v.get(localPath(signedIn));
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<strong>Gadget Store</strong> wants to access your account');
    expect(page.body).toContain(user.email);
    for (const words of ['Know who you are', 'See your name', 'See your email address', 'Keep access when you are not using it'])
      expect(page.body).toContain(words);
    expect(page.body).toContain('value="allow"');
    expect(page.body).toContain('value="deny"');
    expect(page.body).not.toMatch(/<script(?![^>]*src=)/);
    expect(page.body).not.toContain('style=');

    const allowed = await v.submit(page, '/authorize/consent', { decision: 'allow' });
    expect(allowed.statusCode).toBe(303);
    const landed = new URL(allowed.headers.location as string);
    expect(landed.searchParams.get('state')).toBe('st-consent');
    expect(landed.searchParams.get('iss')).toBe(ctx.deps.config.issuer);
    const [code] = await codesOf(app.appId);
    expect(code!.nonce).toBe('n-consent');
    expect(code!.code_challenge).toBe(pkce.challenge);
    const [remembered] = await consentsOf(user.id);
    expect(remembered!.app_id).toBe(app.appId);
    expect([...remembered!.scopes].sort()).toEqual(['email', 'offline_access', 'openid', 'profile']);

    // The code is good at /token, and the ID token carries the nonce (verified by jose).
    const token = await postForm(
      ctx,
      '/token',
      {
        grant_type: 'authorization_code',
        code: landed.searchParams.get('code')!,
        redirect_uri: DEFAULT_REDIRECT,
        code_verifier: pkce.verifier,
      },
      { authorization: basicAuth(app.appId, clientSecret) },
    );
    expect(token.statusCode).toBe(200);
    const jwks = jose.createLocalJWKSet((await ctx.app.inject({ url: '/.well-known/jwks.json' })).json());
    const { payload } = await jose.jwtVerify(token.json().id_token, jwks, { issuer: ctx.deps.config.issuer, audience: app.appId });
    expect(payload.nonce).toBe('n-consent');
    expect(payload.sub).toBe(user.id);

    const audit = await ctx.deps.db
      .selectFrom('audit_events')
      .selectAll()
      .where('event', '=', 'consent.granted')
      .where('user_id', '=', user.id)
      .execute();
    expect(audit).toHaveLength(1);

    // Remembered: the next request with the same scopes gets its code at once.
    const again = await v.get(`/authorize?${authorizeQuery(app.appId, { state: 'st-again' })}`);
    expect(again.statusCode).toBe(303);
    expect(new URL(again.headers.location as string).searchParams.get('code')).toBeTruthy();
    expect(new URL(again.headers.location as string).searchParams.get('state')).toBe('st-again');
  });

  it('asks again for a scope not allowed before, and remembers the union', async () => {
    const { app } = await makeApp(ctx.deps, { thirdParty: true });
    const { user, password } = await makeUser(ctx.deps);
    const v = new Visitor(ctx);
    const first = await signInThrough(v, app.appId, user, password, { scope: 'openid profile' });
    const page = await v.get(localPath(first));
    expect(page.body).toContain('See your name');
    expect(page.body).not.toContain('See your email address');
    expect((await v.submit(page, '/authorize/consent', { decision: 'allow' })).statusCode).toBe(303);

    // A subset of what was allowed: no page.
    const subset = await v.get(`/authorize?${authorizeQuery(app.appId, { scope: 'openid' })}`);
    expect(new URL(subset.headers.location as string).searchParams.get('code')).toBeTruthy();
    // A new scope: the page again.
    const wider = await v.get(`/authorize?${authorizeQuery(app.appId, { scope: 'openid email' })}`);
    expect(wider.statusCode).toBe(303);
    expect(localPath(wider)).toMatch(/^\/authorize\/consent\?/);
    const page2 = await v.get(localPath(wider));
    expect(page2.body).toContain('See your email address');
    expect((await v.submit(page2, '/authorize/consent', { decision: 'allow' })).statusCode).toBe(303);
    const rows = await consentsOf(user.id);
    expect(rows).toHaveLength(1);
    expect([...rows[0]!.scopes].sort()).toEqual(['email', 'openid', 'profile']);
  });

  it('prompt=consent always shows the page; prompt=none answers consent_required, or the code once remembered', async () => {
    const { app } = await makeApp(ctx.deps, { thirdParty: true });
    const { user, password } = await makeUser(ctx.deps);
    const v = new Visitor(ctx);
    // Signed in (SSO) through a first-party app, never asked by this one yet.
    const { app: firstParty } = await makeApp(ctx.deps);
    expect((await signInThrough(v, firstParty.appId, user, password)).statusCode).toBe(303);

    const none = await v.get(`/authorize?${authorizeQuery(app.appId, { prompt: 'none', state: 'st-none' })}`);
    expect(none.statusCode).toBe(303);
    const refused = new URL(none.headers.location as string);
    expect(refused.origin + refused.pathname).toBe(DEFAULT_REDIRECT);
    expect(refused.searchParams.get('error')).toBe('consent_required');
    expect(refused.searchParams.get('state')).toBe('st-none');
    expect(refused.searchParams.get('iss')).toBe(ctx.deps.config.issuer);
    expect(await codesOf(app.appId)).toEqual([]);

    const asked = await v.get(`/authorize?${authorizeQuery(app.appId)}`);
    expect(localPath(asked)).toMatch(/^\/authorize\/consent\?/);
    expect((await v.submit(await v.get(localPath(asked)), '/authorize/consent', { decision: 'allow' })).statusCode).toBe(303);

    const forced = await v.get(`/authorize?${authorizeQuery(app.appId, { prompt: 'consent' })}`);
    expect(forced.statusCode).toBe(303);
    expect(localPath(forced)).toMatch(/^\/authorize\/consent\?/);
    const silent = await v.get(`/authorize?${authorizeQuery(app.appId, { prompt: 'none' })}`);
    expect(new URL(silent.headers.location as string).searchParams.get('code')).toBeTruthy();
  });

  it('Deny: access_denied with the state and iss, no code, nothing remembered', async () => {
    const { app } = await makeApp(ctx.deps, { thirdParty: true });
    const { user, password } = await makeUser(ctx.deps);
    const v = new Visitor(ctx);
    const signedIn = await signInThrough(v, app.appId, user, password, { state: 'st-deny' });
    const denied = await v.submit(await v.get(localPath(signedIn)), '/authorize/consent', { decision: 'deny' });
    expect(denied.statusCode).toBe(303);
    const landed = new URL(denied.headers.location as string);
    expect(landed.origin + landed.pathname).toBe(DEFAULT_REDIRECT);
    expect(landed.searchParams.get('error')).toBe('access_denied');
    expect(landed.searchParams.get('state')).toBe('st-deny');
    expect(landed.searchParams.get('iss')).toBe(ctx.deps.config.issuer);
    expect(landed.searchParams.get('code')).toBeNull();
    expect(await codesOf(app.appId)).toEqual([]);
    expect(await consentsOf(user.id)).toEqual([]);
  });

  it('refusals change nothing: no CSRF token, a tampered request, no session, another app', async () => {
    const { app } = await makeApp(ctx.deps, { thirdParty: true });
    const { app: other } = await makeApp(ctx.deps, { thirdParty: true });
    const { user, password } = await makeUser(ctx.deps);
    const v = new Visitor(ctx);
    const page = await v.get(localPath(await signInThrough(v, app.appId, user, password)));
    const fields = hiddenFieldsOf(page.body);

    const noCsrf = await v.post('/authorize/consent', { ...fields, _csrf: undefined, decision: 'allow' });
    expect(noCsrf.statusCode).toBe(403);
    const tampered = await v.submit(page, '/authorize/consent', { decision: 'allow', authz: `${fields.authz!.slice(0, -4)}AAAA` });
    expect(tampered.statusCode).toBe(400);
    expect(tampered.body).toContain('Back to');
    const foreign = await v.submit(page, '/authorize/consent', { decision: 'allow', app_id: other.appId });
    expect(foreign.statusCode).toBe(400);
    const stranger = new Visitor(ctx);
    const fresh = await stranger.get(
      `/authorize/consent?${new URLSearchParams({ app_id: app.appId, redirect_uri: DEFAULT_REDIRECT, authz: fields.authz! })}`,
    );
    // No SSO session: the sign-in page, carrying the request.
    expect(fresh.statusCode).toBe(200);
    expect(fresh.body).toContain('>Sign in</button>');
    expect(hiddenFieldsOf(fresh.body).authz).toBe(fields.authz);
    const noSession = await stranger.submit(fresh, '/authorize/consent', { decision: 'allow' });
    expect(noSession.statusCode).toBe(200);
    expect(noSession.body).toContain('>Sign in</button>');
    expect(await codesOf(app.appId)).toEqual([]);
    expect(await consentsOf(user.id)).toEqual([]);
  });

  it("the consent page speaks the browser's language (de, fr, es) through the catalogs", async () => {
    const { app } = await makeApp(ctx.deps, { name: 'Sprach App', thirdParty: true });
    const { user, password } = await makeUser(ctx.deps);
    const v = new Visitor(ctx);
    const path = localPath(await signInThrough(v, app.appId, user, password, { scope: 'openid email' }));
    for (const [lang, words] of [
      ['de', ['Zugriff erlauben', 'möchte auf Ihr Konto zugreifen', 'Ihre E-Mail-Adresse sehen', '>Erlauben</button>']],
      ['fr', ['Autoriser l’accès', 'souhaite accéder à votre compte', '>Refuser</button>']],
      ['es', ['Permitir el acceso', 'quiere acceder a tu cuenta', '>Denegar</button>']],
    ] as const) {
      const page = await ctx.app.inject({ url: path, headers: { cookie: `km_sso=${v.cookies.km_sso}`, 'accept-language': lang } });
      expect(page.headers['content-language']).toBe(lang);
      expect(page.body).toContain(`<html lang="${lang}">`);
      for (const w of words) expect(page.body).toContain(w);
    }
  });

  it('discovery lists prompt=consent', async () => {
    const res = await ctx.app.inject({ url: '/.well-known/openid-configuration' });
    expect(res.json().prompt_values_supported).toEqual(['none', 'login', 'consent']);
  });
});

describe('the claims parameter within consent (OIDC Core §5.5)', () => {
  /** Third-party sign-in → consent → Allow → code exchanged: the tokens, the consent page, the code row. */
  async function consentedTokens(scope: string, claims: string) {
    const { app, clientSecret } = await makeApp(ctx.deps, { thirdParty: true });
    const { user, password } = await makeUser(ctx.deps);
    const v = new Visitor(ctx);
    const signedIn = await signInThrough(v, app.appId, user, password, { scope, claims });
    const page = await v.get(localPath(signedIn));
    expect(page.statusCode).toBe(200);
    const allowed = await v.submit(page, '/authorize/consent', { decision: 'allow' });
    const [row] = await codesOf(app.appId);
    const token = await postForm(
      ctx,
      '/token',
      {
        grant_type: 'authorization_code',
        code: new URL(allowed.headers.location as string).searchParams.get('code')!,
        redirect_uri: DEFAULT_REDIRECT,
      },
      { authorization: basicAuth(app.appId, clientSecret) },
    );
    expect(token.statusCode).toBe(200);
    const jwks = jose.createLocalJWKSet((await ctx.app.inject({ url: '/.well-known/jwks.json' })).json());
    const { payload } = await jose.jwtVerify(token.json().id_token, jwks, { issuer: ctx.deps.config.issuer, audience: app.appId });
    const info = await ctx.app.inject({ url: '/userinfo', headers: { authorization: `Bearer ${token.json().access_token}` } });
    return { page: page.body, row: row!, idToken: payload, userinfo: info.json<Record<string, unknown>>(), user };
  }

  it('a third-party app gets no claim whose scope the user was not asked for', async () => {
    const claims = JSON.stringify({ id_token: { email: null, roles: null }, userinfo: { name: { essential: true } } });
    const got = await consentedTokens('openid', claims);
    expect(got.page).not.toContain('See your email address');
    expect(got.page).not.toContain('See your name');
    expect(got.row.requested_claims).toBeNull();
    expect(got.idToken).not.toHaveProperty('email');
    expect(got.idToken).not.toHaveProperty('roles');
    expect(got.userinfo).toEqual({ sub: got.user.id });
  });

  it('a third-party app gets a claim whose scope the user allowed', async () => {
    const got = await consentedTokens('openid email', JSON.stringify({ id_token: { email: null, name: null } }));
    expect(got.page).toContain('See your email address');
    expect(JSON.parse(got.row.requested_claims!)).toEqual({ userinfo: [], id_token: ['email'] });
    expect(got.idToken.email).toBe(got.user.email);
    expect(got.idToken).not.toHaveProperty('name');
  });
});
