// App client settings (type, grants, scopes) as the CLI sets them through the domain.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, updateApp } from '../../../src/domain/apps/apps.js';
import { createTestContext, type TestContext } from '../../helpers/app.js';
import { DEFAULT_LOGOUT, DEFAULT_REDIRECT, makeApp } from '../../helpers/factories.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx.close());

describe('app client settings', () => {
  it('defaults to a confidential app with the code and refresh grants and the user scopes', async () => {
    const { app } = await makeApp(ctx.deps);
    expect(app).toMatchObject({
      clientType: 'confidential',
      grantTypes: ['authorization_code', 'refresh_token'],
      allowedScopes: ['openid', 'profile', 'email', 'offline_access', 'roles'],
    });
    const row = await ctx.deps.db
      .selectFrom('apps')
      .select(['client_type', 'grant_types', 'allowed_scopes'])
      .where('app_id', '=', app.appId)
      .executeTakeFirstOrThrow();
    expect(row.client_type).toBe('confidential');
  });

  it('refuses unknown grants and scopes, and client_credentials for a public app, without writing', async () => {
    const before = (await ctx.deps.db.selectFrom('apps').select('app_id').execute()).length;
    await expect(createApp(ctx.deps, { name: 'x', redirectUris: [DEFAULT_REDIRECT], grantTypes: ['password' as never] })).rejects.toThrow();
    await expect(createApp(ctx.deps, { name: 'x', redirectUris: [DEFAULT_REDIRECT], allowedScopes: ['admin' as never] })).rejects.toThrow();
    await expect(
      createApp(ctx.deps, { name: 'x', redirectUris: [DEFAULT_REDIRECT], clientType: 'public', grantTypes: ['client_credentials'] }),
    ).rejects.toThrow(/public app/);
    expect((await ctx.deps.db.selectFrom('apps').select('app_id').execute()).length).toBe(before);
    const { app } = await makeApp(ctx.deps, { grantTypes: ['client_credentials'] });
    await expect(updateApp(ctx.deps, app.appId, { clientType: 'public' })).rejects.toThrow(/public app/);
  });

  it('update changes only the fields given (omitted lists are not reset to defaults)', async () => {
    const { app } = await makeApp(ctx.deps, { providers: ['password', 'google'] });
    const updated = await updateApp(ctx.deps, app.appId, { clientType: 'public', allowedScopes: ['openid'] });
    expect(updated).toMatchObject({
      clientType: 'public',
      allowedScopes: ['openid'],
      providers: ['password', 'google'],
      postLogoutRedirectUris: [DEFAULT_LOGOUT],
      grantTypes: ['authorization_code', 'refresh_token'],
    });
  });

  it('http: URIs only on loopback hosts (RFC 9700 §2.6) unless the app is marked for development, without writing', async () => {
    const count = async () => (await ctx.deps.db.selectFrom('apps').select('app_id').execute()).length;
    const before = await count();
    for (const uri of ['http://app.example.com/cb', 'http://192.168.1.20/cb', 'http://localhost.evil.example/cb']) {
      await expect(createApp(ctx.deps, { name: 'H', redirectUris: [uri] })).rejects.toMatchObject({ reason: 'http_uri_not_loopback' });
      await expect(
        createApp(ctx.deps, { name: 'H', redirectUris: ['https://ok.example/cb'], postLogoutRedirectUris: [uri] }),
      ).rejects.toMatchObject({ reason: 'http_uri_not_loopback' });
    }
    expect(await count()).toBe(before);
    for (const uri of ['http://localhost:3000/cb', 'http://127.0.0.1:8080/cb', 'http://[::1]/cb']) {
      const { app } = await createApp(ctx.deps, { name: 'Loopback', redirectUris: [uri] });
      expect(app.development).toBe(false);
    }

    // Marked for development: allowed, and a change keeps the mark; clearing it re-checks what is registered.
    const { app: dev } = await createApp(ctx.deps, { name: 'Dev', redirectUris: ['http://app.test/cb'], development: true });
    expect(dev.development).toBe(true);
    const renamed = await updateApp(ctx.deps, dev.appId, { name: 'Dev 2' });
    expect(renamed).toMatchObject({ development: true, redirectUris: ['http://app.test/cb'] });
    await expect(updateApp(ctx.deps, dev.appId, { development: false })).rejects.toMatchObject({ reason: 'http_uri_not_loopback' });
    expect((await updateApp(ctx.deps, dev.appId, { development: false, redirectUris: ['https://app.test/cb'] })).development).toBe(false);

    // An app not marked cannot gain an http: URI on a real host by an update.
    const { app } = await makeApp(ctx.deps);
    await expect(updateApp(ctx.deps, app.appId, { redirectUris: ['http://app.example.com/cb'] })).rejects.toMatchObject({
      reason: 'http_uri_not_loopback',
    });
    expect((await updateApp(ctx.deps, app.appId, {})).redirectUris).toEqual(app.redirectUris);
  });
});
