// Admin API test helpers: an Admin JWT for a user of a given tier (a real user, a real admin_grants
// row, a real sign-in to the Console app through the account API), and a real service token
// (client credentials at /token).
import type { AdminTier } from '../../src/storage/schema.js';
import { findConsoleAppId } from '../../src/domain/apps/console-app.js';
import type { App } from '../../src/domain/apps/apps.js';
import { createTenant, type Tenant } from '../../src/domain/tenants/tenants.js';
import type { User } from '../../src/domain/users/users.js';
import type { TestContext } from './app.js';
import { makeApp, makeUser } from './factories.js';
import { basicAuth } from './oidc.js';

export async function consoleAppId(ctx: TestContext): Promise<string> {
  const id = await findConsoleAppId(ctx.deps);
  if (!id) throw new Error('the Console app was not created at start-up');
  return id;
}

/** Signs the user in to the Console app (POST /api/v1/auth/login): the access token is an Admin JWT. */
export async function consoleToken(ctx: TestContext, email: string, password: string): Promise<string> {
  const res = await ctx.app.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    payload: { email, password, app_id: await consoleAppId(ctx) },
  });
  if (res.statusCode !== 200) throw new Error(`console sign-in failed: ${res.statusCode} ${res.body}`);
  return (res.json() as { access_token: string }).access_token;
}

export interface TestAdmin {
  user: User;
  password: string;
  token: string;
  /** `Authorization: Bearer <token>` */
  headers: Record<string, string>;
}

/** Inserts a grant directly (what bootstrap or another admin would have done). */
export async function grantTier(
  ctx: TestContext,
  userId: string,
  tier: AdminTier,
  on: { tenantId?: string; appId?: string } = {},
): Promise<string> {
  const row = await ctx.deps.db
    .insertInto('admin_grants')
    .values({ user_id: userId, tier, tenant_id: on.tenantId ?? null, app_id: on.appId ?? null })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** A new user holding `tier` (on the tenant or app given), signed in to the Console. */
export async function makeAdmin(ctx: TestContext, tier: AdminTier, on: { tenantId?: string; appId?: string } = {}): Promise<TestAdmin> {
  const { user, password } = await makeUser(ctx.deps);
  await grantTier(ctx, user.id, tier, on);
  const token = await consoleToken(ctx, user.email, password);
  return { user, password, token, headers: bearer(token) };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

export async function makeTenant(ctx: TestContext, name = 'Tenant'): Promise<Tenant> {
  return createTenant(ctx.deps, { name });
}

/** An app allowed the client_credentials grant and `scopes`, and a service token for them. */
export async function serviceToken(
  ctx: TestContext,
  scopes: string[],
  appInput: Parameters<typeof makeApp>[1] = {},
): Promise<{ app: App; clientSecret: string; token: string; headers: Record<string, string> }> {
  const { app, clientSecret } = await makeApp(ctx.deps, {
    grantTypes: ['client_credentials', 'authorization_code', 'refresh_token'],
    allowedScopes: ['openid', ...scopes] as never,
    ...appInput,
  });
  const res = await ctx.app.inject({
    method: 'POST',
    url: '/token',
    headers: { authorization: basicAuth(app.appId, clientSecret), 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ grant_type: 'client_credentials', scope: scopes.join(' ') }).toString(),
  });
  if (res.statusCode !== 200) throw new Error(`client credentials failed: ${res.statusCode} ${res.body}`);
  const token = (res.json() as { access_token: string }).access_token;
  return { app, clientSecret, token, headers: bearer(token) };
}
