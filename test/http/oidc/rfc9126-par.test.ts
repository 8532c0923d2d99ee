// Pushed Authorization Requests (RFC 9126) against a real listening Keymaster: oauth4webapi pushes the
// request (pushedAuthorizationRequest / processPushedAuthorizationResponse), the browser goes to
// /authorize with the request_uri only, signs in on the hosted page, and the code is exchanged. Then
// each rule: single use, expiry, binding to the client, an app that requires PAR, and bad input.
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pruneExpired } from '../../../src/domain/housekeeping/prune.js';
import { SECOND, type Clock } from '../../../src/lib/clock.js';
import { sha256 } from '../../../src/lib/crypto.js';
import { discoveryDocument } from '../../../src/http/routes/oidc-discovery.js';
import { createTestContext, startTestServer, type TestContext } from '../../helpers/app.js';
import { csrfTokenOf } from '../../helpers/http.js';
import { DEFAULT_REDIRECT, makeApp, makeUser } from '../../helpers/factories.js';
import { basicAuth, CookieJar, get, hiddenFieldsOf, pkcePair, signIn } from '../../helpers/oidc.js';

const insecure = { [oauth.allowInsecureRequests]: true };

/** The system time plus an offset the test moves (pushed requests expire on deps.clock). */
class OffsetClock implements Clock {
  offset = 0;
  now = () => new Date(Date.now() + this.offset);
}

let ctx: TestContext;
let as: oauth.AuthorizationServer;
const clock = new OffsetClock();

beforeAll(async () => {
  ctx = await startTestServer({ clock });
  const issuer = new URL(ctx.deps.config.issuer);
  as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
});
afterAll(() => ctx.close());

const authorizationParams = (extra: Record<string, string> = {}) => ({
  redirect_uri: DEFAULT_REDIRECT,
  response_type: 'code',
  scope: 'openid email',
  state: 'st-par',
  nonce: 'n-par',
  ...extra,
});

/** Pushes with oauth4webapi; the request_uri and expires_in it accepted. */
async function push(clientId: string, auth: oauth.ClientAuth, params: Record<string, string>) {
  const client: oauth.Client = { client_id: clientId };
  const res = await oauth.pushedAuthorizationRequest(as, client, auth, params, insecure);
  return oauth.processPushedAuthorizationResponse(as, client, res);
}

async function par(body: Record<string, string>, headers: Record<string, string> = {}) {
  const res = await fetch(new URL('/par', ctx.baseUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(body).toString(),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, string> };
}

const authorizeUrl = (q: Record<string, string>) => new URL(`/authorize?${new URLSearchParams(q)}`, ctx.baseUrl);
const pushedRows = (appId: string) =>
  ctx.deps.db.selectFrom('pushed_authorization_requests').selectAll().where('app_id', '=', appId).execute();

/** /authorize with a request_uri that must be refused: the branded error page, never a redirect. */
async function expectRefusedPage(url: URL) {
  const res = await get(url, new CookieJar());
  expect(res.status).toBe(400);
  expect(res.headers.get('location')).toBeNull();
  expect(res.headers.get('content-type')).toMatch(/^text\/html/);
  expect(await res.text()).toContain('expired or was already used');
}

describe('RFC 9126 §2-4: a code flow through /par with oauth4webapi', () => {
  it('§2.2 201 request_uri, stored hashed; §4 /authorize takes it; the code exchanges for tokens', async () => {
    const { app, clientSecret } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    const pkce = pkcePair();
    const pushed = await push(
      app.appId,
      oauth.ClientSecretBasic(clientSecret),
      authorizationParams({ code_challenge: pkce.challenge, code_challenge_method: 'S256' }),
    );
    expect(pushed.request_uri).toMatch(/^urn:ietf:params:oauth:request_uri:[A-Za-z0-9_-]{32,}$/);
    expect(pushed.expires_in).toBe(60);
    const [row] = await pushedRows(app.appId);
    expect(row!.request_hash).toBe(sha256(pushed.request_uri));
    expect(JSON.stringify(row)).not.toContain(pushed.request_uri.slice(-32));

    // The browser carries only client_id and request_uri (§4).
    const { callback } = await signIn(authorizeUrl({ client_id: app.appId, request_uri: pushed.request_uri }), user.email, password);
    expect(await pushedRows(app.appId)).toHaveLength(0);
    const client: oauth.Client = { client_id: app.appId };
    const params = oauth.validateAuthResponse(as, client, callback, 'st-par');
    const res = await oauth.authorizationCodeGrantRequest(
      as,
      client,
      oauth.ClientSecretBasic(clientSecret),
      params,
      DEFAULT_REDIRECT,
      pkce.verifier,
      insecure,
    );
    const tokens = await oauth.processAuthorizationCodeResponse(as, client, res, { expectedNonce: 'n-par' });
    expect(oauth.getValidatedIdTokenClaims(tokens)!.sub).toBe(user.id);
    expect(tokens.scope).toBe('openid email');
  });

  it('§2: a private_key_jwt client authenticates at /par (aud = the issuer); a public client names itself', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
    const { app } = await makeApp(ctx.deps, { tokenEndpointAuthMethod: 'private_key_jwt', jwks: { keys: [jwk] as never } });
    const pushed = await push(app.appId, oauth.PrivateKeyJwt({ key: privateKey, kid: 'k1' }), authorizationParams());
    expect(pushed.request_uri).toMatch(/^urn:ietf:params:oauth:request_uri:/);

    const pub = await makeApp(ctx.deps, { clientType: 'public' });
    const pkce = pkcePair();
    const viaPublic = await push(
      pub.app.appId,
      oauth.None(),
      authorizationParams({ code_challenge: pkce.challenge, code_challenge_method: 'S256' }),
    );
    const page = await get(authorizeUrl({ client_id: pub.app.appId, request_uri: viaPublic.request_uri }), new CookieJar());
    expect(page.status).toBe(200);
    // The sign-in page carries the pushed redirect URI.
    expect(hiddenFieldsOf(await page.text()).redirect_uri).toBe(DEFAULT_REDIRECT);
  });

  it('§4: parameters outside the pushed request are ignored', async () => {
    const other = 'https://app.example.com/other';
    const { app, clientSecret } = await makeApp(ctx.deps, { redirectUris: [DEFAULT_REDIRECT, other] });
    const { user, password } = await makeUser(ctx.deps);
    const pushed = await push(app.appId, oauth.ClientSecretBasic(clientSecret), authorizationParams());
    const url = authorizeUrl({
      client_id: app.appId,
      request_uri: pushed.request_uri,
      redirect_uri: other,
      scope: 'openid profile email offline_access',
      state: 'forged',
    });
    const { callback } = await signIn(url, user.email, password);
    expect(callback.origin + callback.pathname).toBe(DEFAULT_REDIRECT);
    expect(callback.searchParams.get('state')).toBe('st-par');
  });
});

describe('RFC 9126 §4 and §7.3: a request_uri is single use, short-lived and the client’s own', () => {
  it('a second use is refused with the error page', async () => {
    const { app, clientSecret } = await makeApp(ctx.deps);
    const pushed = await push(app.appId, oauth.ClientSecretBasic(clientSecret), authorizationParams());
    const url = authorizeUrl({ client_id: app.appId, request_uri: pushed.request_uri });
    expect((await get(url, new CookieJar())).status).toBe(200);
    await expectRefusedPage(url);
  });

  it('of concurrent uses, exactly one gets the sign-in page', async () => {
    const { app, clientSecret } = await makeApp(ctx.deps);
    const pushed = await push(app.appId, oauth.ClientSecretBasic(clientSecret), authorizationParams());
    const url = authorizeUrl({ client_id: app.appId, request_uri: pushed.request_uri });
    const statuses = await Promise.all(Array.from({ length: 5 }, async () => (await get(url, new CookieJar())).status));
    expect(statuses.sort()).toEqual([200, 400, 400, 400, 400]);
  });

  it('past expires_in it is refused; housekeeping deletes the row', async () => {
    const { app, clientSecret } = await makeApp(ctx.deps);
    const pushed = await push(app.appId, oauth.ClientSecretBasic(clientSecret), authorizationParams());
    clock.offset += 61 * SECOND;
    try {
      await expectRefusedPage(authorizeUrl({ client_id: app.appId, request_uri: pushed.request_uri }));
      expect(await pushedRows(app.appId)).toHaveLength(1);
      await pruneExpired(ctx.deps);
      expect(await pushedRows(app.appId)).toHaveLength(0);
    } finally {
      clock.offset -= 61 * SECOND;
    }
  });

  it('another client cannot use it (and does not spend it); unknown or malformed ones are refused', async () => {
    const a = await makeApp(ctx.deps);
    const b = await makeApp(ctx.deps);
    const pushed = await push(a.app.appId, oauth.ClientSecretBasic(a.clientSecret), authorizationParams());
    await expectRefusedPage(authorizeUrl({ client_id: b.app.appId, request_uri: pushed.request_uri }));
    expect(await pushedRows(a.app.appId)).toHaveLength(1);
    await expectRefusedPage(authorizeUrl({ client_id: a.app.appId, request_uri: `urn:ietf:params:oauth:request_uri:${randomUUID()}` }));
    // A request_uri to fetch (OIDC Core §6.2) is not looked up: refused as unsupported, by redirect as before.
    const fetched = await get(
      authorizeUrl({ client_id: a.app.appId, ...authorizationParams(), request_uri: 'https://attacker.example/req' }),
      new CookieJar(),
    );
    expect(new URL(fetched.headers.get('location')!).searchParams.get('error')).toBe('request_uri_not_supported');
    await expectRefusedPage(authorizeUrl({ client_id: 'not-a-uuid', request_uri: pushed.request_uri }));
    // Without client_id (§4: required): an error page too.
    const noClient = await get(authorizeUrl({ request_uri: pushed.request_uri }), new CookieJar());
    expect(noClient.status).toBe(400);
    expect(noClient.headers.get('location')).toBeNull();
    // Still good for its own client.
    expect((await get(authorizeUrl({ client_id: a.app.appId, request_uri: pushed.request_uri }), new CookieJar())).status).toBe(200);
  });
});

describe('RFC 9126 §6: an app may require pushed requests', () => {
  it('/authorize without request_uri is refused with invalid_request; through /par it works', async () => {
    const { app, clientSecret } = await makeApp(ctx.deps, { requirePushedAuthorizationRequests: true });
    const direct = await get(authorizeUrl({ client_id: app.appId, ...authorizationParams() }), new CookieJar());
    expect(direct.status).toBe(303);
    const back = new URL(direct.headers.get('location')!);
    expect(back.searchParams.get('error')).toBe('invalid_request');
    expect(back.searchParams.get('state')).toBe('st-par');
    const pushed = await push(app.appId, oauth.ClientSecretBasic(clientSecret), authorizationParams());
    expect((await get(authorizeUrl({ client_id: app.appId, request_uri: pushed.request_uri }), new CookieJar())).status).toBe(200);
  });

  it("Keymaster's own /login and /login/google refuse such an app without a pushed request, SSO session or not", async () => {
    const { app, clientSecret } = await makeApp(ctx.deps, { requirePushedAuthorizationRequests: true });
    const open = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    const loginUrl = (appId: string, path = '/login') =>
      new URL(`${path}?${new URLSearchParams({ app_id: appId, redirect_uri: DEFAULT_REDIRECT, state: 'st-login' })}`, ctx.baseUrl);
    const expectPushedRequiredPage = async (res: Response) => {
      expect(res.status).toBe(400);
      expect(res.headers.get('location')).toBeNull();
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      const html = await res.text();
      expect(html).toContain('requires its sign-in to start from the app itself');
      // The way back is the client's callback with an error, never this sign-in page again.
      const back = new URL(hiddenHref(html));
      expect(back.origin + back.pathname).toBe(DEFAULT_REDIRECT);
      expect(back.searchParams.get('error')).toBe('invalid_request');
      expect(back.searchParams.get('state')).toBe('st-login');
    };
    const rows = async () => ({
      sessions: (await ctx.deps.db.selectFrom('sessions').select('id').where('user_id', '=', user.id).execute()).length,
      tokens: (await ctx.deps.db.selectFrom('refresh_tokens').select('app_id').where('app_id', '=', app.appId).execute()).length,
      codes: (await ctx.deps.db.selectFrom('authorization_codes').select('app_id').where('app_id', '=', app.appId).execute()).length,
    });

    // GET /login without a session: refused (no sign-in form to type a password into).
    const jar = new CookieJar();
    await expectPushedRequiredPage(await get(loginUrl(app.appId), jar));

    // POST /login without authz (the form of another app, pointed at this one): refused, nothing written.
    const page = await get(loginUrl(open.app.appId), jar);
    const html = await page.text();
    const fields = { ...hiddenFieldsOf(html), app_id: app.appId, _csrf: csrfTokenOf(html), email: user.email, password };
    delete (fields as Record<string, string>).authz;
    const posted = await fetch(new URL('/login', ctx.baseUrl), {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header() },
      body: new URLSearchParams(fields).toString(),
    });
    await expectPushedRequiredPage(posted);
    expect(await rows()).toEqual({ sessions: 0, tokens: 0, codes: 0 });

    // With a live SSO session (signed in through another app), the fast path does not answer either.
    const signedIn = await signIn(authorizeUrl({ client_id: open.app.appId, ...authorizationParams() }), user.email, password);
    expect(signedIn.callback.searchParams.get('code')).toBeTruthy();
    await expectPushedRequiredPage(await get(loginUrl(app.appId), signedIn.jar));
    await expectPushedRequiredPage(await get(loginUrl(app.appId, '/login/google'), signedIn.jar));
    expect(await rows()).toMatchObject({ tokens: 0, codes: 0 });
    expect(await ctx.deps.db.selectFrom('upstream_flows').select('app_id').where('app_id', '=', app.appId).execute()).toHaveLength(0);

    // Through /par the same user signs in (the SSO session answers with a code).
    const pushed = await push(app.appId, oauth.ClientSecretBasic(clientSecret), authorizationParams());
    const { callback } = await signIn(
      authorizeUrl({ client_id: app.appId, request_uri: pushed.request_uri }),
      user.email,
      password,
      signedIn.jar,
    );
    expect(callback.searchParams.get('code')).toBeTruthy();
  });
});

/** The error page's way back (its only link to another origin). */
function hiddenHref(html: string): string {
  const hrefs = [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1]!.replaceAll('&amp;', '&'));
  const back = hrefs.find((h) => h.startsWith(DEFAULT_REDIRECT));
  if (!back) throw new Error(`no way back to the client in: ${hrefs.join(' ')}`);
  return back;
}

describe('RFC 9126 §2.3: refusals at /par are JSON and write nothing', () => {
  it('bad redirect_uri, scope, response_type, pushed request_uri, client_id mismatch, client auth', async () => {
    const { app, clientSecret } = await makeApp(ctx.deps);
    const other = await makeApp(ctx.deps);
    const auth = { authorization: basicAuth(app.appId, clientSecret) };
    const cases: [Record<string, string>, Record<string, string>, number, string][] = [
      [authorizationParams({ redirect_uri: 'https://evil.example/cb' }), auth, 400, 'invalid_request'],
      [{ response_type: 'code', scope: 'openid' }, auth, 400, 'invalid_request'],
      [authorizationParams({ scope: 'push:send' }), auth, 400, 'invalid_scope'],
      [authorizationParams({ response_type: 'token' }), auth, 400, 'unsupported_response_type'],
      [authorizationParams({ resource: 'https://api.example.com/' }), auth, 400, 'invalid_target'],
      [authorizationParams({ request_uri: 'urn:ietf:params:oauth:request_uri:x' }), auth, 400, 'invalid_request'],
      [authorizationParams({ request: 'eyJ.x.y' }), auth, 400, 'invalid_request'],
      [authorizationParams({ client_id: other.app.appId }), auth, 400, 'invalid_request'],
      [authorizationParams({ client_id: app.appId }), {}, 401, 'invalid_client'],
      [authorizationParams(), { authorization: basicAuth(app.appId, 'wrong') }, 401, 'invalid_client'],
      [authorizationParams({ state: 'x'.repeat(1001) }), auth, 400, 'invalid_request'],
    ];
    for (const [body, headers, status, error] of cases) {
      const res = await par(body, headers);
      expect(res.status, JSON.stringify(body).slice(0, 150)).toBe(status);
      expect(res.body.error).toBe(error);
      expect(res.headers.get('cache-control')).toBe('no-store');
    }
    // A repeated parameter (RFC 6749 §3.1) and a JSON body.
    const twice = await fetch(new URL('/par', ctx.baseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...auth },
      body: `${new URLSearchParams(authorizationParams())}&scope=openid`,
    });
    expect(twice.status).toBe(400);
    const json = await fetch(new URL('/par', ctx.baseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth },
      body: JSON.stringify(authorizationParams()),
    });
    expect(json.status).toBe(415);
    expect(await pushedRows(app.appId)).toHaveLength(0);
  });
});

describe('RFC 9126 §2.1: ui_locales is checked at /par, a bad stored request is refused', () => {
  it('a repeated ui_locales is a 400 at /par; an unreadable stored request is request_uri_invalid', async () => {
    const { app, clientSecret } = await makeApp(ctx.deps);
    const auth = { authorization: basicAuth(app.appId, clientSecret) };
    const twice = await fetch(new URL('/par', ctx.baseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...auth },
      body: `${new URLSearchParams(authorizationParams())}&ui_locales=de&ui_locales=fr`,
    });
    expect(twice.status).toBe(400);
    expect(((await twice.json()) as Record<string, string>).error).toBe('invalid_request');
    const long = await par(authorizationParams({ ui_locales: 'de '.repeat(100) }), auth);
    expect(long.status).toBe(400);
    expect(await pushedRows(app.appId)).toHaveLength(0);
    // One good value is kept.
    const ok = await par(authorizationParams({ ui_locales: 'de fr' }), auth);
    expect(ok.status).toBe(201);
    // A row stored before this check (an array where a string belongs): the error page, not a 500.
    const requestUri = 'urn:ietf:params:oauth:request_uri:stale';
    const now = new Date(Date.now() + clock.offset);
    await ctx.deps.db
      .insertInto('pushed_authorization_requests')
      .values({
        request_hash: sha256(requestUri),
        app_id: app.appId,
        params: JSON.stringify({ ...authorizationParams(), ui_locales: ['de', 'fr'] }),
        created_at: now,
        expires_at: new Date(now.getTime() + 60_000),
      })
      .execute();
    await expectRefusedPage(authorizeUrl({ client_id: app.appId, request_uri: requestUri }));
    expect((await pushedRows(app.appId)).map((r) => r.request_hash)).not.toContain(sha256(requestUri));
  });
});

describe('discovery and the switch (RFC 9126 §5)', () => {
  it('advertises the endpoint; KEYMASTER_PAR=false removes it and /par answers 404', async () => {
    expect(as.pushed_authorization_request_endpoint).toBe(`${ctx.deps.config.issuer}/par`);
    expect(as.require_pushed_authorization_requests).toBe(false);
    expect(as.request_uri_parameter_supported).toBe(false);
    const offDoc = discoveryDocument({ ...ctx.deps.config, par: false }) as Record<string, unknown>;
    expect(offDoc).not.toHaveProperty('pushed_authorization_request_endpoint');

    const off = await createTestContext({ env: { KEYMASTER_PAR: 'false' } });
    try {
      const { app, clientSecret } = await makeApp(off.deps);
      const res = await off.app.inject({
        method: 'POST',
        url: '/par',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(app.appId, clientSecret) },
        payload: new URLSearchParams(authorizationParams()).toString(),
      });
      expect(res.statusCode).toBe(404);
      // request_uri at /authorize is then the unsupported parameter it was before.
      const q = new URLSearchParams({ client_id: app.appId, ...authorizationParams(), request_uri: 'urn:ietf:params:oauth:request_uri:x' });
      const authz = await off.app.inject({ url: `/authorize?${q}` });
      expect(authz.statusCode).toBe(303);
      expect(new URL(authz.headers.location as string).searchParams.get('error')).toBe('request_uri_not_supported');
    } finally {
      await off.close();
    }
  });
});
