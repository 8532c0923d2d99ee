import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { advanceKeyLifecycle, KeyRing, listSigningKeys, publishLeadMs, rotateSigningKey } from '../../../src/domain/keys/keys.js';
import { issueTokens } from '../../../src/domain/tokens/refresh-tokens.js';
import { DAY, SECOND, type FixedClock } from '../../../src/lib/clock.js';
import { startTestServer, type TestContext } from '../../helpers/app.js';
import { makeApp, makeUser, member } from '../../helpers/factories.js';

let ctx: TestContext;
let clock: FixedClock;
beforeAll(async () => {
  ctx = await startTestServer({ clock: 'fixed', env: { KEYMASTER_KEY_ROTATION_DAYS: '30', KEYMASTER_KEY_POLL_SECONDS: '5' } });
  clock = ctx.clock as FixedClock;
});
afterAll(() => ctx.close());

const kidOf = (jwt: string) => decodeProtectedHeader(jwt).kid!;
const jwksKids = async () => {
  const res = await ctx.app.inject({ url: '/.well-known/jwks.json' });
  return (JSON.parse(res.body) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
};
const states = async () => Object.fromEntries((await listSigningKeys(ctx.deps, { all: true })).map((k) => [k.kid, k.state]));

describe('signing key lifecycle', () => {
  it('publishes the next key before it signs, keeps the old one until its tokens expired, then retires it', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user } = await makeUser(ctx.deps);
    const oldKid = ctx.deps.keys.active.kid;
    const before = await issueTokens(ctx.deps, await member(ctx.deps, user, app), app);
    expect(kidOf(before.accessToken)).toBe(oldKid);

    const { kid: newKid, activateAt } = await rotateSigningKey(ctx.deps);
    expect(newKid).not.toBe(oldKid);
    // Published for at least one JWKS cache period (300 s) before it signs.
    expect(activateAt.getTime() - clock.now().getTime()).toBeGreaterThanOrEqual(300 * SECOND);
    expect(await ctx.deps.keys.reloadIfChanged()).toBe(true);
    expect(await jwksKids()).toEqual(expect.arrayContaining([oldKid, newKid]));
    expect(kidOf((await issueTokens(ctx.deps, await member(ctx.deps, user, app), app)).accessToken)).toBe(oldKid);

    clock.advance(publishLeadMs(ctx.deps) - SECOND);
    expect((await advanceKeyLifecycle(ctx.deps)).activated).toBeNull();
    expect((await states())[newKid]).toBe('next');

    clock.advance(SECOND);
    const changes = await advanceKeyLifecycle(ctx.deps);
    expect(changes.activated).toBe(newKid);
    await ctx.deps.keys.reloadIfChanged();
    expect(await states()).toMatchObject({ [oldKid]: 'previous', [newKid]: 'active' });
    const after = await issueTokens(ctx.deps, await member(ctx.deps, user, app), app);
    expect(kidOf(after.accessToken)).toBe(newKid);

    // A third-party verifier with a remote JWKS accepts tokens from both sides of the rotation.
    const jwks = createRemoteJWKSet(new URL(`${ctx.baseUrl}/.well-known/jwks.json`));
    for (const t of [before.accessToken, after.accessToken]) {
      const { payload } = await jwtVerify(t, jwks, {
        issuer: ctx.deps.config.issuer,
        audience: app.appId,
        currentDate: clock.now(),
        algorithms: ['RS256'],
      });
      expect(payload.sub).toBe(user.id);
    }

    // The old key stays published while any token it signed may be live (900 s + polls + leeway)...
    clock.advance(900 * SECOND);
    expect((await advanceKeyLifecycle(ctx.deps)).retired).toEqual([]);
    expect(await jwksKids()).toContain(oldKid);
    // ...and retires after that.
    clock.advance(2 * 5 * SECOND + 60 * SECOND);
    expect((await advanceKeyLifecycle(ctx.deps)).retired).toEqual([oldKid]);
    await ctx.deps.keys.reloadIfChanged();
    expect(await jwksKids()).toEqual([newKid]);
    expect((await states())[oldKid]).toBe('retired');
  });

  it('rotates automatically after KEYMASTER_KEY_ROTATION_DAYS and another process picks the change up', async () => {
    const other = new KeyRing({ db: ctx.deps.db, clock, secret: ctx.deps.secret });
    await other.reload();
    expect(await other.reloadIfChanged()).toBe(false);
    const current = ctx.deps.keys.active.kid;

    clock.advance(29 * DAY);
    expect((await advanceKeyLifecycle(ctx.deps)).scheduled).toBeNull();
    clock.advance(DAY);
    const scheduled = (await advanceKeyLifecycle(ctx.deps)).scheduled;
    expect(scheduled).toBeTruthy();
    // Running the job again (another process) schedules nothing more.
    expect((await advanceKeyLifecycle(ctx.deps)).scheduled).toBeNull();
    expect(await other.reloadIfChanged()).toBe(true);
    expect(other.publicKey(scheduled!)).toBeDefined();
    expect(other.active.kid).toBe(current);

    clock.advance(publishLeadMs(ctx.deps));
    expect((await advanceKeyLifecycle(ctx.deps)).activated).toBe(scheduled);
    expect(await other.reloadIfChanged()).toBe(true);
    expect(other.active.kid).toBe(scheduled);
  });

  it('an immediate rotation signs at once and still publishes the replaced key', async () => {
    const old = ctx.deps.keys.active.kid;
    const { kid } = await rotateSigningKey(ctx.deps, { immediate: true });
    await ctx.deps.keys.reloadIfChanged();
    expect(ctx.deps.keys.active.kid).toBe(kid);
    expect(await jwksKids()).toEqual(expect.arrayContaining([kid, old]));
  });
});

describe('GET /.well-known/jwks.json caching', () => {
  it('answers 304 to a matching If-None-Match and a new ETag after a key change', async () => {
    const first = await ctx.app.inject({ url: '/.well-known/jwks.json' });
    const etag = first.headers.etag as string;
    expect(first.statusCode).toBe(200);
    expect(first.headers['cache-control']).toContain('max-age=300');
    const again = await ctx.app.inject({ url: '/.well-known/jwks.json', headers: { 'if-none-match': etag } });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
    const weakList = await ctx.app.inject({ url: '/.well-known/jwks.json', headers: { 'if-none-match': `"other", W/${etag}` } });
    expect(weakList.statusCode).toBe(304);

    await rotateSigningKey(ctx.deps);
    await ctx.deps.keys.reloadIfChanged();
    const changed = await ctx.app.inject({ url: '/.well-known/jwks.json', headers: { 'if-none-match': etag } });
    expect(changed.statusCode).toBe(200);
    expect(changed.headers.etag).not.toBe(etag);
  });
});
