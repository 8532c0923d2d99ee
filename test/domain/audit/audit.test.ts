import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, deleteApp, rotateClientSecret, updateApp } from '../../../src/domain/apps/apps.js';
import { listAuditEvents } from '../../../src/domain/audit/audit.js';
import { endSession, startSession } from '../../../src/domain/sessions/sessions.js';
import { issueTokens, revokeRefreshToken, rotateRefreshToken } from '../../../src/domain/tokens/refresh-tokens.js';
import { authenticatePassword, createUser } from '../../../src/domain/users/users.js';
import { createTestContext, type TestContext } from '../../helpers/app.js';
import { makeApp, makeUser, member } from '../../helpers/factories.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ env: { KEYMASTER_LOCKOUT_THRESHOLD: '2', KEYMASTER_REFRESH_REUSE_INTERVAL: '0' } });
});
afterAll(() => ctx.close());

const eventsFor = async (f: { userId?: string; appId?: string }) =>
  (await listAuditEvents(ctx.deps, { ...f, limit: 50 })).map((e) => ({ event: e.event, data: e.data })).reverse();

const meta = { ip: '198.51.100.7', userAgent: 'curl/8' };

describe('audit events', () => {
  it('records app changes with the actor', async () => {
    const cli = { actor: 'cli' };
    const { app } = await createApp(ctx.deps, { name: 'Audited', redirectUris: ['https://a.example.com/cb'] }, cli);
    await updateApp(ctx.deps, app.appId, { name: 'Audited 2', primaryColor: '#000000' }, cli);
    const kept = await createApp(ctx.deps, {
      name: 'Kept',
      redirectUris: ['https://k.example.com/cb'],
      postLogoutRedirectUris: ['https://k.example.com/out'],
      providers: ['google'],
    });
    const renamed = await updateApp(ctx.deps, kept.app.appId, { name: 'Kept 2' });
    expect(renamed).toMatchObject({ name: 'Kept 2', postLogoutRedirectUris: ['https://k.example.com/out'], providers: ['google'] });
    await rotateClientSecret(ctx.deps, app.appId, cli);
    const after = await updateApp(ctx.deps, app.appId, { name: 'Audited 3' });
    expect(after.providers).toEqual(['password']);
    await deleteApp(ctx.deps, app.appId, cli);
    expect(await eventsFor({ appId: app.appId })).toEqual([
      { event: 'app.created', data: { name: 'Audited', actor: 'cli' } },
      { event: 'app.updated', data: { changed: ['name', 'primaryColor'], actor: 'cli' } },
      { event: 'app.secret_rotated', data: { actor: 'cli' } },
      { event: 'app.updated', data: { changed: ['name'] } },
      { event: 'app.deleted', data: { actor: 'cli' } },
    ]);
    const rows = await ctx.deps.db.selectFrom('audit_events').selectAll().where('app_id', '=', app.appId).execute();
    expect(JSON.stringify(rows)).not.toMatch(/[0-9a-f]{64}/); // no client secret, no hash
  });

  it('records sign-in success, failure, lockout and a locked attempt', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user, password } = await createUser(
      ctx.deps,
      { email: `a-${Date.now()}@example.com`, password: 'Right-Pass-1', verified: true },
      { actor: 'cli' },
    ).then((u) => ({ user: u, password: 'Right-Pass-1' }));
    await authenticatePassword(ctx.deps, { email: user.email, password, appId: app.appId }, meta);
    await expect(authenticatePassword(ctx.deps, { email: user.email, password: 'wrong', appId: app.appId }, meta)).rejects.toMatchObject({
      reason: 'invalid_credentials',
    });
    await expect(authenticatePassword(ctx.deps, { email: user.email, password: 'wrong', appId: app.appId }, meta)).rejects.toMatchObject({
      reason: 'invalid_credentials',
    });
    await expect(authenticatePassword(ctx.deps, { email: user.email, password, appId: app.appId }, meta)).rejects.toMatchObject({
      reason: 'account_locked',
    });
    expect(await eventsFor({ userId: user.id })).toEqual([
      { event: 'user.created', data: { roles: [], actor: 'cli' } },
      { event: 'login.success', data: { method: 'password' } },
      { event: 'login.failure', data: { reason: 'bad_password', failedLogins: 1 } },
      { event: 'login.failure', data: { reason: 'bad_password', failedLogins: 2 } },
      { event: 'user.locked', data: {} },
      { event: 'login.locked', data: {} },
    ]);
    const [last] = await listAuditEvents(ctx.deps, { userId: user.id, limit: 1 });
    expect(last).toMatchObject({ appId: app.appId, ip: meta.ip, userAgent: meta.userAgent });
    const unknown = await listAuditEvents(ctx.deps, { event: 'login.failure', appId: app.appId });
    expect(unknown).toHaveLength(2);
  });

  it('records a refresh replay, a revocation and an SSO logout', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user } = await makeUser(ctx.deps);
    const first = await issueTokens(ctx.deps, await member(ctx.deps, user, app), app);
    const second = await rotateRefreshToken(ctx.deps, { refreshToken: first.refreshToken, appId: app.appId });
    await expect(rotateRefreshToken(ctx.deps, { refreshToken: first.refreshToken, appId: app.appId }, meta)).rejects.toMatchObject({
      reason: 'refresh_token_invalid',
    });
    const other = await issueTokens(ctx.deps, await member(ctx.deps, user, app), app);
    await revokeRefreshToken(ctx.deps, { refreshToken: other.refreshToken }, meta);
    const { cookieValue, session } = await startSession(ctx.deps, user.id, meta);
    await endSession(ctx.deps, cookieValue, meta);
    expect(second.refreshToken).not.toBe(first.refreshToken);
    const events = (await eventsFor({ userId: user.id })).filter((e) => e.event !== 'user.created');
    expect(events).toEqual([
      {
        event: 'refresh_token.replay',
        data: {
          familyId: first.familyId,
          revoked: 2,
          first_presenter: { at: expect.any(String), ip: null, user_agent: null },
          replay_presenter: { ip: '198.51.100.7', user_agent: 'curl/8' },
        },
      },
      { event: 'refresh_token.revoked', data: { familyId: other.familyId, revoked: 1 } },
      { event: 'session.ended', data: { sessionId: session.id } },
    ]);
  });

  it('lists newest first, filtered by event, bounded by limit; a malformed id matches nothing', async () => {
    const all = await listAuditEvents(ctx.deps, { limit: 3 });
    expect(all).toHaveLength(3);
    expect(all[0]!.at.getTime()).toBeGreaterThanOrEqual(all[2]!.at.getTime());
    expect(all[0]!.id).toBeGreaterThan(all[1]!.id);
    expect((await listAuditEvents(ctx.deps, { event: 'app.deleted' })).map((e) => e.event)).toEqual(['app.deleted']);
    expect(await listAuditEvents(ctx.deps, { userId: 'not-a-uuid' })).toEqual([]);
  });
});
