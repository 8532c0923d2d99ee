// Admin API authentication and the Console app (issue 14): who gets in, and who does not.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_APP_NAME, consoleRedirectUri, ensureConsoleApp } from '../../src/domain/apps/console-app.js';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { bearer, consoleAppId, consoleToken, makeAdmin, serviceToken } from '../helpers/admin.js';
import { makeApp, makeUser } from '../helpers/factories.js';
import { signIn } from '../helpers/sign-in.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx.close());

describe('the built-in Console app', () => {
  it('exists after start-up: public, PKCE code flow, password, invite-only, callback on the issuer', async () => {
    const row = await ctx.deps.db.selectFrom('apps').selectAll().where('builtin', '=', 'console').execute();
    expect(row).toHaveLength(1);
    expect(row[0]).toMatchObject({
      name: CONSOLE_APP_NAME,
      client_type: 'public',
      grant_types: ['authorization_code', 'refresh_token'],
      providers: ['password'],
      registration_policy: 'invite',
      redirect_uris: [`${ctx.deps.config.issuer}/console/callback`],
    });
  });

  it('is made once however many processes start together, and follows the issuer', async () => {
    const id = await consoleAppId(ctx);
    const apps = await Promise.all([1, 2, 3, 4].map(() => ensureConsoleApp(ctx.deps)));
    expect(new Set(apps.map((a) => a.appId))).toEqual(new Set([id]));
    const moved = { ...ctx.deps, config: { ...ctx.deps.config, issuer: 'https://id.example.com' } };
    const app = await ensureConsoleApp(moved);
    expect(app.appId).toBe(id);
    expect(app.redirectUris).toEqual([consoleRedirectUri('https://id.example.com')]);
    await ensureConsoleApp(ctx.deps);
  });
});

describe('who may call /admin', () => {
  const list = (headers: Record<string, string> = {}) => ctx.app.inject({ url: '/admin/apps', headers });

  it('an Admin JWT of a platform admin: 200', async () => {
    const admin = await makeAdmin(ctx, 'platform_admin');
    const res = await list(admin.headers);
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('no token: 401 {detail}', async () => {
    const res = await list();
    expect(res.statusCode).toBe(401);
    expect(res.json()).toEqual({ detail: 'Missing bearer token' });
  });

  it('a garbage token: 401', async () => {
    expect((await list(bearer('abc.def.ghi'))).statusCode).toBe(401);
  });

  it("a normal user's Console token (no admin tier): 403 {detail}", async () => {
    const { user, password } = await makeUser(ctx.deps);
    // The Console admits only admins (memberships' sign-in rule): a grant made and revoked leaves a token.
    await ctx.deps.db.insertInto('admin_grants').values({ user_id: user.id, tier: 'platform_admin' }).execute();
    const token = await consoleToken(ctx, user.email, password);
    await ctx.deps.db.deleteFrom('admin_grants').where('user_id', '=', user.id).execute();
    const res = await list(bearer(token));
    expect(res.statusCode).toBe(403);
    expect(res.json()).toEqual({ detail: 'Admin access required' });
  });

  it("a platform admin's token of another app (not the Console): 401", async () => {
    const admin = await makeAdmin(ctx, 'platform_admin');
    const { app } = await makeApp(ctx.deps);
    const other = await signIn(ctx, app.appId, admin.user.email, admin.password);
    expect((await list(bearer(other.accessToken))).statusCode).toBe(401);
  });

  it('a revoked grant stops working at once (tiers are read on every request)', async () => {
    const admin = await makeAdmin(ctx, 'platform_admin');
    expect((await list(admin.headers)).statusCode).toBe(200);
    await ctx.deps.db.deleteFrom('admin_grants').where('user_id', '=', admin.user.id).execute();
    expect((await list(admin.headers)).statusCode).toBe(403);
  });

  it('a disabled admin is refused at once (liveness)', async () => {
    const admin = await makeAdmin(ctx, 'platform_admin');
    const other = await makeAdmin(ctx, 'platform_admin');
    const res = await ctx.app.inject({ method: 'POST', url: `/admin/users/${admin.user.id}/disable`, headers: other.headers });
    expect(res.statusCode).toBe(200);
    const refused = await list(admin.headers);
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toEqual({ detail: 'Account is disabled' });
  });

  it('a service token without an admin scope: 403; with one, not the apps list (admins only): 403', async () => {
    const plain = await serviceToken(ctx, ['push:send']);
    expect((await list(plain.headers)).statusCode).toBe(403);
    const reader = await serviceToken(ctx, ['users:read']);
    expect((await list(reader.headers)).statusCode).toBe(403);
  });

  it('a service token issued for a resource server is not a key to the Admin API: 401', async () => {
    const svc = await serviceToken(ctx, ['users:read'], { resources: ['https://api.example.com'] });
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/token',
      headers: {
        authorization: `Basic ${Buffer.from(`${svc.app.appId}:${svc.clientSecret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      payload: new URLSearchParams({
        grant_type: 'client_credentials',
        scope: 'users:read',
        resource: 'https://api.example.com',
      }).toString(),
    });
    expect(res.statusCode).toBe(200);
    const token = (res.json() as { access_token: string }).access_token;
    const users = await ctx.app.inject({ url: `/admin/users?app_id=${svc.app.appId}`, headers: bearer(token) });
    expect(users.statusCode).toBe(401);
  });
});
