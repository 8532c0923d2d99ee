// Migration 0026 (issue 14): users.roles → users.legacy_roles, and the data move into memberships.
// The database is put back into its pre-0026 state (the column named roles again, no memberships,
// 0026 not recorded), filled as a 0025 server would have left it, and 0026 is applied by migrate().
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordAuditEvent } from '../../src/domain/audit/audit.js';
import { upsertConsent } from '../../src/domain/consents/consent-store.js';
import { issueTokens } from '../../src/domain/tokens/refresh-tokens.js';
import { migrate } from '../../src/storage/migrate.js';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { makeApp, makeUser } from '../helpers/factories.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx.close());

describe('migration 0026', () => {
  it('enrols every (user, app) pair that met, with the old roles; users without a pair keep legacy_roles only; nothing is lost', async () => {
    const db = ctx.deps.db;
    const { app: a } = await makeApp(ctx.deps);
    const { app: b } = await makeApp(ctx.deps);
    const { app: unused } = await makeApp(ctx.deps);
    const { user: withToken } = await makeUser(ctx.deps);
    const { user: withConsent } = await makeUser(ctx.deps);
    const { user: withAudit } = await makeUser(ctx.deps);
    const { user: twoApps } = await makeUser(ctx.deps);
    const { user: never } = await makeUser(ctx.deps);
    // What a 0025 server leaves behind: refresh tokens, a consent, an audited sign-in.
    const first = await issueTokens(ctx.deps, { ...withToken, roles: [] }, a);
    await issueTokens(ctx.deps, { ...twoApps, roles: [] }, a);
    await issueTokens(ctx.deps, { ...twoApps, roles: [] }, b);
    await upsertConsent(db, { user_id: withConsent.id, app_id: b.appId, scopes: ['openid'], now: new Date() });
    await recordAuditEvent(ctx.deps, { event: 'login.success', userId: withAudit.id, appId: a.appId });
    expect(first.refreshToken).toBeTruthy();

    // Back to the 0025 schema: users.roles, no memberships, 0026 not applied.
    await db.deleteFrom('memberships').execute();
    await sql`alter table users rename column legacy_roles to roles`.execute(db);
    await db.deleteFrom('schema_migrations').where('name', '=', '0026_membership_roles.sql').execute();
    const setRoles = (id: string, roles: string[]) => sql`update users set roles = ${roles}::text[] where id = ${id}`.execute(db);
    await setRoles(withToken.id, ['user', 'admin']);
    await setRoles(withConsent.id, ['editor']);
    await setRoles(withAudit.id, ['manager']);
    await setRoles(twoApps.id, ['admin']);
    await setRoles(never.id, ['auditor']);
    const before = Number((await sql<{ n: number }>`select count(*)::int as n from users`.execute(db)).rows[0]!.n);

    expect(await migrate(db)).toEqual(['0026_membership_roles.sql']);

    const ids = [withToken.id, withConsent.id, withAudit.id, twoApps.id, never.id];
    const rows = await db
      .selectFrom('memberships')
      .select(['user_id', 'app_id', 'roles', 'status'])
      .where('user_id', 'in', ids)
      .orderBy('user_id')
      .orderBy('app_id')
      .execute();
    const expected = [
      { user_id: withToken.id, app_id: a.appId, roles: ['user', 'admin'], status: 'active' },
      { user_id: withConsent.id, app_id: b.appId, roles: ['editor'], status: 'active' },
      { user_id: withAudit.id, app_id: a.appId, roles: ['manager'], status: 'active' },
      { user_id: twoApps.id, app_id: a.appId, roles: ['admin'], status: 'active' },
      { user_id: twoApps.id, app_id: b.appId, roles: ['admin'], status: 'active' },
    ];
    const key = (r: { user_id: string; app_id: string }) => `${r.user_id} ${r.app_id}`;
    expect([...rows].sort((x, y) => key(x).localeCompare(key(y)))).toEqual([...expected].sort((x, y) => key(x).localeCompare(key(y))));
    // Nobody lost their old roles: every user keeps them in legacy_roles, the unpaired one included.
    const users = await db.selectFrom('users').select(['id', 'legacy_roles']).where('id', 'in', ids).execute();
    expect(Object.fromEntries(users.map((u) => [u.id, u.legacy_roles]))).toEqual({
      [withToken.id]: ['user', 'admin'],
      [withConsent.id]: ['editor'],
      [withAudit.id]: ['manager'],
      [twoApps.id]: ['admin'],
      [never.id]: ['auditor'],
    });
    expect(Number((await sql<{ n: number }>`select count(*)::int as n from users`.execute(db)).rows[0]!.n)).toBe(before);
    // A role in use stays assignable where it is used (editor in b), and only there.
    const apps = await db
      .selectFrom('apps')
      .select(['app_id', 'available_roles'])
      .where('app_id', 'in', [a.appId, b.appId, unused.appId])
      .execute();
    const available = Object.fromEntries(apps.map((r) => [r.app_id, r.available_roles]));
    expect(available[b.appId]).toEqual(['user', 'manager', 'admin', 'editor']);
    expect(available[a.appId]).toEqual(['user', 'manager', 'admin']);
    expect(available[unused.appId]).toEqual(['user', 'manager', 'admin']);

    // The moved roles are what the tokens carry now: a refresh of the old token has the membership's roles.
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/token/refresh',
      payload: { app_id: a.appId, refresh_token: first.refreshToken },
    });
    expect(res.statusCode).toBe(200);
    const claims = JSON.parse(Buffer.from((res.json().access_token as string).split('.')[1]!, 'base64url').toString()) as {
      roles: string[];
    };
    expect(claims.roles).toEqual(['user', 'admin']);
  });
});
