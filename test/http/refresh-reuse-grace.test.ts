import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { updateApp } from '../../src/domain/apps/apps.js';
import { verifyAccessToken } from '../../src/domain/tokens/access-tokens.js';
import { issueTokens, successorToken } from '../../src/domain/tokens/refresh-tokens.js';
import { sha256 } from '../../src/lib/crypto.js';
import { SECOND, type FixedClock } from '../../src/lib/clock.js';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { makeApp, makeUser, member } from '../helpers/factories.js';

let ctx: TestContext;
let clock: FixedClock;
beforeAll(async () => {
  ctx = await createTestContext({ clock: 'fixed' });
  clock = ctx.clock as FixedClock;
});
afterAll(() => ctx.close());

const refresh = (appId: string, token: string, ua = 'tab-a') =>
  ctx.app.inject({
    method: 'POST',
    url: '/token/refresh',
    headers: { 'user-agent': ua },
    payload: { refresh_token: token, app_id: appId },
  });

const family = (familyId: string) =>
  ctx.deps.db.selectFrom('refresh_tokens').selectAll().where('family_id', '=', familyId).orderBy('created_at').execute();
const live = (rows: { rotated_at: Date | null; revoked_at: Date | null }[]) => rows.filter((r) => !r.rotated_at && !r.revoked_at);

async function signIn(reuse?: number) {
  const { app } = await makeApp(ctx.deps);
  if (reuse !== undefined) await updateApp(ctx.deps, app.appId, { refreshReuseInterval: reuse });
  const { user } = await makeUser(ctx.deps);
  const fresh = { ...app, refreshReuseInterval: reuse ?? null };
  const set = await issueTokens(ctx.deps, await member(ctx.deps, user, fresh), fresh, {}, { ip: '10.0.0.1', userAgent: 'sign-in' });
  return { app: fresh, user, set };
}

describe('refresh reuse grace (default 10 s)', () => {
  it('two concurrent refreshes of one token get the same successor refresh token: one family, one live token', async () => {
    const { app, user, set } = await signIn();
    const [a, b] = await Promise.all([refresh(app.appId, set.refreshToken, 'tab-a'), refresh(app.appId, set.refreshToken, 'tab-b')]);
    expect(a.statusCode).toBe(200);
    expect(b.statusCode).toBe(200);
    expect(b.json().refresh_token).toBe(a.json().refresh_token);
    // Each presenter gets a valid access token of its own (signed when asked), for the same user and app.
    for (const r of [a, b]) {
      const claims = await verifyAccessToken(ctx.deps, r.json().access_token, { audience: app.appId });
      expect(claims.sub).toBe(user.id);
    }
    const rows = await family(set.familyId);
    expect(rows).toHaveLength(2);
    expect(live(rows)).toHaveLength(1);
    // No token is kept anywhere in the family's rows, not even encrypted: only hashes.
    const stored = JSON.stringify(rows);
    for (const t of [set.refreshToken, a.json().refresh_token, a.json().access_token, b.json().access_token])
      expect(stored).not.toContain(t);
    expect(rows[1]!.token_hash).toBe(sha256(a.json().refresh_token));

    // The converged successor keeps working.
    const next = await refresh(app.appId, a.json().refresh_token);
    expect(next.statusCode).toBe(200);
  });

  it('presenting the parent after its successor was used revokes the family and records both presenters', async () => {
    const { app, user, set } = await signIn();
    const first = await refresh(app.appId, set.refreshToken, 'first-browser');
    expect(first.statusCode).toBe(200);
    const second = await refresh(app.appId, first.json().refresh_token, 'first-browser');
    expect(second.statusCode).toBe(200);
    clock.advance(10 * SECOND);
    const replay = await ctx.app.inject({
      method: 'POST',
      url: '/token/refresh',
      headers: { 'user-agent': 'attacker-agent' },
      remoteAddress: '203.0.113.9',
      payload: { refresh_token: set.refreshToken, app_id: app.appId },
    });
    expect(replay.statusCode).toBe(401);
    expect(replay.json().error).toBe('invalid_grant');
    const rows = await family(set.familyId);
    expect(rows.every((r) => r.revoked_at)).toBe(true);
    expect((await refresh(app.appId, second.json().refresh_token)).statusCode).toBe(401);

    const audit = await ctx.deps.db
      .selectFrom('audit_events')
      .selectAll()
      .where('user_id', '=', user.id)
      .where('event', '=', 'refresh_token.replay')
      .execute();
    expect(audit).toHaveLength(1);
    expect(audit[0]!.ip).toBe('203.0.113.9');
    expect(audit[0]!.data).toMatchObject({
      familyId: set.familyId,
      first_presenter: { ip: '127.0.0.1', user_agent: 'first-browser' },
      replay_presenter: { ip: '203.0.113.9', user_agent: 'attacker-agent' },
    });
  });

  it('the parent presented after its successor was itself used is a replay, even within the interval', async () => {
    const { app, set } = await signIn();
    const first = await refresh(app.appId, set.refreshToken);
    expect((await refresh(app.appId, first.json().refresh_token)).statusCode).toBe(200);
    expect((await refresh(app.appId, set.refreshToken)).statusCode).toBe(401);
    expect(live(await family(set.familyId))).toHaveLength(0);
  });

  it('a replay revokes only that family: the same user on another device stays signed in', async () => {
    const { app, user, set } = await signIn();
    const otherDevice = await issueTokens(ctx.deps, await member(ctx.deps, user, app), app);
    const first = await refresh(app.appId, set.refreshToken);
    expect((await refresh(app.appId, first.json().refresh_token)).statusCode).toBe(200);
    clock.advance(11 * SECOND);
    expect((await refresh(app.appId, set.refreshToken)).statusCode).toBe(401);
    expect(live(await family(set.familyId))).toHaveLength(0);
    expect(live(await family(otherDevice.familyId))).toHaveLength(1);
    expect((await refresh(app.appId, otherDevice.refreshToken)).statusCode).toBe(200);
  });

  it('the successor is the HMAC of its parent under the secret: another secret derives another token', async () => {
    const { app, set } = await signIn();
    const a = await refresh(app.appId, set.refreshToken);
    expect(a.json().refresh_token).toBe(successorToken(ctx.deps.secret, set.refreshToken));
    expect(successorToken('another-secret-0123456789abcdef0123456789abcdef', set.refreshToken)).not.toBe(a.json().refresh_token);
    expect(a.json().refresh_token).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('per-app reuse interval', () => {
  it('0 = strict: the second presentation is a replay at once', async () => {
    const { app, set } = await signIn(0);
    const a = await refresh(app.appId, set.refreshToken);
    expect(a.statusCode).toBe(200);
    const b = await refresh(app.appId, set.refreshToken);
    expect(b.statusCode).toBe(401);
    expect(live(await family(set.familyId))).toHaveLength(0);
  });

  it('a longer interval is honoured and rejected values never reach the database', async () => {
    const { app, set } = await signIn(30);
    const a = await refresh(app.appId, set.refreshToken);
    clock.advance(25 * SECOND);
    const b = await refresh(app.appId, set.refreshToken);
    expect(b.statusCode).toBe(200);
    expect(b.json().refresh_token).toBe(a.json().refresh_token);
    await expect(updateApp(ctx.deps, app.appId, { refreshReuseInterval: 301 })).rejects.toThrow();
    await expect(updateApp(ctx.deps, app.appId, { refreshReuseInterval: -1 })).rejects.toThrow();
    const row = await ctx.deps.db
      .selectFrom('apps')
      .select('refresh_reuse_interval')
      .where('app_id', '=', app.appId)
      .executeTakeFirstOrThrow();
    expect(row.refresh_reuse_interval).toBe(30);
  });
});
