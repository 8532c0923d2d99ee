// Admin API tenants and admin tiers (issue 14): tenants are the platform admin's (a tenant admin
// reads their own); tiers are granted never above the granter's own, within what they see.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { makeAdmin } from '../helpers/admin.js';
import { enrol, makeAdminWorld, snapshot, type AdminWorld } from '../helpers/admin-world.js';
import { makeUser } from '../helpers/factories.js';

let ctx: TestContext;
let w: AdminWorld;
beforeAll(async () => {
  ctx = await createTestContext();
  w = await makeAdminWorld(ctx);
});
afterAll(() => ctx.close());

const call = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, headers: Record<string, string>, payload?: object) =>
  ctx.app.inject({ method, url, headers, ...(payload && { payload }) });

describe('tenants', () => {
  it('a platform admin creates, renames, lists and deletes an empty tenant; one with apps is kept (409)', async () => {
    const res = await call('POST', '/admin/tenants', w.platform.headers, { name: 'Acme' });
    expect(res.statusCode).toBe(201);
    const t = res.json() as { id: string };
    expect((await call('PUT', `/admin/tenants/${t.id}`, w.platform.headers, { name: 'Acme Inc' })).json()).toMatchObject({
      name: 'Acme Inc',
    });
    const all = (await call('GET', '/admin/tenants?limit=200', w.platform.headers)).json() as { tenants: { id: string }[] };
    expect(all.tenants.map((x) => x.id)).toEqual(expect.arrayContaining([t.id, w.tenantA.id, w.tenantB.id]));
    expect((await call('DELETE', `/admin/tenants/${w.tenantA.id}`, w.platform.headers)).statusCode).toBe(409);
    expect((await call('DELETE', `/admin/tenants/${t.id}`, w.platform.headers)).statusCode).toBe(200);
    expect((await call('GET', `/admin/tenants/${t.id}`, w.platform.headers)).statusCode).toBe(404);
  });

  it('a tenant admin reads their own tenant only, changes none; another tenant is a 404', async () => {
    const before = await snapshot(ctx, 'tenants');
    expect((await call('GET', `/admin/tenants/${w.tenantA.id}`, w.tenantAdminA.headers)).statusCode).toBe(200);
    const listed = (await call('GET', '/admin/tenants', w.tenantAdminA.headers)).json() as { tenants: { id: string }[] };
    expect(listed.tenants.map((x) => x.id)).toEqual([w.tenantA.id]);
    expect((await call('GET', `/admin/tenants/${w.tenantB.id}`, w.tenantAdminA.headers)).statusCode).toBe(404);
    expect((await call('PUT', `/admin/tenants/${w.tenantB.id}`, w.tenantAdminA.headers, { name: 'Mine' })).statusCode).toBe(404);
    expect((await call('PUT', `/admin/tenants/${w.tenantA.id}`, w.tenantAdminA.headers, { name: 'Mine' })).statusCode).toBe(403);
    expect((await call('POST', '/admin/tenants', w.tenantAdminA.headers, { name: 'New' })).statusCode).toBe(403);
    expect((await call('DELETE', `/admin/tenants/${w.tenantA.id}`, w.tenantAdminA.headers)).statusCode).toBe(403);
    expect((await call('GET', `/admin/tenants/${w.tenantA.id}`, w.appAdminA1.headers)).statusCode).toBe(404);
    expect((await call('POST', '/admin/tenants', w.platform.headers, { name: '' })).statusCode).toBe(400);
    expect((await call('GET', '/admin/tenants/nope', w.platform.headers)).statusCode).toBe(400);
    expect(await snapshot(ctx, 'tenants')).toBe(before);
  });
});

describe('admin tiers', () => {
  it('a tenant admin grants app_admin and manager on their apps and tenant_admin of their tenant; a grant works at once', async () => {
    const { user, password } = await makeUser(ctx.deps);
    await enrol(ctx, user.id, w.a2.appId);
    const res = await call('POST', '/admin/admins', w.tenantAdminA.headers, { email: user.email, tier: 'app_admin', app_id: w.a2.appId });
    expect(res.statusCode).toBe(201);
    const grant = res.json() as { id: string; created_by: string };
    expect(grant.created_by).toBe(w.tenantAdminA.user.id);
    const { consoleToken, bearer } = await import('../helpers/admin.js');
    const token = await consoleToken(ctx, user.email, password);
    const apps = (await call('GET', '/admin/apps', bearer(token))).json() as { apps: { id: string }[] };
    expect(apps.apps.map((a) => a.id)).toEqual([w.a2.appId]);
    expect(
      (await call('POST', '/admin/admins', w.tenantAdminA.headers, { user_id: user.id, tier: 'tenant_admin', tenant_id: w.tenantA.id }))
        .statusCode,
    ).toBe(201);
    const listed = (await call('GET', '/admin/admins?limit=200', w.tenantAdminA.headers)).json() as {
      admins: { id: string; tenant_id: string | null; app_id: string | null }[];
    };
    expect(listed.admins.map((g) => g.id)).toContain(grant.id);
    expect(listed.admins.every((g) => g.tenant_id === w.tenantA.id || [w.a1.appId, w.a2.appId].includes(g.app_id!))).toBe(true);
    // Revoked: the token stops working at once.
    expect((await call('DELETE', `/admin/admins/${grant.id}`, w.tenantAdminA.headers)).statusCode).toBe(200);
    const after = (await call('GET', '/admin/apps', bearer(token))).json() as { apps: { id: string }[] };
    expect(after.apps.map((a) => a.id).sort()).toEqual([w.a1.appId, w.a2.appId].sort());
  });

  it('nobody grants above their own tier or outside what they see; nothing is written', async () => {
    const { user } = await makeUser(ctx.deps);
    await enrol(ctx, user.id, w.a1.appId);
    const before = await snapshot(ctx, 'admin_grants');
    const grant = (admin: typeof w.platform, body: object) => call('POST', '/admin/admins', admin.headers, { user_id: user.id, ...body });
    expect((await grant(w.tenantAdminA, { tier: 'platform_admin' })).statusCode).toBe(403);
    expect((await grant(w.tenantAdminA, { tier: 'tenant_admin', tenant_id: w.tenantB.id })).statusCode).toBe(404);
    expect((await grant(w.tenantAdminA, { tier: 'app_admin', app_id: w.b1.appId })).statusCode).toBe(404);
    expect((await grant(w.appAdminA1, { tier: 'tenant_admin', tenant_id: w.tenantA.id })).statusCode).toBe(404);
    expect((await grant(w.appAdminA1, { tier: 'app_admin', app_id: w.a2.appId })).statusCode).toBe(404);
    expect((await grant(w.managerA1, { tier: 'manager', app_id: w.a1.appId })).statusCode).toBe(403);
    expect((await grant(w.platform, { tier: 'tenant_admin' })).statusCode).toBe(400);
    expect((await grant(w.platform, { tier: 'app_admin', tenant_id: w.tenantA.id })).statusCode).toBe(400);
    expect((await grant(w.platform, { tier: 'emperor' })).statusCode).toBe(400);
    // A user the tenant admin does not see (enrolled only in tenant B) cannot be made their admin.
    expect(
      (await call('POST', '/admin/admins', w.tenantAdminA.headers, { user_id: w.uB1.id, tier: 'manager', app_id: w.a1.appId })).statusCode,
    ).toBe(404);
    expect(await snapshot(ctx, 'admin_grants')).toBe(before);
    expect((await grant(w.appAdminA1, { tier: 'manager', app_id: w.a1.appId })).statusCode).toBe(201);
    expect((await grant(w.appAdminA1, { tier: 'manager', app_id: w.a1.appId })).statusCode).toBe(409);
  });

  it("a grant outside the caller's view cannot be revoked (404); the platform admin's can by them only", async () => {
    const other = await makeAdmin(ctx, 'tenant_admin', { tenantId: w.tenantB.id });
    const row = await ctx.deps.db.selectFrom('admin_grants').select('id').where('user_id', '=', other.user.id).executeTakeFirstOrThrow();
    expect((await call('DELETE', `/admin/admins/${row.id}`, w.tenantAdminA.headers)).statusCode).toBe(404);
    const platformGrant = await ctx.deps.db
      .selectFrom('admin_grants')
      .select('id')
      .where('user_id', '=', w.platform.user.id)
      .executeTakeFirstOrThrow();
    expect((await call('DELETE', `/admin/admins/${platformGrant.id}`, w.tenantAdminA.headers)).statusCode).toBe(404); // not in their GET /admin/admins either
    expect((await call('DELETE', `/admin/admins/${row.id}`, w.platform.headers)).statusCode).toBe(200);
    expect((await call('DELETE', '/admin/admins/not-a-uuid', w.platform.headers)).statusCode).toBe(400);
  });
});
