// Admin API users (issue 14, KEYMASTER-API.md §5): list and search with a keyset cursor, create (a
// platform admin; a users:create service token enrols in its app), show, update, disable/enable,
// unlock, send-reset, delete, roles per app; each tier's boundary and the service tokens' own app.
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

const call = (method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, headers: Record<string, string>, payload?: object) =>
  ctx.app.inject({ method, url, headers, ...(payload && { payload }) });
type UserList = { users: { id: string; email: string }[]; next_cursor: string | null };
const userIds = async (url: string, headers: Record<string, string>) =>
  ((await call('GET', url, headers)).json() as UserList).users.map((u) => u.id);

describe('GET /admin/users', () => {
  it('search is a case-insensitive prefix of email or name, paged by cursor with every match once', async () => {
    const tag = `zq${Date.now().toString(36)}`;
    const made = [];
    for (let i = 0; i < 5; i++) made.push((await makeUser(ctx.deps, { email: `${tag}-${i}@example.com` })).user.id);
    made.push((await makeUser(ctx.deps, { name: `${tag.toUpperCase()} Person` })).user.id);
    // Matches by email and by name: listed once. A name-only match sorts among the emails by its name.
    made.push((await makeUser(ctx.deps, { email: `${tag}-2b@example.com`, name: `${tag}-0 Both` })).user.id);
    made.push((await makeUser(ctx.deps, { name: `${tag}-3 Name` })).user.id);
    await makeUser(ctx.deps, { email: `x${tag}@example.com`, name: `x${tag}` });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await call(
        'GET',
        `/admin/users?search=${tag.toUpperCase()}&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        w.platform.headers,
      );
      expect(res.statusCode).toBe(200);
      const page = res.json() as UserList;
      seen.push(...page.users.map((u) => u.id));
      cursor = page.next_cursor;
    } while (cursor);
    expect([...seen].sort()).toEqual([...made].sort());
    // In the order of what matched (the email, else the name), byte order, id last.
    const keyOf = async (id: string) => {
      const u = (await call('GET', `/admin/users/${id}`, w.platform.headers)).json() as { email: string; display_name: string | null };
      return u.email.toLowerCase().startsWith(tag) ? u.email.toLowerCase() : u.display_name!.toLowerCase();
    };
    const keys = await Promise.all(seen.map(keyOf));
    expect(keys).toEqual([...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    // LIKE's wildcards in the search are literal characters.
    expect(await userIds('/admin/users?search=%25', w.platform.headers)).toEqual([]);
    // Keymaster's page=1 is accepted.
    expect((await call('GET', `/admin/users?page=1&limit=10&search=${tag}`, w.platform.headers)).statusCode).toBe(200);
  });

  it('a tenant admin sees only users enrolled in their apps; an app admin only their app’s', async () => {
    const tenant = await userIds('/admin/users?limit=200', w.tenantAdminA.headers);
    expect(tenant).toContain(w.uA1.id);
    expect(tenant).not.toContain(w.uB1.id);
    expect((await call('GET', `/admin/users?app_id=${w.b1.appId}`, w.tenantAdminA.headers)).statusCode).toBe(404);
    expect(await userIds('/admin/users?limit=200', w.appAdminA1.headers)).toEqual([w.uA1.id]);
    // A search keeps the scope (the tenant's apps are read first, then memberships of those apps).
    const byEmail = (u: { email: string }) => `/admin/users?limit=200&search=${encodeURIComponent(u.email)}`;
    expect(await userIds(byEmail(w.uA1), w.tenantAdminA.headers)).toEqual([w.uA1.id]);
    expect(await userIds(byEmail(w.uB1), w.tenantAdminA.headers)).toEqual([]);
    expect(await userIds(byEmail(w.uB1), w.platform.headers)).toEqual([w.uB1.id]);
  });

  it('a users:read service token lists only its own app (app_id required)', async () => {
    const svc = await serviceToken(ctx, ['users:read']);
    const { user } = await makeUser(ctx.deps);
    await enrol(ctx, user.id, svc.app.appId);
    expect(await userIds(`/admin/users?app_id=${svc.app.appId}`, svc.headers)).toEqual([user.id]);
    expect((await call('GET', `/admin/users?app_id=${w.a1.appId}`, svc.headers)).statusCode).toBe(404);
    expect((await call('GET', '/admin/users', svc.headers)).statusCode).toBe(400);
    const creator = await serviceToken(ctx, ['users:create']);
    expect((await call('GET', `/admin/users?app_id=${creator.app.appId}`, creator.headers)).statusCode).toBe(403);
  });

  it('bad input is a 400 {detail}', async () => {
    for (const q of ['limit=0', 'limit=abc', 'app_id=nope', 'cursor=***', 'page=2', `search=${'a'.repeat(300)}`]) {
      const res = await call('GET', `/admin/users?${q}`, w.platform.headers);
      expect(res.statusCode, q).toBe(400);
      expect(res.json()).toHaveProperty('detail');
    }
  });
});

describe('POST /admin/users', () => {
  it('a platform admin creates a user, optionally a platform admin; audited', async () => {
    const res = await call('POST', '/admin/users', w.platform.headers, {
      email: 'New.Person@Example.com',
      display_name: 'New Person',
      is_platform_admin: true,
    });
    expect(res.statusCode).toBe(201);
    const u = res.json() as { id: string; display_name: string };
    expect(u.display_name).toBe('New Person');
    const shown = (await call('GET', `/admin/users/${u.id}`, w.platform.headers)).json() as { is_platform_admin: boolean };
    expect(shown.is_platform_admin).toBe(true);
    const dup = await call('POST', '/admin/users', w.platform.headers, { email: 'new.person@example.com', display_name: 'Again' });
    expect(dup.statusCode).toBeGreaterThanOrEqual(400);
    expect(dup.statusCode).toBeLessThan(500);
  });

  it('other tiers cannot create users; a weak password or a bad email writes nothing', async () => {
    const before = await snapshot(ctx, 'users');
    expect((await call('POST', '/admin/users', w.tenantAdminA.headers, { email: 'ta@example.com' })).statusCode).toBe(403);
    expect((await call('POST', '/admin/users', w.managerA1.headers, { email: 'm@example.com' })).statusCode).toBe(403);
    expect((await call('POST', '/admin/users', w.platform.headers, { email: 'weak@example.com', password: 'a' })).statusCode).toBe(400);
    expect((await call('POST', '/admin/users', w.platform.headers, { email: 'not-an-email' })).statusCode).toBe(400);
    expect(await snapshot(ctx, 'users')).toBe(before);
  });

  it('a users:create service token creates and enrols into its own app, audited as the service; cannot make admins', async () => {
    const svc = await serviceToken(ctx, ['users:create']);
    const res = await call('POST', '/admin/users', svc.headers, { email: `svc-${Date.now()}@example.com`, display_name: 'From Service' });
    expect(res.statusCode).toBe(201);
    const id = (res.json() as { id: string }).id;
    const m = await ctx.deps.db.selectFrom('memberships').selectAll().where('user_id', '=', id).execute();
    expect(m.map((r) => r.app_id)).toEqual([svc.app.appId]);
    const audit = await ctx.deps.db
      .selectFrom('audit_events')
      .selectAll()
      .where('event', '=', 'user.created')
      .where('user_id', '=', id)
      .executeTakeFirstOrThrow();
    expect(audit.data).toMatchObject({ actor: 'service', actor_id: svc.app.appId, source: 'service_token' });
    const before = await snapshot(ctx, 'users');
    const admin = await call('POST', '/admin/users', svc.headers, { email: 'boss@example.com', is_platform_admin: true });
    expect(admin.statusCode).toBe(403);
    expect(await snapshot(ctx, 'users')).toBe(before);
  });
});

describe('one user: show, update, disable, unlock, send-reset, delete', () => {
  it("another tenant's user is a 404 for every action; an unknown or bad id too", async () => {
    const before = await snapshot(ctx, 'users');
    for (const [m, suffix, body] of [
      ['GET', '', undefined],
      ['PATCH', '', { display_name: 'Hacked' }],
      ['POST', '/disable', undefined],
      ['POST', '/enable', undefined],
      ['POST', '/unlock', undefined],
      ['POST', '/send-reset', undefined],
    ] as const) {
      expect((await call(m, `/admin/users/${w.uB1.id}${suffix}`, w.tenantAdminA.headers, body)).statusCode, `${m} ${suffix}`).toBe(404);
      expect((await call(m, `/admin/users/${w.uB1.id}${suffix}`, w.appAdminA1.headers, body)).statusCode, `${m} ${suffix}`).toBe(404);
    }
    expect((await call('DELETE', `/admin/users/${w.uB1.id}`, w.tenantAdminA.headers)).statusCode).toBe(403);
    expect((await call('GET', '/admin/users/00000000-0000-4000-8000-000000000000', w.platform.headers)).statusCode).toBe(404);
    expect((await call('GET', '/admin/users/123', w.platform.headers)).statusCode).toBe(400);
    expect(await snapshot(ctx, 'users')).toBe(before);
  });

  it('shows the memberships the caller sees, not those in other tenants', async () => {
    const { user } = await makeUser(ctx.deps);
    await enrol(ctx, user.id, w.a1.appId, ['user']);
    await enrol(ctx, user.id, w.b1.appId, ['admin']);
    const mine = (await call('GET', `/admin/users/${user.id}`, w.tenantAdminA.headers)).json() as { memberships: { app_id: string }[] };
    expect(mine.memberships.map((m) => m.app_id)).toEqual([w.a1.appId]);
    const all = (await call('GET', `/admin/users/${user.id}`, w.platform.headers)).json() as { memberships: { app_id: string }[] };
    expect(all.memberships.map((m) => m.app_id).sort()).toEqual([w.a1.appId, w.b1.appId].sort());
    // A global change to a user another tenant also has needs authority over all their apps.
    expect((await call('POST', `/admin/users/${user.id}/disable`, w.tenantAdminA.headers)).statusCode).toBe(403);
    expect((await call('PATCH', `/admin/users/${user.id}`, w.tenantAdminA.headers, { display_name: 'X' })).statusCode).toBe(403);
  });

  it('a manager sees members but cannot disable, rename or unlock them', async () => {
    expect((await call('GET', `/admin/users/${w.uA1.id}`, w.managerA1.headers)).statusCode).toBe(200);
    expect((await call('POST', `/admin/users/${w.uA1.id}/disable`, w.managerA1.headers)).statusCode).toBe(403);
    expect((await call('PATCH', `/admin/users/${w.uA1.id}`, w.managerA1.headers, { display_name: 'X' })).statusCode).toBe(403);
    expect((await call('POST', `/admin/users/${w.uA1.id}/unlock`, w.managerA1.headers)).statusCode).toBe(403);
  });

  it('the app admin of the only app a user is in renames, verifies, disables, enables, unlocks, sends a reset', async () => {
    const { user } = await makeUser(ctx.deps, { verified: false });
    await enrol(ctx, user.id, w.a1.appId);
    const h = w.appAdminA1.headers;
    const patched = await call('PATCH', `/admin/users/${user.id}`, h, { display_name: 'Renamed', email_verified: true });
    expect(patched.json()).toMatchObject({ display_name: 'Renamed', email_verified: true });
    expect((await call('POST', `/admin/users/${user.id}/disable`, h)).json()).toMatchObject({ is_active: false });
    expect((await call('POST', `/admin/users/${user.id}/enable`, h)).json()).toMatchObject({ is_active: true });
    await ctx.deps.db
      .updateTable('users')
      .set({ locked_until: new Date(Date.now() + 3_600_000), failed_logins: 10 })
      .where('id', '=', user.id)
      .execute();
    expect((await call('POST', `/admin/users/${user.id}/unlock`, h)).json()).toMatchObject({ locked: false });
    expect((await call('POST', `/admin/users/${user.id}/send-reset`, h)).json()).toEqual({ status: 'ok' });
    await ctx.deps.background.idle();
    const events = await ctx.deps.db.selectFrom('audit_events').select(['event', 'data']).where('user_id', '=', user.id).execute();
    const byAdmin = events.filter((e) => (e.data as { actor_id?: string }).actor_id === w.appAdminA1.user.id).map((e) => e.event);
    expect(byAdmin).toEqual(expect.arrayContaining(['user.updated', 'user.unlocked']));
  });

  it('DELETE is for platform admins: the user and their memberships go', async () => {
    const { user } = await makeUser(ctx.deps);
    await enrol(ctx, user.id, w.a1.appId);
    expect((await call('DELETE', `/admin/users/${user.id}`, w.appAdminA1.headers)).statusCode).toBe(403);
    expect((await call('DELETE', `/admin/users/${user.id}`, w.platform.headers)).statusCode).toBe(200);
    expect(await ctx.deps.db.selectFrom('memberships').select('app_id').where('user_id', '=', user.id).execute()).toEqual([]);
  });
});

describe('PUT /admin/users/{user_id}/roles', () => {
  it('an app admin sets roles in their app (enrolling the user); a manager or another app is refused', async () => {
    const { user } = await makeUser(ctx.deps);
    await enrol(ctx, user.id, w.a1.appId);
    const ok = await call('PUT', `/admin/users/${user.id}/roles`, w.appAdminA1.headers, { app_id: w.a1.appId, roles: ['admin'] });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ app_id: w.a1.appId, roles: ['admin'], status: 'active' });
    const before = await snapshot(ctx, 'memberships');
    expect(
      (await call('PUT', `/admin/users/${user.id}/roles`, w.managerA1.headers, { app_id: w.a1.appId, roles: ['user'] })).statusCode,
    ).toBe(403);
    expect(
      (await call('PUT', `/admin/users/${user.id}/roles`, w.appAdminA1.headers, { app_id: w.a2.appId, roles: ['user'] })).statusCode,
    ).toBe(404);
    expect(
      (await call('PUT', `/admin/users/${user.id}/roles`, w.tenantAdminA.headers, { app_id: w.b1.appId, roles: ['user'] })).statusCode,
    ).toBe(404);
    expect(
      (await call('PUT', `/admin/users/${user.id}/roles`, w.appAdminA1.headers, { app_id: w.a1.appId, roles: ['bad role'] })).statusCode,
    ).toBe(400);
    expect(
      (await call('PUT', `/admin/users/${user.id}/roles`, w.appAdminA1.headers, { app_id: w.a1.appId, roles: ['emperor'] })).statusCode,
    ).toBe(400);
    const svc = await serviceToken(ctx, ['users:create', 'users:read']);
    expect((await call('PUT', `/admin/users/${user.id}/roles`, svc.headers, { app_id: svc.app.appId, roles: ['user'] })).statusCode).toBe(
      403,
    );
    expect(await snapshot(ctx, 'memberships')).toBe(before);
  });
});
