// A small world for the Admin API's boundary tests: two tenants with their apps and members, and one
// admin of each tier. Tenant A has apps a1 and a2, tenant B has b1; u_a1 is enrolled in a1, u_b1 in b1.
import type { App } from '../../src/domain/apps/apps.js';
import { setMembershipRoles } from '../../src/domain/memberships/memberships.js';
import type { Tenant } from '../../src/domain/tenants/tenants.js';
import type { User } from '../../src/domain/users/users.js';
import type { TestContext } from './app.js';
import { makeAdmin, makeTenant, type TestAdmin } from './admin.js';
import { makeApp, makeUser } from './factories.js';

export interface AdminWorld {
  tenantA: Tenant;
  tenantB: Tenant;
  a1: App;
  a2: App;
  b1: App;
  uA1: User;
  uB1: User;
  platform: TestAdmin;
  tenantAdminA: TestAdmin;
  appAdminA1: TestAdmin;
  managerA1: TestAdmin;
}

export async function enrol(ctx: TestContext, userId: string, appId: string, roles: string[] = ['user']): Promise<void> {
  await setMembershipRoles(ctx.deps, { userId, appId, roles });
}

export async function makeAdminWorld(ctx: TestContext): Promise<AdminWorld> {
  const tenantA = await makeTenant(ctx, 'Tenant A');
  const tenantB = await makeTenant(ctx, 'Tenant B');
  const { app: a1 } = await makeApp(ctx.deps, { name: 'A1', tenantId: tenantA.id });
  const { app: a2 } = await makeApp(ctx.deps, { name: 'A2', tenantId: tenantA.id });
  const { app: b1 } = await makeApp(ctx.deps, { name: 'B1', tenantId: tenantB.id });
  const { user: uA1 } = await makeUser(ctx.deps);
  const { user: uB1 } = await makeUser(ctx.deps);
  await enrol(ctx, uA1.id, a1.appId);
  await enrol(ctx, uB1.id, b1.appId);
  return {
    tenantA,
    tenantB,
    a1,
    a2,
    b1,
    uA1,
    uB1,
    platform: await makeAdmin(ctx, 'platform_admin'),
    tenantAdminA: await makeAdmin(ctx, 'tenant_admin', { tenantId: tenantA.id }),
    appAdminA1: await makeAdmin(ctx, 'app_admin', { appId: a1.appId }),
    managerA1: await makeAdmin(ctx, 'manager', { appId: a1.appId }),
  };
}

/** The rows of a table, for "nothing changed" checks. */
export async function snapshot(ctx: TestContext, table: 'apps' | 'users' | 'memberships' | 'invites' | 'tenants' | 'admin_grants') {
  const rows = await ctx.deps.db.selectFrom(table).selectAll().execute();
  return JSON.stringify(rows, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v));
}
