// POST /token/refresh and /token/revoke: rotation, replay → family revoked, races decided by Postgres,
// expiry, app binding, and bad input that changes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { updateApp } from '../../src/domain/apps/apps.js';
import { issueTokens } from '../../src/domain/tokens/refresh-tokens.js';
import { DAY, type FixedClock } from '../../src/lib/clock.js';
import { sha256 } from '../../src/lib/crypto.js';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { makeApp, makeUser, member } from '../helpers/factories.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ clock: 'fixed' });
});
afterAll(() => ctx.close());

async function signIn() {
  const { app } = await makeApp(ctx.deps);
  const { user } = await makeUser(ctx.deps);
  const tokens = await issueTokens(ctx.deps, await member(ctx.deps, user, app), app);
  return { app, user, tokens };
}

const refresh = (refresh_token: unknown, app_id: unknown) =>
  ctx.app.inject({ method: 'POST', url: '/token/refresh', payload: { refresh_token, app_id } });

const row = (token: string) =>
  ctx.deps.db.selectFrom('refresh_tokens').selectAll().where('token_hash', '=', sha256(token)).executeTakeFirstOrThrow();

describe('POST /token/refresh', () => {
  it('rotates: a new pair, the old token spent, the child in the same family', async () => {
    const { app, tokens } = await signIn();
    const res = await refresh(tokens.refreshToken, app.appId);
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.json();
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 900 });
    expect(body.refresh_token).toMatch(/^[0-9a-f]{64}$/);
    expect(body.refresh_token).not.toBe(tokens.refreshToken);
    const parent = await row(tokens.refreshToken);
    const child = await row(body.refresh_token);
    expect(parent.rotated_at).not.toBeNull();
    expect(parent.successor_jti).toBe(child.jti);
    expect(child.family_id).toBe(parent.family_id);
    expect(child.parent_jti).toBe(parent.jti);
    // Only hashes are stored.
    const raw = JSON.stringify(await ctx.deps.db.selectFrom('refresh_tokens').selectAll().execute());
    expect(raw).not.toContain(tokens.refreshToken);
    expect(raw).not.toContain(body.refresh_token);
  });

  it('a rotated token presented again is a replay: the whole family is revoked', async () => {
    const { app, tokens } = await signIn();
    const first = (await refresh(tokens.refreshToken, app.appId)).json();
    // Once its successor was used, a second presentation is a replay (before that, a retry whose
    // answer was lost gets the successor again: refresh-lost-response.test.ts).
    const second = (await refresh(first.refresh_token, app.appId)).json();
    (ctx.clock as FixedClock).advance(11_000);
    const replay = await refresh(tokens.refreshToken, app.appId);
    expect(replay.statusCode).toBe(401);
    expect(replay.json()).toEqual({ error: 'invalid_grant', error_description: 'Invalid or expired refresh token' });
    // The live token issued before the replay is dead too.
    const after = await refresh(second.refresh_token, app.appId);
    expect(after.statusCode).toBe(401);
    const family = await ctx.deps.db
      .selectFrom('refresh_tokens')
      .selectAll()
      .where('family_id', '=', (await row(tokens.refreshToken)).family_id)
      .execute();
    expect(family.every((r) => r.revoked_at !== null)).toBe(true);
    const events = await ctx.deps.db
      .selectFrom('audit_events')
      .select('event')
      .where('event', '=', 'refresh_token.replay')
      .where('app_id', '=', app.appId)
      .execute();
    expect(events).toHaveLength(1);
  });

  it('strict mode: of 20 concurrent refreshes of one token exactly one wins', async () => {
    const { app, tokens } = await signIn();
    await updateApp(ctx.deps, app.appId, { refreshReuseInterval: 0 });
    const results = await Promise.all(Array.from({ length: 20 }, () => refresh(tokens.refreshToken, app.appId)));
    const codes = results.map((r) => r.statusCode);
    expect(codes.filter((c) => c === 200)).toHaveLength(1);
    expect(codes.filter((c) => c !== 200).every((c) => c === 401)).toBe(true);
    const children = await ctx.deps.db
      .selectFrom('refresh_tokens')
      .select('jti')
      .where('parent_jti', '=', (await row(tokens.refreshToken)).jti)
      .execute();
    expect(children).toHaveLength(1);
  });

  it('default reuse grace: 20 concurrent refreshes converge on one successor refresh token', async () => {
    const { app, tokens } = await signIn();
    const results = await Promise.all(Array.from({ length: 20 }, () => refresh(tokens.refreshToken, app.appId)));
    expect(results.map((r) => r.statusCode)).toEqual(Array(20).fill(200));
    expect(new Set(results.map((r) => r.json().refresh_token)).size).toBe(1);
    const children = await ctx.deps.db
      .selectFrom('refresh_tokens')
      .select('jti')
      .where('parent_jti', '=', (await row(tokens.refreshToken)).jti)
      .execute();
    expect(children).toHaveLength(1);
  });

  it('a token of app A refreshed as app B fails and stays valid for A', async () => {
    const { app, tokens } = await signIn();
    const { app: other } = await makeApp(ctx.deps);
    const res = await refresh(tokens.refreshToken, other.appId);
    expect(res.statusCode).toBe(401);
    expect(res.json().error).toBe('invalid_grant');
    expect((await row(tokens.refreshToken)).rotated_at).toBeNull();
    expect((await refresh(tokens.refreshToken, app.appId)).statusCode).toBe(200);
  });

  it('expires after 30 days; each rotation starts a fresh 30-day window', async () => {
    const clock = ctx.clock as FixedClock;
    const { app, tokens } = await signIn();
    clock.advance(29 * DAY);
    const next = (await refresh(tokens.refreshToken, app.appId)).json();
    clock.advance(29 * DAY);
    const again = await refresh(next.refresh_token, app.appId);
    expect(again.statusCode).toBe(200);
    clock.advance(30 * DAY + 1000);
    expect((await refresh(again.json().refresh_token, app.appId)).statusCode).toBe(401);
  });

  it('refuses a disabled user with 403 and revokes the family', async () => {
    const { app, user, tokens } = await signIn();
    await ctx.deps.db.updateTable('users').set({ disabled_at: ctx.clock.now() }).where('id', '=', user.id).execute();
    const res = await refresh(tokens.refreshToken, app.appId);
    expect(res.statusCode).toBe(403);
    expect((await row(tokens.refreshToken)).revoked_reason).toBe('account_disabled');
  });

  it.each([
    ['missing body fields', {}],
    ['wrong types', { refresh_token: 12, app_id: ['x'] }],
    ['oversized token', { refresh_token: 'a'.repeat(5000), app_id: 'x' }],
    ['unknown token', { refresh_token: 'f'.repeat(64), app_id: '00000000-0000-0000-0000-000000000000' }],
    ['app_id not a uuid', { refresh_token: 'f'.repeat(64), app_id: "' or 1=1 --" }],
  ])('%s → 4xx invalid_*, nothing written', async (_name, payload) => {
    const before = await ctx.deps.db
      .selectFrom('refresh_tokens')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow();
    const res = await ctx.app.inject({ method: 'POST', url: '/token/refresh', payload });
    expect(res.statusCode).toBeGreaterThanOrEqual(400);
    expect(res.statusCode).toBeLessThan(500);
    expect(res.json().error).toMatch(/^invalid_/);
    expect(res.json().error_description).toBeTruthy();
    const after = await ctx.deps.db
      .selectFrom('refresh_tokens')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow();
    expect(after.n).toBe(before.n);
  });

  it('malformed JSON → 400 invalid_request', async () => {
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/token/refresh',
      headers: { 'content-type': 'application/json' },
      payload: '{"refresh_token": ',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: 'invalid_request', error_description: 'Request body is not valid JSON' });
  });

  it('an oversized body → 413', async () => {
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/token/refresh',
      payload: { refresh_token: 'a'.repeat(200_000), app_id: 'x' },
    });
    expect(res.statusCode).toBe(413);
  });
});

describe('POST /token/revoke', () => {
  it('revokes the family and answers 200 {"status":"ok"}', async () => {
    const { app, tokens } = await signIn();
    const next = (await refresh(tokens.refreshToken, app.appId)).json();
    const res = await ctx.app.inject({ method: 'POST', url: '/token/revoke', payload: { refresh_token: next.refresh_token } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
    expect((await row(next.refresh_token)).revoked_reason).toBe('revoked');
    expect((await refresh(next.refresh_token, app.appId)).statusCode).toBe(401);
  });

  it('answers 200 for unknown and already revoked tokens (RFC 7009 §2.2)', async () => {
    for (const t of ['0'.repeat(64), 'not-even-hex']) {
      const res = await ctx.app.inject({ method: 'POST', url: '/token/revoke', payload: { refresh_token: t } });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ status: 'ok' });
    }
  });

  it('missing refresh_token → 400', async () => {
    const res = await ctx.app.inject({ method: 'POST', url: '/token/revoke', payload: {} });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe('invalid_request');
  });
});
