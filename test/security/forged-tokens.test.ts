// DESIGN.md §4.7 and RFC 8725: every forged, confused or stale token is refused everywhere a token is
// accepted. Table-driven: FORGERIES × TOKEN_ACCEPTORS. A genuine token must pass each acceptor (so a
// broken acceptor cannot make the suite pass by refusing everything).
//
// To cover a new endpoint, add a row to TOKEN_ACCEPTORS, e.g.
//   { name: 'GET /userinfo', accepts: async (ctx, token) =>
//       (await ctx.app.inject({ url: '/userinfo', headers: { authorization: `Bearer ${token}` } })).statusCode === 200 },
import { createSign, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/domain/apps/apps.js';
import { issueAccessToken, verifyAccessToken } from '../../src/domain/tokens/access-tokens.js';
import type { User } from '../../src/domain/users/users.js';
import { sha256 } from '../../src/lib/crypto.js';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { makeApp, makeUser } from '../helpers/factories.js';
import {
  algNone,
  attackerJwk,
  decodeParts,
  hs256,
  publicKeyForms,
  rs256WithAttackerKey,
  signWithOurKey,
  tamperPayload,
} from '../helpers/forge.js';
import { signInThroughForm } from '../helpers/security.js';

interface Fx {
  app: App;
  user: User;
  genuine: string;
}
interface Acceptor {
  name: string;
  accepts: (ctx: TestContext, token: string, fx: Fx) => Promise<boolean>;
}

export const TOKEN_ACCEPTORS: Acceptor[] = [
  {
    name: 'POST /token/verify',
    accepts: async (ctx, token) => {
      const res = await ctx.app.inject({ method: 'POST', url: '/token/verify', payload: { token } });
      return res.statusCode === 200 && res.json().valid === true;
    },
  },
  {
    name: 'GET /api/v1/auth/me',
    accepts: async (ctx, token) =>
      (await ctx.app.inject({ url: '/api/v1/auth/me', headers: { authorization: `Bearer ${token}` } })).statusCode === 200,
  },
  {
    name: 'GET /userinfo',
    accepts: async (ctx, token) =>
      (await ctx.app.inject({ url: '/userinfo', headers: { authorization: `Bearer ${token}` } })).statusCode === 200,
  },
  {
    name: 'POST /userinfo (form access_token)',
    accepts: async (ctx, token) =>
      (
        await ctx.app.inject({
          method: 'POST',
          url: '/userinfo',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          payload: `access_token=${encodeURIComponent(token)}`,
        })
      ).statusCode === 200,
  },
  {
    name: 'verifyAccessToken (domain, with audience)',
    accepts: async (ctx, token, fx) =>
      verifyAccessToken(ctx.deps, token, { audience: fx.app.appId }).then(
        () => true,
        () => false,
      ),
  },
  {
    name: 'verifyAccessToken (domain, no audience)',
    accepts: async (ctx, token) =>
      verifyAccessToken(ctx.deps, token).then(
        () => true,
        () => false,
      ),
  },
];

type Forgery = { name: string; make: (ctx: TestContext, fx: Fx) => Promise<string>; needsAudienceCheck?: boolean };

const now = (ctx: TestContext) => Math.floor(ctx.clock.now().getTime() / 1000);
const claimsOf = (fx: Fx) => decodeParts(fx.genuine).payload;
const headerOf = (fx: Fx) => decodeParts(fx.genuine).header;

export const FORGERIES: Forgery[] = [
  ...['none', 'None', 'NONE', 'nOnE'].map((alg) => ({
    name: `alg ${alg}`,
    make: async (_: TestContext, fx: Fx) =>
      algNone(headerOf(fx), claimsOf(fx)).replace(/^[^.]+/, Buffer.from(JSON.stringify({ ...headerOf(fx), alg })).toString('base64url')),
  })),
  {
    name: 'alg none with the genuine signature kept',
    make: async (_, fx) => `${algNone(headerOf(fx), claimsOf(fx)).slice(0, -1)}.${decodeParts(fx.genuine).signature}`,
  },
  ...['public key SPKI PEM', 'public key PKCS#1 PEM', 'public JWK JSON', 'JWK n'].map((form) => ({
    name: `HS256 signed with our ${form}`,
    make: async (ctx: TestContext, fx: Fx) =>
      hs256(headerOf(fx), claimsOf(fx), publicKeyForms(ctx.deps).find((f) => f.name === form)!.secret),
  })),
  { name: 'tampered payload: another sub', make: async (_, fx) => tamperPayload(fx.genuine, { sub: randomUUID() }) },
  { name: 'tampered payload: roles admin', make: async (_, fx) => tamperPayload(fx.genuine, { roles: ['admin'] }) },
  {
    name: 'tampered payload: exp extended',
    make: async (_, fx) => tamperPayload(fx.genuine, { exp: (claimsOf(fx).exp as number) + 86_400 }),
  },
  { name: 'signature stripped', make: async (_, fx) => fx.genuine.replace(/[^.]+$/, '') },
  {
    name: 'signature of a different token',
    make: async (ctx, fx) =>
      `${fx.genuine.split('.').slice(0, 2).join('.')}.${(await signWithOurKey(ctx.deps, { ...claimsOf(fx), jti: randomUUID() })).split('.')[2]}`,
  },
  {
    name: 'attacker key, unknown kid',
    make: async (_, fx) => rs256WithAttackerKey({ ...headerOf(fx), kid: 'attacker-kid' }, claimsOf(fx)),
  },
  { name: 'attacker key, our kid', make: async (_, fx) => rs256WithAttackerKey(headerOf(fx), claimsOf(fx)) },
  ...['../../../../../dev/null', "' OR '1'='1", 'x\u0000y', 'https://evil.example/key'].map((kid) => ({
    name: `attacker key, injected kid ${JSON.stringify(kid)}`,
    make: async (_: TestContext, fx: Fx) => rs256WithAttackerKey({ ...headerOf(fx), kid }, claimsOf(fx)),
  })),
  { name: 'no kid', make: async (ctx, fx) => signWithOurKey(ctx.deps, claimsOf(fx), { kid: undefined }) },
  {
    name: 'jku header to an attacker JWKS',
    make: async (_, fx) => rs256WithAttackerKey({ ...headerOf(fx), kid: 'k1', jku: 'https://evil.example/jwks.json' }, claimsOf(fx)),
  },
  {
    name: 'x5u header to an attacker certificate',
    make: async (_, fx) => rs256WithAttackerKey({ ...headerOf(fx), kid: 'k1', x5u: 'https://evil.example/cert.pem' }, claimsOf(fx)),
  },
  {
    name: 'embedded jwk header (attacker key)',
    make: async (_, fx) => rs256WithAttackerKey({ ...headerOf(fx), kid: undefined, jwk: await attackerJwk() }, claimsOf(fx)),
  },
  {
    name: 'embedded jwk header (attacker key) + our kid',
    make: async (_, fx) => rs256WithAttackerKey({ ...headerOf(fx), jwk: await attackerJwk() }, claimsOf(fx)),
  },
  { name: 'RS512 with our key', make: async (ctx, fx) => signWith(ctx, 'RS512', 'RSA-SHA512', headerOf(fx), claimsOf(fx)) },
  { name: 'PS256-labelled RS256 signature', make: async (ctx, fx) => signWith(ctx, 'PS256', 'RSA-SHA256', headerOf(fx), claimsOf(fx)) },
  {
    name: 'crit header with an unknown extension',
    make: async (ctx, fx) => signWithOurKey(ctx.deps, claimsOf(fx), { crit: ['x-evil'], 'x-evil': true }),
  },
  {
    name: 'wrong aud (signed by us)',
    needsAudienceCheck: true,
    make: async (ctx, fx) => signWithOurKey(ctx.deps, { ...claimsOf(fx), aud: 'another-app' }),
  },
  {
    name: 'aud array not containing the app',
    needsAudienceCheck: true,
    make: async (ctx, fx) => signWithOurKey(ctx.deps, { ...claimsOf(fx), aud: ['another-app'] }),
  },
  { name: 'wrong iss (signed by us)', make: async (ctx, fx) => signWithOurKey(ctx.deps, { ...claimsOf(fx), iss: 'https://evil.example' }) },
  {
    name: 'iss with a trailing slash',
    make: async (ctx, fx) => signWithOurKey(ctx.deps, { ...claimsOf(fx), iss: `${ctx.deps.config.issuer}/` }),
  },
  { name: 'no iss', make: async (ctx, fx) => signWithOurKey(ctx.deps, { ...claimsOf(fx), iss: undefined }) },
  {
    name: 'expired a second ago',
    make: async (ctx, fx) => signWithOurKey(ctx.deps, { ...claimsOf(fx), iat: now(ctx) - 901, exp: now(ctx) - 1 }),
  },
  { name: 'no exp', make: async (ctx, fx) => signWithOurKey(ctx.deps, { ...claimsOf(fx), exp: undefined }) },
  { name: 'nbf in the future', make: async (ctx, fx) => signWithOurKey(ctx.deps, { ...claimsOf(fx), nbf: now(ctx) + 600 }) },
  { name: 'ID token (typ JWT)', make: async (ctx, fx) => signWithOurKey(ctx.deps, { ...claimsOf(fx), nonce: 'n' }, { typ: 'JWT' }) },
  { name: 'no typ', make: async (ctx, fx) => signWithOurKey(ctx.deps, claimsOf(fx), { typ: undefined }) },
  {
    name: 'service token (token_type service)',
    make: async (ctx, fx) =>
      signWithOurKey(ctx.deps, {
        sub: fx.app.appId,
        iss: ctx.deps.config.issuer,
        aud: fx.app.appId,
        scope: 'users:read',
        token_type: 'service',
        iat: now(ctx),
        exp: now(ctx) + 900,
      }),
  },
  { name: 'no sub', make: async (ctx, fx) => signWithOurKey(ctx.deps, { ...claimsOf(fx), sub: undefined }) },
  { name: 'genuine token with trailing junk', make: async (_, fx) => `${fx.genuine}.x` },
  { name: 'JWE-shaped (5 parts)', make: async (_, fx) => `${fx.genuine}.AAAA.BBBB` },
  { name: 'empty string', make: async () => '' },
  { name: 'garbage', make: async () => 'eyJ.eyJ.AAA' },
];

function signWith(
  ctx: TestContext,
  alg: string,
  nodeAlg: string,
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${b64({ ...header, alg })}.${b64(payload)}`;
  return `${input}.${createSign(nodeAlg).update(input).sign(ctx.deps.keys.active.privateKey).toString('base64url')}`;
}

let ctx: TestContext;
let fx: Fx;
beforeAll(async () => {
  ctx = await createTestContext();
  const { app } = await makeApp(ctx.deps);
  const { user } = await makeUser(ctx.deps);
  fx = { app, user, genuine: (await issueAccessToken(ctx.deps, { ...user, roles: [] }, app)).token };
});
afterAll(() => ctx.close());

describe('forged access tokens are refused everywhere a token is accepted', () => {
  for (const acceptor of TOKEN_ACCEPTORS) {
    describe(acceptor.name, () => {
      it('accepts the genuine token (control)', async () => {
        expect(await acceptor.accepts(ctx, fx.genuine, fx)).toBe(true);
      });
      it('refuses every forgery', async () => {
        const checksAudience = !(await acceptor.accepts(ctx, await signWithOurKey(ctx.deps, { ...claimsOf(fx), aud: 'another-app' }), fx));
        const accepted: string[] = [];
        for (const f of FORGERIES) {
          if (f.needsAudienceCheck && !checksAudience) continue;
          if (await acceptor.accepts(ctx, await f.make(ctx, fx), fx)) accepted.push(f.name);
        }
        expect(accepted).toEqual([]);
      });
    });
  }

  it('the audience forgeries are refused wherever an audience is expected', async () => {
    const withAud = TOKEN_ACCEPTORS.find((a) => a.name === 'verifyAccessToken (domain, with audience)')!;
    for (const f of FORGERIES.filter((x) => x.needsAudienceCheck))
      expect(await withAud.accepts(ctx, await f.make(ctx, fx), fx), f.name).toBe(false);
  });

  it('a token made with the forge helpers but otherwise genuine IS accepted (the helpers are not broken)', async () => {
    expect(
      await TOKEN_ACCEPTORS.find((a) => a.name === 'verifyAccessToken (domain, with audience)')!.accepts(
        ctx,
        await signWithOurKey(ctx.deps, claimsOf(fx)),
        fx,
      ),
    ).toBe(true);
  });
});

describe('forged refresh tokens at POST /token/refresh', () => {
  async function freshRefresh() {
    const { app } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    const r = await signInThroughForm(ctx, app.appId, user.email, password);
    return { app, refreshToken: r.refreshToken!, accessToken: r.accessToken! };
  }
  const refresh = (refresh_token: string, app_id: string) =>
    ctx.app.inject({ method: 'POST', url: '/token/refresh', payload: { refresh_token, app_id } });

  const cases: { name: string; make: (g: Awaited<ReturnType<typeof freshRefresh>>, other: App) => [string, string] }[] = [
    { name: 'another app’s app_id (tokens are bound to their app)', make: (g, other) => [g.refreshToken, other.appId] },
    { name: 'the stored hash instead of the token', make: (g) => [sha256(g.refreshToken), g.app.appId] },
    { name: 'an access token as a refresh token', make: (g) => [g.accessToken, g.app.appId] },
    {
      name: 'one hex digit changed',
      make: (g) => [`${g.refreshToken.slice(0, -1)}${g.refreshToken.endsWith('0') ? '1' : '0'}`, g.app.appId],
    },
    { name: 'upper-cased', make: (g) => [g.refreshToken.toUpperCase(), g.app.appId] },
    { name: 'truncated', make: (g) => [g.refreshToken.slice(0, 32), g.app.appId] },
    { name: 'random 64 hex', make: (g) => ['0123456789abcdef'.repeat(4), g.app.appId] },
  ];
  for (const c of cases) {
    it(`${c.name} → 4xx, and the genuine token still works afterwards`, async () => {
      const g = await freshRefresh();
      const { app: other } = await makeApp(ctx.deps);
      const [token, appId] = c.make(g, other);
      const res = await refresh(token, appId);
      expect(res.statusCode).toBeGreaterThanOrEqual(400);
      expect(res.statusCode).toBeLessThan(500);
      expect(res.json().access_token).toBeUndefined();
      expect((await refresh(g.refreshToken, g.app.appId)).statusCode).toBe(200);
    });
  }
});
