// private_key_jwt client authentication (RFC 7523 §2.2 and §3, OIDC Core §9) against a real listening
// Keymaster: oauth4webapi's PrivateKeyJwt obtains tokens (client_credentials and a code exchange),
// and assertions signed with jose probe each processing rule of RFC 7523 §3. Keys are registered
// inline (jwks) or served by a local JWK Set server on 127.0.0.1 (jwks_uri, allow-listed for the
// test the way development webhooks are).
import { createServer, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify, SignJWT, type CryptoKey, type JWK } from 'jose';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../../src/domain/apps/apps.js';
import { pruneExpired } from '../../../src/domain/housekeeping/prune.js';
import {
  ClientKeySets,
  KEY_SET_TTL_MS,
  KeySetUnavailable,
  MAX_STALE_MS,
  REFETCH_COOLDOWN_MS,
} from '../../../src/domain/apps/client-key-sets.js';
import { createAddressPolicy } from '../../../src/lib/address-policy.js';
import { MINUTE, SECOND, type Clock } from '../../../src/lib/clock.js';
import { discoveryDocument } from '../../../src/http/routes/oidc-discovery.js';
import { startTestServer, type TestContext } from '../../helpers/app.js';
import { DEFAULT_REDIRECT, makeApp, makeUser } from '../../helpers/factories.js';
import { basicAuth, pkcePair, signIn } from '../../helpers/oidc.js';

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const insecure = { [oauth.allowInsecureRequests]: true };

/** The system time plus an offset the test moves (the JWK Set refetch cooldown is measured on deps.clock). */
class OffsetClock implements Clock {
  offset = 0;
  now = () => new Date(Date.now() + this.offset);
}

let ctx: TestContext;
let as: oauth.AuthorizationServer;
const clock = new OffsetClock();

// The JWK Set server: serves `served`, counts requests.
let jwksServer: Server;
let jwksUri: string;
let served: { keys: JWK[] } = { keys: [] };
let jwksHits = 0;
/** What the JWKS server answers: 200 with `served`, or this status with no key set (an outage). */
let jwksStatus = 200;

beforeAll(async () => {
  // Every refusal here is counted like a wrong secret, all from 127.0.0.1: the limits are scaled up so
  // the file's many deliberate failures never reach the per-source 429.
  ctx = await startTestServer({ clock, env: { KEYMASTER_WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8', KEYMASTER_RATE_LIMIT_SCALE: '100' } });
  const issuer = new URL(ctx.deps.config.issuer);
  as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
  jwksServer = createServer((_req, res) => {
    jwksHits++;
    if (jwksStatus !== 200) return void res.writeHead(jwksStatus).end('down');
    res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify(served));
  });
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  jwksUri = `http://127.0.0.1:${(jwksServer.address() as { port: number }).port}/jwks.json`;
});
afterAll(async () => {
  await new Promise((resolve) => jwksServer.close(resolve));
  await ctx.close();
});

interface Keypair {
  privateKey: CryptoKey;
  publicJwk: JWK;
  kid: string;
  alg: string;
}

async function keypair(alg = 'ES256'): Promise<Keypair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = randomUUID();
  return { privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' }, kid, alg };
}

/** A confidential private_key_jwt app whose keys are registered inline. */
async function inlineClient(grantTypes = ['client_credentials'], alg = 'ES256') {
  const key = await keypair(alg);
  const { app, clientSecret } = await makeApp(ctx.deps, {
    grantTypes: grantTypes as never,
    allowedScopes: ['openid', 'email', 'users:read'],
    tokenEndpointAuthMethod: 'private_key_jwt',
    jwks: { keys: [key.publicJwk] as never },
  });
  return { app, clientSecret, key };
}

/** An assertion as RFC 7523 §3 describes it, signed with jose; `claims` override or (undefined) drop. */
function assertion(clientId: string, key: Keypair, claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}) {
  const now = Math.floor(clock.now().getTime() / 1000);
  const all: Record<string, unknown> = {
    iss: clientId,
    sub: clientId,
    aud: `${ctx.deps.config.issuer}/token`,
    jti: randomUUID(),
    iat: now,
    exp: now + 60,
    ...claims,
  };
  for (const k of Object.keys(all)) if (all[k] === undefined) delete all[k];
  return new SignJWT(all).setProtectedHeader({ alg: key.alg, kid: key.kid, ...header }).sign(key.privateKey);
}

async function form(path: string, body: Record<string, string>, headers: Record<string, string> = {}) {
  const res = await fetch(new URL(path, ctx.baseUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(body).toString(),
  });
  return { status: res.status, headers: res.headers, body: (await res.json().catch(() => ({}))) as Record<string, string> };
}

const serviceToken = (jwt: string, extra: Record<string, string> = {}) =>
  form('/token', {
    grant_type: 'client_credentials',
    scope: 'users:read',
    client_assertion_type: JWT_BEARER,
    client_assertion: jwt,
    ...extra,
  });

async function jtiRows(appId: string) {
  return ctx.deps.db.selectFrom('client_assertion_jtis').selectAll().where('app_id', '=', appId).execute();
}

function expectInvalidClient(res: { status: number; body: Record<string, string> }) {
  expect(res.status).toBe(401);
  expect(res.body.error).toBe('invalid_client');
  // The real reason is logged, never shown.
  expect(res.body.error_description).toBe('Client authentication failed');
}

describe('RFC 7523 §2.2: private_key_jwt with oauth4webapi', () => {
  it('PrivateKeyJwt obtains a client_credentials token; the jti is recorded until exp', async () => {
    const { app, key } = await inlineClient();
    const client: oauth.Client = { client_id: app.appId };
    const res = await oauth.clientCredentialsGrantRequest(
      as,
      client,
      oauth.PrivateKeyJwt(key.privateKey),
      { scope: 'users:read' },
      insecure,
    );
    const tokens = await oauth.processClientCredentialsResponse(as, client, res);
    const { payload } = await jwtVerify(tokens.access_token, createLocalJWKSet(JSON.parse(ctx.deps.keys.jwksBody)), {
      issuer: ctx.deps.config.issuer,
    });
    expect(payload.client_id).toBe(app.appId);
    const rows = await jtiRows(app.appId);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.expires_at.getTime()).toBeGreaterThan(clock.now().getTime());
  });

  it('PrivateKeyJwt exchanges an authorization code (keys from jwks_uri)', async () => {
    const key = await keypair('PS256');
    served = { keys: [key.publicJwk] };
    const { app } = await makeApp(ctx.deps, { tokenEndpointAuthMethod: 'private_key_jwt', jwksUri });
    const { user, password } = await makeUser(ctx.deps);
    const pkce = pkcePair();
    const q = new URLSearchParams({
      client_id: app.appId,
      redirect_uri: DEFAULT_REDIRECT,
      response_type: 'code',
      scope: 'openid email',
      state: 'st',
      nonce: 'n-1',
      code_challenge: pkce.challenge,
      code_challenge_method: 'S256',
    });
    const { callback } = await signIn(new URL(`/authorize?${q}`, ctx.baseUrl), user.email, password);
    const client: oauth.Client = { client_id: app.appId };
    const params = oauth.validateAuthResponse(as, client, callback, 'st');
    const res = await oauth.authorizationCodeGrantRequest(
      as,
      client,
      oauth.PrivateKeyJwt({ key: key.privateKey, kid: key.kid }),
      params,
      DEFAULT_REDIRECT,
      pkce.verifier,
      insecure,
    );
    const tokens = await oauth.processAuthorizationCodeResponse(as, client, res, { expectedNonce: 'n-1' });
    expect(oauth.getValidatedIdTokenClaims(tokens)!.sub).toBe(user.id);
    expect(await jtiRows(app.appId)).toHaveLength(1);
  });

  it('the same assertion authenticates /introspect and /revoke', async () => {
    const { app, key } = await inlineClient();
    const token = (await serviceToken(await assertion(app.appId, key))).body.access_token!;
    const introspected = await form('/introspect', {
      token,
      client_assertion_type: JWT_BEARER,
      client_assertion: await assertion(app.appId, key, { aud: `${ctx.deps.config.issuer}/introspect` }),
    });
    expect(introspected.status).toBe(200);
    expect(introspected.body.active).toBe(true);
    const revoked = await form('/revoke', {
      token,
      client_assertion_type: JWT_BEARER,
      client_assertion: await assertion(app.appId, key, { aud: ctx.deps.config.issuer }),
    });
    expect(revoked.status).toBe(200);
    expect(await jtiRows(app.appId)).toHaveLength(3);
  });
});

describe('RFC 7523 §3: assertion processing rules', () => {
  it('§3 rule 7: a replayed jti is refused (invalid_client), one row recorded', async () => {
    const { app, key } = await inlineClient();
    const jwt = await assertion(app.appId, key);
    expect((await serviceToken(jwt)).status).toBe(200);
    const replay = await serviceToken(jwt);
    expectInvalidClient(replay);
    expect(replay.headers.get('www-authenticate')).toMatch(/error="invalid_client"/);
    expect(await jtiRows(app.appId)).toHaveLength(1);
    expect(ctx.logText()).toContain('jti replayed');
  });

  it('§3 rule 7: of concurrent uses of one assertion, the database lets exactly one through', async () => {
    const { app, key } = await inlineClient();
    const jwt = await assertion(app.appId, key);
    const results = await Promise.all(Array.from({ length: 6 }, () => serviceToken(jwt)));
    expect(results.map((r) => r.status).sort()).toEqual([200, 401, 401, 401, 401, 401]);
    expect(await jtiRows(app.appId)).toHaveLength(1);
  });

  it('§3 rule 7: a jti is required', async () => {
    const { app, key } = await inlineClient();
    expectInvalidClient(await serviceToken(await assertion(app.appId, key, { jti: undefined })));
    expect(await jtiRows(app.appId)).toHaveLength(0);
  });

  it('§3 rule 3: an audience other than this server is refused', async () => {
    const { app, key } = await inlineClient();
    expectInvalidClient(await serviceToken(await assertion(app.appId, key, { aud: 'https://other.example.com/token' })));
    // The issuer itself is an accepted audience (and an array containing it).
    expect((await serviceToken(await assertion(app.appId, key, { aud: ['https://x.example', ctx.deps.config.issuer] }))).status).toBe(200);
  });

  it('§3 rule 1-2: iss and sub must both be the client_id', async () => {
    const { app, key } = await inlineClient();
    const other = await inlineClient();
    expectInvalidClient(await serviceToken(await assertion(app.appId, key, { sub: other.app.appId })));
    // A client_id in the body that names another client than the assertion is a malformed request.
    const mismatch = await serviceToken(await assertion(app.appId, key), { client_id: other.app.appId });
    expect(mismatch.status).toBe(400);
    expect(mismatch.body.error).toBe('invalid_request');
  });

  it('§3 rule 4: an expired assertion is refused', async () => {
    const { app, key } = await inlineClient();
    const now = Math.floor(clock.now().getTime() / 1000);
    expectInvalidClient(await serviceToken(await assertion(app.appId, key, { iat: now - 600, exp: now - 120 })));
  });

  it('§3 rule 4: exp is required, and at most a few minutes ahead', async () => {
    const { app, key } = await inlineClient();
    const now = Math.floor(clock.now().getTime() / 1000);
    expectInvalidClient(await serviceToken(await assertion(app.appId, key, { exp: undefined })));
    expectInvalidClient(await serviceToken(await assertion(app.appId, key, { exp: now + 3600 })));
    expect(ctx.logText()).toContain('s ahead');
    expect(await jtiRows(app.appId)).toHaveLength(0);
  });

  it('§3 rule 5-6: nbf and iat in the future are refused', async () => {
    const { app, key } = await inlineClient();
    const now = Math.floor(clock.now().getTime() / 1000);
    expectInvalidClient(await serviceToken(await assertion(app.appId, key, { nbf: now + 120 })));
    expectInvalidClient(await serviceToken(await assertion(app.appId, key, { iat: now + 120, exp: now + 180 })));
  });

  it('§3 rule 9: a signature by a key the client did not register is refused', async () => {
    const { app, key } = await inlineClient();
    const stranger = await keypair();
    expectInvalidClient(await serviceToken(await assertion(app.appId, { ...stranger, kid: key.kid })));
    expectInvalidClient(await serviceToken(await assertion(app.appId, stranger)));
  });

  it('§3 rule 9: HS256 (the client secret as an HMAC key) and alg none are refused', async () => {
    const { app, clientSecret } = await inlineClient();
    const now = Math.floor(clock.now().getTime() / 1000);
    const claims = { iss: app.appId, sub: app.appId, aud: ctx.deps.config.issuer, jti: randomUUID(), iat: now, exp: now + 60 };
    const hs = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(clientSecret));
    expectInvalidClient(await serviceToken(hs));
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`;
    expectInvalidClient(await serviceToken(none));
    expect(await jtiRows(app.appId)).toHaveLength(0);
  });

  it('RSA and EdDSA keys verify as well', async () => {
    for (const alg of ['RS256', 'EdDSA']) {
      const { app, key } = await inlineClient(['client_credentials'], alg);
      expect((await serviceToken(await assertion(app.appId, key))).status).toBe(200);
    }
  });
});

describe('OIDC Core §9: the registered method is the only one', () => {
  it('a private_key_jwt client cannot fall back to its client secret', async () => {
    const { app, clientSecret } = await inlineClient();
    const basic = await form(
      '/token',
      { grant_type: 'client_credentials', scope: 'users:read' },
      { authorization: basicAuth(app.appId, clientSecret) },
    );
    expectInvalidClient(basic);
    const post = await form('/token', {
      grant_type: 'client_credentials',
      scope: 'users:read',
      client_id: app.appId,
      client_secret: clientSecret,
    });
    expectInvalidClient(post);
  });

  it('a client_secret client cannot authenticate with an assertion', async () => {
    const key = await keypair();
    const { app } = await makeApp(ctx.deps, {
      grantTypes: ['client_credentials'],
      allowedScopes: ['users:read'],
      jwks: { keys: [key.publicJwk] as never },
    });
    expectInvalidClient(await serviceToken(await assertion(app.appId, key)));
  });
});

describe('RFC 7523 §2.2: jwks_uri', () => {
  it('keys are fetched once and cached; an unknown kid refetches once, rate-limited (key rotation)', async () => {
    const a = await keypair();
    served = { keys: [a.publicJwk] };
    const { app } = await makeApp(ctx.deps, {
      grantTypes: ['client_credentials'],
      allowedScopes: ['users:read'],
      tokenEndpointAuthMethod: 'private_key_jwt',
      jwksUri,
    });
    const before = jwksHits;
    expect((await serviceToken(await assertion(app.appId, a))).status).toBe(200);
    expect((await serviceToken(await assertion(app.appId, a))).status).toBe(200);
    expect(jwksHits - before).toBe(1);

    // The client rotates to key b. Right after the fetch, an unknown kid does not make us fetch again.
    const b = await keypair();
    served = { keys: [b.publicJwk] };
    expectInvalidClient(await serviceToken(await assertion(app.appId, b)));
    expect(jwksHits - before).toBe(1);

    // Past the cooldown, the unknown kid refetches once and the new key works; the old one no longer does.
    clock.offset += 31 * SECOND;
    expect((await serviceToken(await assertion(app.appId, b))).status).toBe(200);
    expect(jwksHits - before).toBe(2);
    expectInvalidClient(await serviceToken(await assertion(app.appId, a)));
    expect(jwksHits - before).toBe(2);
  });

  it('a failing jwks_uri is fetched once per cooldown, however many /token requests', async () => {
    const key = await keypair();
    const { app } = await makeApp(ctx.deps, {
      grantTypes: ['client_credentials'],
      allowedScopes: ['users:read'],
      tokenEndpointAuthMethod: 'private_key_jwt',
      jwksUri,
    });
    jwksStatus = 500;
    try {
      const before = jwksHits;
      for (let i = 0; i < 5; i++) expectInvalidClient(await serviceToken(await assertion(app.appId, key)));
      expect(jwksHits - before).toBe(1);
      expect(ctx.logText()).toContain('HTTP 500');
      clock.offset += REFETCH_COOLDOWN_MS + SECOND;
      for (let i = 0; i < 3; i++) expectInvalidClient(await serviceToken(await assertion(app.appId, key)));
      expect(jwksHits - before).toBe(2);
      expect(await jtiRows(app.appId)).toHaveLength(0);
    } finally {
      jwksStatus = 200;
    }
  });

  it('an outage after a successful fetch keeps the client working with the cached keys', async () => {
    const key = await keypair();
    served = { keys: [key.publicJwk] };
    const { app } = await makeApp(ctx.deps, {
      grantTypes: ['client_credentials'],
      allowedScopes: ['users:read'],
      tokenEndpointAuthMethod: 'private_key_jwt',
      jwksUri,
    });
    const before = jwksHits;
    expect((await serviceToken(await assertion(app.appId, key))).status).toBe(200);
    expect(jwksHits - before).toBe(1);
    jwksStatus = 503;
    try {
      // Past the TTL the refetch fails: the keys fetched before still verify, and the cooldown holds.
      clock.offset += KEY_SET_TTL_MS + SECOND;
      expect((await serviceToken(await assertion(app.appId, key))).status).toBe(200);
      expect((await serviceToken(await assertion(app.appId, key))).status).toBe(200);
      expect(jwksHits - before).toBe(2);
      clock.offset += REFETCH_COOLDOWN_MS + SECOND;
      expect((await serviceToken(await assertion(app.appId, key))).status).toBe(200);
      expect(jwksHits - before).toBe(3);
      // Too stale: no longer trusted.
      clock.offset += MAX_STALE_MS;
      expectInvalidClient(await serviceToken(await assertion(app.appId, key)));
      expect(jwksHits - before).toBe(4);
      // The server is back: the next attempt (after the cooldown) works again.
      jwksStatus = 200;
      clock.offset += REFETCH_COOLDOWN_MS + SECOND;
      expect((await serviceToken(await assertion(app.appId, key))).status).toBe(200);
      expect(jwksHits - before).toBe(5);
      expect(await jtiRows(app.appId)).toHaveLength(5);
    } finally {
      jwksStatus = 200;
    }
  });

  it('the outbound address policy applies: loopback is refused unless allow-listed', async () => {
    const strict = new ClientKeySets(createAddressPolicy());
    const app = { appId: randomUUID(), jwks: null, jwksUri };
    await expect(strict.get(app, Date.now())).rejects.toBeInstanceOf(KeySetUnavailable);
    const viaName = { ...app, jwksUri: jwksUri.replace('127.0.0.1', 'localhost') };
    await expect(strict.get(viaName, Date.now())).rejects.toThrow(/private, loopback/);
  });

  it('an unreachable or malformed key set is invalid_client, never a 500', async () => {
    const key = await keypair();
    served = { keys: [{ ...key.publicJwk, d: 'private-part' }] };
    const { app } = await makeApp(ctx.deps, {
      grantTypes: ['client_credentials'],
      allowedScopes: ['users:read'],
      tokenEndpointAuthMethod: 'private_key_jwt',
      jwksUri,
    });
    expectInvalidClient(await serviceToken(await assertion(app.appId, key)));
    expect(ctx.logText()).toContain('not a public JWK Set');
  });
});

describe('registration and bad input', () => {
  it('refuses private members, symmetric keys, a public client, no keys, both sources, http on a real host', async () => {
    const key = await keypair();
    const base = { name: 'K', redirectUris: [DEFAULT_REDIRECT], tokenEndpointAuthMethod: 'private_key_jwt' as const };
    await expect(createApp(ctx.deps, { ...base, jwks: { keys: [{ ...key.publicJwk, d: 'x' }] as never } })).rejects.toThrow();
    await expect(createApp(ctx.deps, { ...base, jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] as never } })).rejects.toThrow();
    await expect(createApp(ctx.deps, { ...base, jwks: { keys: [key.publicJwk] as never }, clientType: 'public' })).rejects.toThrow(
      /public app/,
    );
    await expect(createApp(ctx.deps, base)).rejects.toThrow(/needs the public keys/);
    await expect(createApp(ctx.deps, { ...base, jwks: { keys: [key.publicJwk] as never }, jwksUri })).rejects.toThrow(/not both/);
    await expect(createApp(ctx.deps, { ...base, jwksUri: 'http://keys.example.com/jwks' })).rejects.toThrow(/loopback/);
    // Allowed for an app marked for development, as redirect URIs are.
    await expect(createApp(ctx.deps, { ...base, jwksUri: 'http://keys.example.com/jwks', development: true })).resolves.toBeDefined();
  });

  it('malformed assertions and parameters answer 400/401 in the RFC 6749 §5.2 shape, never 500', async () => {
    const { app, clientSecret, key } = await inlineClient();
    const good = await assertion(app.appId, key);
    const cases: [Record<string, string>, Record<string, string>, number][] = [
      [{ client_assertion_type: 'urn:other', client_assertion: good }, {}, 401],
      [{ client_assertion_type: JWT_BEARER }, {}, 401],
      [{ client_assertion_type: JWT_BEARER, client_assertion: 'not.a.jwt' }, {}, 401],
      [{ client_assertion_type: JWT_BEARER, client_assertion: '' }, {}, 401],
      [{ client_assertion: good }, {}, 401],
      [{ client_assertion_type: JWT_BEARER, client_assertion: good, client_secret: clientSecret }, {}, 400],
      [{ client_assertion_type: JWT_BEARER, client_assertion: good }, { authorization: basicAuth(app.appId, clientSecret) }, 400],
      [{ client_assertion_type: JWT_BEARER, client_assertion: 'x'.repeat(9000) }, {}, 400],
    ];
    for (const [body, headers, status] of cases) {
      const res = await form('/token', { grant_type: 'client_credentials', ...body }, headers);
      expect(res.status, JSON.stringify(body).slice(0, 120)).toBe(status);
      expect(res.body.error).toMatch(/^invalid_(client|request)$/);
    }
    // The well-formed assertion was never verified alongside a second method: it still works once.
    expect((await serviceToken(good)).status).toBe(200);
  });
});

describe('discovery (RFC 8414 §2)', () => {
  it('advertises private_key_jwt and its algorithms only when it is on', async () => {
    const doc = (await (await fetch(new URL('/.well-known/openid-configuration', ctx.baseUrl))).json()) as Record<string, unknown>;
    for (const ep of ['token', 'revocation', 'introspection']) {
      expect(doc[`${ep}_endpoint_auth_methods_supported`]).toContain('private_key_jwt');
      expect(doc[`${ep}_endpoint_auth_signing_alg_values_supported`]).toEqual(['RS256', 'PS256', 'ES256', 'EdDSA']);
    }
    const off = discoveryDocument({ ...ctx.deps.config, privateKeyJwt: false }) as Record<string, unknown>;
    expect(off.token_endpoint_auth_methods_supported).not.toContain('private_key_jwt');
    expect(off).not.toHaveProperty('token_endpoint_auth_signing_alg_values_supported');
  });
});

describe('housekeeping', () => {
  it('deletes a jti row once its assertion could no longer be accepted, and not before', async () => {
    const { app, key } = await inlineClient();
    const jwt = await assertion(app.appId, key);
    expect((await serviceToken(jwt)).status).toBe(200);
    await pruneExpired(ctx.deps);
    expect(await jtiRows(app.appId)).toHaveLength(1);
    clock.offset += 2 * MINUTE;
    try {
      await pruneExpired(ctx.deps);
      expect(await jtiRows(app.appId)).toHaveLength(0);
      // The pruned jti's assertion is expired by then: replaying it is still refused.
      expectInvalidClient(await serviceToken(jwt));
    } finally {
      clock.offset -= 2 * MINUTE;
    }
  });
});
