import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listTokens, revokeTokens } from '../../../src/domain/tokens/token-inventory.js';
import { issueTokens, rotateRefreshToken } from '../../../src/domain/tokens/refresh-tokens.js';
import { sha256 } from '../../../src/lib/crypto.js';
import { DAY, type FixedClock } from '../../../src/lib/clock.js';
import { createTestContext, type TestContext } from '../../helpers/app.js';
import { makeApp, makeUser, member } from '../../helpers/factories.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ clock: 'fixed' });
});
afterAll(() => ctx.close());

const clock = () => ctx.clock as FixedClock;
const meta = { userAgent: 'Mozilla/5.0 (X11) Firefox/140', ip: '203.0.113.9' };

describe('listTokens', () => {
  it('shows every seed-001 field, and filters by user (email or id), app and liveness', async () => {
    const { app } = await makeApp(ctx.deps);
    const { app: other } = await makeApp(ctx.deps);
    const { user } = await makeUser(ctx.deps, { name: 'Grace', memberOf: { app, roles: ['admin'] } });
    const first = await issueTokens(ctx.deps, await member(ctx.deps, user, app), app, {}, meta);
    clock().advance(60_000);
    const second = await rotateRefreshToken(ctx.deps, { refreshToken: first.refreshToken, appId: app.appId }, meta);
    await issueTokens(ctx.deps, await member(ctx.deps, user, other), other, {}, meta);

    const mine = await listTokens(ctx.deps, { user: user.email.toUpperCase(), appId: app.appId });
    expect(mine).toHaveLength(2);
    const [head, parent] = mine;
    expect(head).toMatchObject({
      appId: app.appId,
      userId: user.id,
      familyId: first.familyId,
      parentJti: parent!.jti,
      state: 'active',
      lifetimeSeconds: 30 * 86_400,
      claims: { email: user.email, name: 'Grace', roles: ['admin'] },
      hashPrefix: sha256(second.refreshToken).slice(0, 12),
      userAgent: meta.userAgent,
      ip: meta.ip,
      revokedAt: null,
      lastUsedAt: null,
    });
    expect(head!.expiresAt.getTime() - head!.createdAt.getTime()).toBe(30 * DAY);
    expect(parent).toMatchObject({ state: 'rotated', hashPrefix: sha256(first.refreshToken).slice(0, 12), lastUsedAt: clock().now() });
    expect(head!.hashPrefix).toMatch(/^[0-9a-f]{12}$/);

    expect(await listTokens(ctx.deps, { user: user.id })).toHaveLength(3);
    expect((await listTokens(ctx.deps, { user: user.id, active: true })).map((t) => t.jti).sort()).toEqual(
      (await listTokens(ctx.deps, { user: user.id }))
        .filter((t) => t.state === 'active')
        .map((t) => t.jti)
        .sort(),
    );
    expect(await listTokens(ctx.deps, { user: user.id, active: true })).toHaveLength(2);
    clock().advance(31 * DAY);
    expect(await listTokens(ctx.deps, { user: user.id, active: true })).toEqual([]);
    expect((await listTokens(ctx.deps, { user: user.id, appId: other.appId }))[0]!.state).toBe('expired');
  });

  it('rejects an unknown user and a malformed app id with clear errors', async () => {
    await expect(listTokens(ctx.deps, { user: 'nobody@example.com' })).rejects.toMatchObject({
      code: 'not_found',
      reason: 'user_ref_not_found',
      description: 'No user nobody@example.com',
    });
    await expect(listTokens(ctx.deps, { appId: 'nope' })).rejects.toMatchObject({ code: 'invalid_request', reason: 'app_filter_invalid' });
  });
});

describe('revokeTokens', () => {
  it('revoking one jti revokes its whole family (and nothing else), recorded with the actor', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user } = await makeUser(ctx.deps);
    const a = await issueTokens(ctx.deps, await member(ctx.deps, user, app), app, {}, meta);
    const a2 = await rotateRefreshToken(ctx.deps, { refreshToken: a.refreshToken, appId: app.appId });
    const b = await issueTokens(ctx.deps, await member(ctx.deps, user, app), app, {}, meta);
    const [parent] = (await listTokens(ctx.deps, { user: user.id })).filter((t) => t.familyId === a.familyId && t.state === 'rotated');

    expect(await revokeTokens(ctx.deps, { jti: parent!.jti }, { actor: 'cli' })).toEqual({ revoked: 2, sessions: 0 });
    await expect(rotateRefreshToken(ctx.deps, { refreshToken: a2.refreshToken, appId: app.appId })).rejects.toMatchObject({
      code: 'invalid_grant',
      reason: 'refresh_token_invalid',
    });
    const rest = await rotateRefreshToken(ctx.deps, { refreshToken: b.refreshToken, appId: app.appId });
    expect(rest.refreshToken).toMatch(/^[0-9a-f]{64}$/);
    const rows = await ctx.deps.db.selectFrom('refresh_tokens').select(['revoked_reason']).where('family_id', '=', a.familyId).execute();
    expect(rows.map((r) => r.revoked_reason)).toEqual(['admin', 'admin']);
    const ev = await ctx.deps.db
      .selectFrom('audit_events')
      .selectAll()
      .where('user_id', '=', user.id)
      .where('event', '=', 'refresh_token.revoked')
      .execute();
    expect(ev.map((e) => e.data)).toEqual([{ familyId: a.familyId, revoked: 2, reason: 'admin', actor: 'cli' }]);
  });

  it('revokes by family, and by user (tokens and SSO sessions)', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user } = await makeUser(ctx.deps);
    const f1 = await issueTokens(ctx.deps, await member(ctx.deps, user, app), app);
    await issueTokens(ctx.deps, await member(ctx.deps, user, app), app);
    expect(await revokeTokens(ctx.deps, { familyId: f1.familyId })).toEqual({ revoked: 1, sessions: 0 });
    expect(await revokeTokens(ctx.deps, { familyId: f1.familyId })).toEqual({ revoked: 0, sessions: 0 });
    await ctx.deps.db
      .insertInto('sessions')
      .values({
        token_hash: sha256('x' + user.id),
        user_id: user.id,
        auth_time: clock().now(),
        expires_at: new Date(clock().now().getTime() + DAY),
      })
      .execute();
    expect(await revokeTokens(ctx.deps, { user: user.email })).toEqual({ revoked: 1, sessions: 1 });
    expect(await listTokens(ctx.deps, { user: user.id, active: true })).toEqual([]);
  });

  it('unknown jti or family is a 404 and writes nothing', async () => {
    await expect(revokeTokens(ctx.deps, { jti: '00000000-0000-4000-8000-000000000000' })).rejects.toMatchObject({ code: 'not_found' });
    await expect(revokeTokens(ctx.deps, { jti: 'garbage' })).rejects.toMatchObject({ code: 'not_found' });
    await expect(revokeTokens(ctx.deps, { familyId: 'garbage' })).rejects.toMatchObject({ code: 'not_found' });
  });
});
