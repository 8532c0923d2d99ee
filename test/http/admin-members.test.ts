// Admin API members and invites (issue 14): through the memberships and invites domain, with each
// tier's boundary: a manager may list, invite, suspend and remove but not give roles; no one reaches
// another tenant's or app's members or invites; a service token invites only into its own app.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { serviceToken } from '../helpers/admin.js';
import { enrol, makeAdminWorld, snapshot, type AdminWorld } from '../helpers/admin-world.js';
import { makeUser } from '../helpers/factories.js';

let ctx: TestContext;
let w: AdminWorld;
beforeAll(async () => {
  ctx = await createTestContext();
  w = await makeAdminWorld(ctx);
});
afterAll(() => ctx.close());

const call = (method: 'GET' | 'POST' | 'DELETE', url: string, headers: Record<string, string>, payload?: object) =>
  ctx.app.inject({ method, url, headers, ...(payload && { payload }) });
const status = async (userId: string, appId: string) =>
  (
    await ctx.deps.db
      .selectFrom('memberships')
      .select('status')
      .where('user_id', '=', userId)
      .where('app_id', '=', appId)
      .executeTakeFirst()
  )?.status;

describe('members', () => {
  it('a manager lists, suspends, reactivates and removes members of their app; audited as the admin', async () => {
    const { user } = await makeUser(ctx.deps);
    await enrol(ctx, user.id, w.a1.appId);
    const list = await call('GET', `/admin/apps/${w.a1.appId}/members?limit=50`, w.managerA1.headers);
    expect(list.statusCode).toBe(200);
    expect((list.json() as { members: { user_id: string }[] }).members.map((m) => m.user_id)).toContain(user.id);
    const base = `/admin/apps/${w.a1.appId}/members/${user.id}`;
    expect((await call('POST', `${base}/suspend`, w.managerA1.headers)).json()).toMatchObject({ status: 'suspended' });
    expect(await status(user.id, w.a1.appId)).toBe('suspended');
    const suspended = await call('GET', `/admin/apps/${w.a1.appId}/members?status=suspended`, w.managerA1.headers);
    expect((suspended.json() as { members: { user_id: string }[] }).members.map((m) => m.user_id)).toEqual([user.id]);
    expect((await call('POST', `${base}/activate`, w.managerA1.headers)).json()).toMatchObject({ status: 'active' });
    const audit = await ctx.deps.db
      .selectFrom('audit_events')
      .select('data')
      .where('event', '=', 'user.suspended')
      .where('user_id', '=', user.id)
      .executeTakeFirstOrThrow();
    expect(audit.data).toMatchObject({ actor: 'admin', actor_id: w.managerA1.user.id, source: 'admin_api' });
    expect((await call('DELETE', base, w.managerA1.headers)).statusCode).toBe(200);
    expect(await status(user.id, w.a1.appId)).toBeUndefined();
  });

  it('approve lets a pending member in', async () => {
    const { user } = await makeUser(ctx.deps);
    await ctx.deps.db.insertInto('memberships').values({ user_id: user.id, app_id: w.a1.appId, status: 'pending' }).execute();
    const res = await call('POST', `/admin/apps/${w.a1.appId}/members/${user.id}/approve`, w.appAdminA1.headers);
    expect(res.statusCode).toBe(200);
    expect(await status(user.id, w.a1.appId)).toBe('active');
    expect((await call('POST', `/admin/apps/${w.a1.appId}/members/${user.id}/approve`, w.appAdminA1.headers)).statusCode).toBe(409);
  });

  it("another tenant's or app's members are 404s for every action; nothing changes", async () => {
    const before = await snapshot(ctx, 'memberships');
    for (const [admin, appId, userId] of [
      [w.tenantAdminA, w.b1.appId, w.uB1.id],
      [w.appAdminA1, w.a2.appId, w.uA1.id],
      [w.managerA1, w.b1.appId, w.uB1.id],
    ] as const) {
      expect((await call('GET', `/admin/apps/${appId}/members`, admin.headers)).statusCode).toBe(404);
      for (const action of ['suspend', 'activate', 'approve']) {
        expect((await call('POST', `/admin/apps/${appId}/members/${userId}/${action}`, admin.headers)).statusCode).toBe(404);
      }
      expect((await call('DELETE', `/admin/apps/${appId}/members/${userId}`, admin.headers)).statusCode).toBe(404);
    }
    const svc = await serviceToken(ctx, ['users:read', 'users:create', 'invites:create']);
    expect((await call('GET', `/admin/apps/${svc.app.appId}/members`, svc.headers)).statusCode).toBe(403);
    expect((await call('POST', `/admin/apps/${w.a1.appId}/members/${w.uA1.id}/suspend`, svc.headers)).statusCode).toBe(403);
    expect((await call('GET', `/admin/apps/${w.a1.appId}/members?status=gone`, w.platform.headers)).statusCode).toBe(400);
    expect((await call('POST', `/admin/apps/${w.a1.appId}/members/not-a-uuid/suspend`, w.platform.headers)).statusCode).toBe(400);
    expect(await snapshot(ctx, 'memberships')).toBe(before);
  });
});

describe('invites', () => {
  it('an app admin invites with roles; the invite is listed, emailed and revocable', async () => {
    const res = await call('POST', '/admin/invites', w.appAdminA1.headers, {
      app_id: w.a1.appId,
      email: 'guest@example.com',
      roles: ['manager'],
    });
    expect(res.statusCode).toBe(201);
    const invite = res.json() as { id: string; roles: string[]; invite_url: string; status: string };
    expect(invite).toMatchObject({ roles: ['manager'], status: 'open' });
    expect(invite.invite_url).toContain(`/invite?app_id=${w.a1.appId}&code=`);
    const code = new URL(invite.invite_url).searchParams.get('code')!;
    const row = await ctx.deps.db.selectFrom('invites').selectAll().where('id', '=', invite.id).executeTakeFirstOrThrow();
    expect(row.code_hash).not.toContain(code);
    const listed = (await call('GET', `/admin/apps/${w.a1.appId}/invites`, w.managerA1.headers)).json() as { invites: { id: string }[] };
    expect(listed.invites.map((i) => i.id)).toContain(invite.id);
    const revoked = await call('DELETE', `/admin/invites/${invite.id}`, w.managerA1.headers);
    expect(revoked.statusCode).toBe(200);
    expect(revoked.json()).toMatchObject({ status: 'revoked' });
  });

  it('a manager invites only with the auto-assigned roles; a bad role or email writes nothing', async () => {
    const before = await snapshot(ctx, 'invites');
    expect(
      (await call('POST', '/admin/invites', w.managerA1.headers, { app_id: w.a1.appId, email: 'm@example.com', roles: ['admin'] }))
        .statusCode,
    ).toBe(403);
    expect(
      (await call('POST', '/admin/invites', w.platform.headers, { app_id: w.a1.appId, email: 'm@example.com', roles: ['no such'] }))
        .statusCode,
    ).toBe(400);
    expect(
      (await call('POST', '/admin/invites', w.platform.headers, { app_id: w.a1.appId, email: 'm@example.com', roles: ['emperor'] }))
        .statusCode,
    ).toBe(400);
    expect((await call('POST', '/admin/invites', w.platform.headers, { app_id: w.a1.appId, email: 'nope' })).statusCode).toBe(400);
    expect(await snapshot(ctx, 'invites')).toBe(before);
    expect((await call('POST', '/admin/invites', w.managerA1.headers, { app_id: w.a1.appId, email: 'm@example.com' })).statusCode).toBe(
      201,
    );
  });

  it("no one reaches another tenant's or app's invites (404), a service token only its own app", async () => {
    const other = (await call('POST', '/admin/invites', w.platform.headers, { app_id: w.b1.appId, email: 'b@example.com' })).json() as {
      id: string;
    };
    const before = await snapshot(ctx, 'invites');
    for (const admin of [w.tenantAdminA, w.appAdminA1, w.managerA1]) {
      expect((await call('POST', '/admin/invites', admin.headers, { app_id: w.b1.appId, email: 'x@example.com' })).statusCode).toBe(404);
      expect((await call('GET', `/admin/apps/${w.b1.appId}/invites`, admin.headers)).statusCode).toBe(404);
      expect((await call('DELETE', `/admin/invites/${other.id}`, admin.headers)).statusCode).toBe(404);
    }
    const svc = await serviceToken(ctx, ['invites:create']);
    expect((await call('POST', '/admin/invites', svc.headers, { app_id: w.a1.appId, email: 'x@example.com' })).statusCode).toBe(404);
    const reader = await serviceToken(ctx, ['users:read']);
    expect((await call('POST', '/admin/invites', reader.headers, { app_id: reader.app.appId, email: 'x@example.com' })).statusCode).toBe(
      403,
    );
    expect(await snapshot(ctx, 'invites')).toBe(before);
    const own = await call('POST', '/admin/invites', svc.headers, { app_id: svc.app.appId, email: 'x@example.com' });
    expect(own.statusCode).toBe(201);
    const audit = await ctx.deps.db
      .selectFrom('audit_events')
      .select('data')
      .where('event', '=', 'invite.created')
      .where('app_id', '=', svc.app.appId)
      .executeTakeFirstOrThrow();
    expect(audit.data).toMatchObject({ actor: 'service', actor_id: svc.app.appId, source: 'service_token' });
  });
});
