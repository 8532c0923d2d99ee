// Admin API apps (issue 14, KEYMASTER-API.md §5): create with Keymaster's body, list, show, update,
// delete, regenerate the secret; each tier's boundary (IDOR) and bad input leaving the database as it was.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { makeAdminWorld, snapshot, type AdminWorld } from '../helpers/admin-world.js';
import { basicAuth } from '../helpers/oidc.js';

let ctx: TestContext;
let w: AdminWorld;
beforeAll(async () => {
  ctx = await createTestContext();
  w = await makeAdminWorld(ctx);
});
afterAll(() => ctx.close());

const call = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, headers: Record<string, string>, payload?: object) =>
  ctx.app.inject({ method, url, headers, ...(payload && { payload }) });

const keymasterBody = (tenantId: string | null) => ({
  name: 'Shop',
  tenant_id: tenantId,
  bundle_id: 'com.example.shop',
  registration_policy: 'invite',
  config: {
    allowed_providers: ['password'],
    redirect_uris: ['https://shop.example.com/cb'],
    available_roles: ['user', 'manager', 'admin', 'buyer'],
    auto_assign_roles: ['user'],
    token_lifetime_minutes: 30,
    refresh_lifetime_days: 14,
    branding: { primary_color: '#1a73e8', logo_url: 'https://shop.example.com/logo.png', logo_height: 48 },
  },
});

describe('POST /admin/apps', () => {
  it("takes Keymaster's body: 201 with id and the client secret once; the secret authenticates; audited as the admin", async () => {
    const res = await call('POST', '/admin/apps', w.platform.headers, keymasterBody(w.tenantA.id));
    expect(res.statusCode).toBe(201);
    const body = res.json() as Record<string, unknown> & { id: string; client_secret: string; config: Record<string, unknown> };
    expect(body).toMatchObject({ name: 'Shop', tenant_id: w.tenantA.id, bundle_id: 'com.example.shop', registration_policy: 'invite' });
    expect(body.config).toMatchObject({
      redirect_uris: ['https://shop.example.com/cb'],
      available_roles: ['user', 'manager', 'admin', 'buyer'],
      auto_assign_roles: ['user'],
      token_lifetime_minutes: 30,
      refresh_lifetime_days: 14,
      branding: { primary_color: '#1a73e8', logo_url: 'https://shop.example.com/logo.png', logo_height: 48, has_logo: false },
    });
    expect(body.client_secret.length).toBeGreaterThanOrEqual(43);
    const row = await ctx.deps.db.selectFrom('apps').selectAll().where('app_id', '=', body.id).executeTakeFirstOrThrow();
    expect(row.access_token_ttl).toBe(1800);
    expect(row.client_secret_hash).not.toContain(body.client_secret);
    const shown = await call('GET', `/admin/apps/${body.id}`, w.platform.headers);
    expect(shown.json()).not.toHaveProperty('client_secret');
    const audit = await ctx.deps.db
      .selectFrom('audit_events')
      .selectAll()
      .where('event', '=', 'app.created')
      .where('app_id', '=', body.id)
      .executeTakeFirstOrThrow();
    expect(audit.data).toMatchObject({ actor: 'admin', actor_id: w.platform.user.id, source: 'admin_api' });
  });

  it('stores the refresh reuse interval given at creation (it was accepted and dropped)', async () => {
    const res = await call('POST', '/admin/apps', w.platform.headers, { ...keymasterBody(w.tenantA.id), refresh_reuse_interval: 30 });
    expect(res.statusCode).toBe(201);
    const { id } = res.json() as { id: string };
    const row = await ctx.deps.db.selectFrom('apps').select('refresh_reuse_interval').where('app_id', '=', id).executeTakeFirstOrThrow();
    expect(row.refresh_reuse_interval).toBe(30);
    expect(JSON.stringify((await call('GET', `/admin/apps/${id}`, w.platform.headers)).json())).toContain('"refresh_reuse_interval":30');
  });

  it('a tenant admin creates into their own tenant only; app admins and managers cannot create', async () => {
    expect((await call('POST', '/admin/apps', w.tenantAdminA.headers, keymasterBody(w.tenantA.id))).statusCode).toBe(201);
    const before = await snapshot(ctx, 'apps');
    expect((await call('POST', '/admin/apps', w.tenantAdminA.headers, keymasterBody(w.tenantB.id))).statusCode).toBe(403);
    expect((await call('POST', '/admin/apps', w.tenantAdminA.headers, keymasterBody(null))).statusCode).toBe(403);
    expect((await call('POST', '/admin/apps', w.appAdminA1.headers, keymasterBody(w.tenantA.id))).statusCode).toBe(403);
    expect((await call('POST', '/admin/apps', w.managerA1.headers, keymasterBody(w.tenantA.id))).statusCode).toBe(403);
    expect(await snapshot(ctx, 'apps')).toBe(before);
  });

  it.each([
    ['a bad redirect URI', { config: { ...keymasterBody(null).config, redirect_uris: ['not a uri'] } }],
    ['an http redirect URI on a real host', { config: { ...keymasterBody(null).config, redirect_uris: ['http://shop.example.com/cb'] } }],
    ['a bad colour', { config: { ...keymasterBody(null).config, branding: { primary_color: 'blue', logo_url: null } } }],
    ['a bad role name', { config: { ...keymasterBody(null).config, available_roles: ['user', 'bad role!'] } }],
    ['an auto-assigned role the app does not offer', { config: { ...keymasterBody(null).config, auto_assign_roles: ['boss'] } }],
    ['a bad tenant id', { tenant_id: 'not-a-uuid' }],
    ['an unknown tenant', { tenant_id: '00000000-0000-4000-8000-000000000000' }],
    ['an unknown field', { colour: '#000000' }],
    ['an unknown policy', { registration_policy: 'everyone' }],
  ])('%s: 4xx {detail}, nothing written', async (_label, change) => {
    const before = await snapshot(ctx, 'apps');
    const res = await call('POST', '/admin/apps', w.platform.headers, { ...keymasterBody(null), ...change });
    expect(res.statusCode).toBeGreaterThanOrEqual(400);
    expect(res.statusCode).toBeLessThan(500);
    expect(Object.keys(res.json() as object)).toEqual(['detail']);
    expect(await snapshot(ctx, 'apps')).toBe(before);
  });
});

describe('GET /admin/apps', () => {
  const ids = async (headers: Record<string, string>) =>
    ((await call('GET', '/admin/apps?limit=200', headers)).json() as { apps: { id: string }[] }).apps.map((a) => a.id);

  it('each tier sees its own: platform all, tenant admin their tenant, app admin and manager their app', async () => {
    const all = await ids(w.platform.headers);
    expect(all).toEqual(expect.arrayContaining([w.a1.appId, w.a2.appId, w.b1.appId]));
    const tenant = await ids(w.tenantAdminA.headers);
    expect(tenant).toEqual(expect.arrayContaining([w.a1.appId, w.a2.appId]));
    expect(tenant).not.toContain(w.b1.appId);
    expect(await ids(w.appAdminA1.headers)).toEqual([w.a1.appId]);
    expect(await ids(w.managerA1.headers)).toEqual([w.a1.appId]);
  });

  it('pages with a keyset cursor, every app once; a forged cursor is a 400', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await call('GET', `/admin/apps?limit=2${cursor ? `&cursor=${cursor}` : ''}`, w.platform.headers);
      expect(res.statusCode).toBe(200);
      const page = res.json() as { apps: { id: string }[]; next_cursor: string | null };
      seen.push(...page.apps.map((a) => a.id));
      cursor = page.next_cursor;
    } while (cursor);
    const rows = await ctx.deps.db.selectFrom('apps').select('app_id').execute();
    expect(seen.sort()).toEqual(rows.map((r) => r.app_id).sort());
    const forged = Buffer.from(JSON.stringify({ c: '2026-99-99 00:00:00+00', i: w.a1.appId })).toString('base64url');
    const bad = await call('GET', `/admin/apps?cursor=${forged}`, w.platform.headers);
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toEqual({ detail: 'Invalid cursor: pass the next_cursor of a previous page' });
  });
});

describe('GET/PUT/DELETE /admin/apps/{app_id} and regenerate-secret: boundaries', () => {
  it("another tenant's app, another app, or an unknown id is a 404 (ids do not leak); a bad id a 400", async () => {
    for (const [admin, appId] of [
      [w.tenantAdminA, w.b1.appId],
      [w.appAdminA1, w.a2.appId],
      [w.managerA1, w.b1.appId],
    ] as const) {
      expect((await call('GET', `/admin/apps/${appId}`, admin.headers)).statusCode).toBe(404);
      expect((await call('PUT', `/admin/apps/${appId}`, admin.headers, { name: 'Taken' })).statusCode).toBe(404);
      expect((await call('DELETE', `/admin/apps/${appId}`, admin.headers)).statusCode).toBe(404);
      expect((await call('POST', `/admin/apps/${appId}/regenerate-secret`, admin.headers)).statusCode).toBe(404);
    }
    expect((await call('GET', '/admin/apps/00000000-0000-4000-8000-000000000000', w.platform.headers)).statusCode).toBe(404);
    const bad = await call('GET', '/admin/apps/not-a-uuid', w.platform.headers);
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toHaveProperty('detail');
    const row = await ctx.deps.db.selectFrom('apps').select('name').where('app_id', '=', w.b1.appId).executeTakeFirstOrThrow();
    expect(row.name).toBe('B1');
  });

  it('a manager sees their app but may not change it or its secret (403); the app admin may', async () => {
    expect((await call('GET', `/admin/apps/${w.a1.appId}`, w.managerA1.headers)).statusCode).toBe(200);
    expect((await call('PUT', `/admin/apps/${w.a1.appId}`, w.managerA1.headers, { name: 'Mine' })).statusCode).toBe(403);
    expect((await call('POST', `/admin/apps/${w.a1.appId}/regenerate-secret`, w.managerA1.headers)).statusCode).toBe(403);
    expect((await call('DELETE', `/admin/apps/${w.a1.appId}`, w.managerA1.headers)).statusCode).toBe(403);
    const ok = await call('PUT', `/admin/apps/${w.a1.appId}`, w.appAdminA1.headers, { config: { branding: { primary_color: '#00aa00' } } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ name: 'A1', config: { branding: { primary_color: '#00aa00' } } });
    // An app admin cannot move their app to another tenant, nor delete it.
    expect((await call('PUT', `/admin/apps/${w.a1.appId}`, w.appAdminA1.headers, { tenant_id: w.tenantB.id })).statusCode).toBe(403);
    expect((await call('DELETE', `/admin/apps/${w.a1.appId}`, w.appAdminA1.headers)).statusCode).toBe(403);
  });

  it('PUT is partial: an uploaded logo and untouched fields survive a save that omits them', async () => {
    await ctx.deps.db
      .updateTable('apps')
      .set({ logo_data: Buffer.from('PNGDATA'), logo_content_type: 'image/png' })
      .where('app_id', '=', w.a2.appId)
      .execute();
    const res = await call('PUT', `/admin/apps/${w.a2.appId}`, w.tenantAdminA.headers, {
      config: { redirect_uris: ['https://a2.example.com/cb'] },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      name: 'A2',
      config: { redirect_uris: ['https://a2.example.com/cb'], branding: { has_logo: true } },
    });
    const row = await ctx.deps.db
      .selectFrom('apps')
      .select(['logo_data', 'primary_color'])
      .where('app_id', '=', w.a2.appId)
      .executeTakeFirstOrThrow();
    expect(Buffer.from(row.logo_data!).toString()).toBe('PNGDATA');
    expect(row.primary_color).toBe('#123456');
  });

  it('bad input on PUT changes nothing', async () => {
    const before = await snapshot(ctx, 'apps');
    for (const body of [
      { config: { redirect_uris: ['https://x.example.com/cb#frag'] } },
      { config: { branding: { primary_color: '#12345' } } },
      { config: { available_roles: ['ok', 'no spaces'] } },
      { config: { auto_assign_roles: ['not-offered'] } },
      {},
    ]) {
      const res = await call('PUT', `/admin/apps/${w.a1.appId}`, w.platform.headers, body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json()).toHaveProperty('detail');
    }
    expect(await snapshot(ctx, 'apps')).toBe(before);
  });

  it('regenerate-secret: the new secret works and the old one fails at once', async () => {
    const created = (
      await call('POST', '/admin/apps', w.platform.headers, {
        ...keymasterBody(null),
        grant_types: ['client_credentials'],
        allowed_scopes: ['users:read'],
      })
    ).json() as { id: string; client_secret: string };
    const grant = (secret: string) =>
      ctx.app.inject({
        method: 'POST',
        url: '/token',
        headers: { authorization: basicAuth(created.id, secret), 'content-type': 'application/x-www-form-urlencoded' },
        payload: 'grant_type=client_credentials',
      });
    expect((await grant(created.client_secret)).statusCode).toBe(200);
    const res = await call('POST', `/admin/apps/${created.id}/regenerate-secret`, w.platform.headers);
    expect(res.statusCode).toBe(200);
    const { client_secret } = res.json() as { client_secret: string };
    expect((await grant(created.client_secret)).statusCode).toBe(401);
    expect((await grant(client_secret)).statusCode).toBe(200);
  });

  it('the built-in Console app cannot be changed, re-keyed or deleted through the API', async () => {
    const consoleApp = await ctx.deps.db.selectFrom('apps').select('app_id').where('builtin', '=', 'console').executeTakeFirstOrThrow();
    for (const [m, suffix] of [
      ['PUT', ''],
      ['DELETE', ''],
      ['POST', '/regenerate-secret'],
    ] as const) {
      const res = await call(
        m,
        `/admin/apps/${consoleApp.app_id}${suffix}`,
        w.platform.headers,
        m === 'PUT' ? { name: 'Mine' } : undefined,
      );
      expect(res.statusCode).toBe(403);
    }
  });

  it('DELETE by the tenant admin removes their app', async () => {
    const created = (await call('POST', '/admin/apps', w.tenantAdminA.headers, keymasterBody(w.tenantA.id))).json() as { id: string };
    expect((await call('DELETE', `/admin/apps/${created.id}`, w.tenantAdminA.headers)).statusCode).toBe(200);
    expect(await ctx.deps.db.selectFrom('apps').select('app_id').where('app_id', '=', created.id).executeTakeFirst()).toBeUndefined();
  });

  it('a service token and a normal user cannot use the app routes', async () => {
    const { serviceToken } = await import('../helpers/admin.js');
    const svc = await serviceToken(ctx, ['users:read', 'users:create', 'invites:create']);
    expect((await call('GET', `/admin/apps/${svc.app.appId}`, svc.headers)).statusCode).toBe(403);
    for (const [m, suffix] of [
      ['PUT', ''],
      ['DELETE', ''],
      ['POST', '/regenerate-secret'],
    ] as const) {
      const res = await call(m, `/admin/apps/${svc.app.appId}${suffix}`, svc.headers, m === 'PUT' ? { name: 'Mine' } : undefined);
      expect(res.statusCode).toBe(403);
    }
    const row = await ctx.deps.db.selectFrom('apps').select('name').where('app_id', '=', svc.app.appId).executeTakeFirstOrThrow();
    expect(row.name).toBe(svc.app.name);
  });
});
