// The Admin API's authorization, route by route (issue 14, docs/ADMIN-API.md "Tiers"): every /admin
// route of the route table × every kind of caller, with the resource in the caller's app (A1), in
// another app of the same tenant (A2) and in another tenant (B1). What a caller may not see answers
// 404, what it sees but may not change 403, and a refused request leaves every table as it was. A
// route added without an expectation here fails the first test. Then the IDORs that a status alone
// does not show (ids in bodies, query filters, cursors), escalation, the last platform admin, and the
// membership rule at the device-flow approval page.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminSocketPath, adminTokenPath, startAdminSocket } from '../../src/cli/admin-socket.js';
import { runProgram } from '../../src/cli/main.js';
import { DEVICE_CODE_GRANT, type App } from '../../src/domain/apps/apps.js';
import { createInvite } from '../../src/domain/invites/invites.js';
import { addWebhook } from '../../src/domain/webhooks/webhooks.js';
import type { Tenant } from '../../src/domain/tenants/tenants.js';
import type { User } from '../../src/domain/users/users.js';
import type { AdminTier } from '../../src/storage/schema.js';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { bearer, grantTier, makeAdmin, makeTenant, type TestAdmin } from '../helpers/admin.js';
import { DEFAULT_PASSWORD, DEFAULT_REDIRECT, makeApp, makeUser } from '../helpers/factories.js';
import { algNone, decodeParts, signWithOurKey, tamperPayload } from '../helpers/forge.js';
import { cookieHeader, cookiesOf, csrfTokenOf, FORM, form } from '../helpers/http.js';
import { basicAuth, hiddenFieldsOf, postForm } from '../helpers/oidc.js';

let ctx: TestContext;

// ---- the world -------------------------------------------------------------------------------------

const SERVICE_SCOPES = ['users:read', 'users:create', 'invites:create'] as const;
/** The callers whose answer depends on the route, in the order of an expectation string. */
const ACTORS = ['platform', 'tenantAdmin', 'appAdmin', 'manager', 'svcRead', 'svcCreate', 'svcInvite'] as const;
type Actor = (typeof ACTORS)[number];
/** The callers every route refuses the same way: no, a bad, an expired, a forged or a foreign token (401); a user without a tier (403). */
const REFUSED = ['anonymous', 'expired', 'forged', 'algNone', 'foreignAppJwt', 'noGrant'] as const;
type Refused = (typeof REFUSED)[number];

interface World {
  t1: Tenant;
  t2: Tenant;
  a1: App;
  a2: App;
  b1: App;
  headers: Record<Actor | Refused, Record<string, string>>;
  admins: Record<'platform' | 'tenantAdmin' | 'appAdmin' | 'manager', TestAdmin>;
}
let w: World;

async function clientCredentials(app: App, secret: string, scope: string): Promise<string> {
  const res = await ctx.app.inject({
    method: 'POST',
    url: '/token',
    headers: { authorization: basicAuth(app.appId, secret), 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ grant_type: 'client_credentials', scope }).toString(),
  });
  expect(res.statusCode, res.body).toBe(200);
  return (res.json() as { access_token: string }).access_token;
}

/** A password sign-in to `app` (the account API): its tokens. */
async function login(app: App, email: string, password = DEFAULT_PASSWORD) {
  const res = await ctx.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password, app_id: app.appId } });
  return res;
}

async function enrol(userId: string, appId: string, status: 'active' | 'suspended' | 'pending' = 'active', roles = ['user']) {
  await ctx.deps.db.insertInto('memberships').values({ user_id: userId, app_id: appId, roles, status }).execute();
}

async function freshUser(app: App, status: 'active' | 'suspended' | 'pending' = 'active'): Promise<User> {
  const { user } = await makeUser(ctx.deps);
  await enrol(user.id, app.appId, status);
  return user;
}

async function buildWorld(): Promise<World> {
  const t1 = await makeTenant(ctx, 'T1');
  const t2 = await makeTenant(ctx, 'T2');
  const svcApp = {
    grantTypes: ['client_credentials', 'authorization_code', 'refresh_token'],
    allowedScopes: ['openid', ...SERVICE_SCOPES],
  } as never;
  const { app: a1, clientSecret } = await makeApp(ctx.deps, { name: 'A1', tenantId: t1.id, ...(svcApp as object) });
  const { app: a2 } = await makeApp(ctx.deps, { name: 'A2', tenantId: t1.id });
  const { app: b1 } = await makeApp(ctx.deps, { name: 'B1', tenantId: t2.id, ...(svcApp as object) });
  const admins = {
    platform: await makeAdmin(ctx, 'platform_admin'),
    tenantAdmin: await makeAdmin(ctx, 'tenant_admin', { tenantId: t1.id }),
    appAdmin: await makeAdmin(ctx, 'app_admin', { appId: a1.appId }),
    manager: await makeAdmin(ctx, 'manager', { appId: a1.appId }),
  };
  // The admins are members of A1 too (a refresh key is the admin's own credential for the app).
  for (const a of Object.values(admins)) await enrol(a.user.id, a1.appId);
  // A user who held a tier when they signed in to the Console, and holds none now.
  const noGrant = await makeAdmin(ctx, 'manager', { appId: a1.appId });
  await ctx.deps.db.deleteFrom('admin_grants').where('user_id', '=', noGrant.user.id).execute();
  // The platform admin's access token for A1, not the Console: no Admin JWT.
  const foreign = await login(a1, admins.platform.user.email, admins.platform.password);
  expect(foreign.statusCode, foreign.body).toBe(200);
  const good = decodeParts(admins.platform.token);
  const now = Math.floor(Date.now() / 1000);
  const expired = await signWithOurKey(ctx.deps, { ...good.payload, iat: now - 3600, exp: now - 60 }, { kid: good.header.kid });
  const service = async (scope: string) => bearer(await clientCredentials(a1, clientSecret, scope));
  return {
    t1,
    t2,
    a1,
    a2,
    b1,
    admins,
    headers: {
      platform: admins.platform.headers,
      tenantAdmin: admins.tenantAdmin.headers,
      appAdmin: admins.appAdmin.headers,
      manager: admins.manager.headers,
      svcRead: await service('users:read'),
      svcCreate: await service('users:create'),
      svcInvite: await service('invites:create'),
      anonymous: {},
      expired: bearer(expired),
      forged: bearer(tamperPayload(admins.tenantAdmin.token, { sub: admins.platform.user.id })),
      algNone: bearer(algNone({ ...good.header, alg: 'none' }, good.payload)),
      foreignAppJwt: bearer((foreign.json() as { access_token: string }).access_token),
      noGrant: noGrant.headers,
    },
  };
}

beforeAll(async () => {
  ctx = await createTestContext();
  w = await buildWorld();
}, 120_000);
afterAll(() => ctx.close());

/** Every table an admin call could change (audit events and throttle windows aside), as text. */
const WATCHED = [
  'apps',
  'users',
  'memberships',
  'invites',
  'tenants',
  'admin_grants',
  'refresh_tokens',
  'sessions',
  'webhooks',
  'webhook_deliveries',
  'signing_keys',
  'email_outbox',
  'email_tokens',
] as const;
async function snapshotAll(): Promise<string> {
  const out: Record<string, unknown> = {};
  for (const t of WATCHED) {
    out[t] = await sql`select * from ${sql.table(t)} order by 1`.execute(ctx.deps.db).then((r) => r.rows);
  }
  return JSON.stringify(out, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v));
}

// ---- the route table's expectations ----------------------------------------------------------------

/** Where the resource of a request is: the callers' own app, another app of their tenant, another tenant. */
type Where = 'A1' | 'A2' | 'B1';
interface Place {
  where: Where;
  app: App;
  tenant: Tenant;
  /** A new user enrolled in the place's app. */
  user(status?: 'active' | 'suspended' | 'pending'): Promise<User>;
  /** A new app in the place's tenant; at A1 the app admin and manager of A1 hold their tiers on it too. */
  freshApp(): Promise<App>;
}
interface Req {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  payload?: object | Buffer;
  headers?: Record<string, string>;
}
/**
 * One character per caller of ACTORS (platform, tenant admin of T1, app admin of A1, manager of A1,
 * A1's service tokens with users:read, users:create, invites:create): 2 = 2xx, 3 = 403, 4 = 404, 0 = 400.
 */
type Expect = string;
interface RouteCase {
  build: (p: Place) => Promise<Req>;
  /** By where the resource is; a route about no resource has A1 only. */
  expect: Partial<Record<Where, Expect>>;
}

const PNG = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]),
  Buffer.from('IHDR'),
  Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89]),
  Buffer.from([0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]),
]);
const BOUNDARY = '----km-authz-boundary';
const logoBody = Buffer.concat([
  Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="logo.png"\r\nContent-Type: image/png\r\n\r\n`),
  PNG,
  Buffer.from(`\r\n--${BOUNDARY}--\r\n`),
]);
const uniq = () => Math.random().toString(36).slice(2, 10);

/** A user signed in to the place's app: the user and their refresh token's jti and family. */
async function signedInUser(p: Place) {
  const user = await freshUser(p.app);
  const res = await login(p.app, user.email);
  expect(res.statusCode, res.body).toBe(200);
  const row = await ctx.deps.db
    .selectFrom('refresh_tokens')
    .select(['jti', 'family_id'])
    .where('user_id', '=', user.id)
    .executeTakeFirstOrThrow();
  return { user, jti: row.jti, familyId: row.family_id };
}
const inviteIn = async (p: Place) =>
  (await createInvite(ctx.deps, { appId: p.app.appId, email: `inv-${uniq()}@example.com`, roles: ['user'] })).invite;
const webhookIn = async (p: Place) =>
  (await addWebhook(ctx.deps, { appId: p.app.appId, url: 'https://hooks.example.com/km', events: ['user.login'] })).webhook;
async function grantIn(p: Place): Promise<string> {
  const u = await freshUser(p.app);
  return grantTier(ctx, u.id, 'manager', { appId: p.app.appId });
}

// Abbreviations of the common shapes (platform, tenant, app admin, manager, read, create, invite):
const ANY_ADMIN = { A1: '2222333', A2: '2244333', B1: '2444333' }; // every tier on the app; no service
const FULL = { A1: '2223333', A2: '2244333', B1: '2444333' }; // not managers; no service
const PLATFORM = { A1: '2333333' };
const LIST = { A1: '2222333' };

const ROUTES: Record<string, RouteCase> = {
  'GET /admin/openapi.json': { build: async () => ({ method: 'GET', url: '/admin/openapi.json' }), expect: { A1: '2222222' } },
  // -- apps
  'POST /admin/apps': {
    build: async (p) => ({
      method: 'POST',
      url: '/admin/apps',
      payload: { name: `New ${uniq()}`, tenant_id: p.tenant.id, config: { redirect_uris: [DEFAULT_REDIRECT] } },
    }),
    // Into another tenant: the tenant is not theirs (403 as for an app admin: assertCanCreateAppIn).
    expect: { A1: '2233333', B1: '2333333' },
  },
  'GET /admin/apps': { build: async () => ({ method: 'GET', url: '/admin/apps' }), expect: LIST },
  'GET /admin/apps/:app_id': { build: async (p) => ({ method: 'GET', url: `/admin/apps/${p.app.appId}` }), expect: ANY_ADMIN },
  'PUT /admin/apps/:app_id': {
    build: async (p) => ({ method: 'PUT', url: `/admin/apps/${p.app.appId}`, payload: { name: p.app.name } }),
    expect: FULL,
  },
  'DELETE /admin/apps/:app_id': {
    build: async (p) => ({ method: 'DELETE', url: `/admin/apps/${(await p.freshApp()).appId}` }),
    expect: { A1: '2233333', A2: '2244333', B1: '2444333' },
  },
  'POST /admin/apps/:app_id/regenerate-secret': {
    build: async (p) => ({ method: 'POST', url: `/admin/apps/${(await p.freshApp()).appId}/regenerate-secret` }),
    expect: FULL,
  },
  'POST /admin/apps/:app_id/logo': {
    build: async (p) => ({
      method: 'POST',
      url: `/admin/apps/${p.app.appId}/logo`,
      payload: logoBody,
      headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
    }),
    expect: FULL,
  },
  // -- users
  'GET /admin/users': {
    build: async (p) => ({ method: 'GET', url: `/admin/users?app_id=${p.app.appId}` }),
    expect: { A1: '2222233', A2: '2244433', B1: '2444433' },
  },
  'POST /admin/users': {
    build: async () => ({ method: 'POST', url: '/admin/users', payload: { email: `new-${uniq()}@example.com` } }),
    expect: { A1: '2333323' },
  },
  'GET /admin/users/:user_id': {
    build: async (p) => ({ method: 'GET', url: `/admin/users/${(await p.user()).id}` }),
    // Only users:read reads a user, and only a member of its own app.
    expect: { A1: '2222233', A2: '2244433', B1: '2444433' },
  },
  'PATCH /admin/users/:user_id': {
    build: async (p) => ({ method: 'PATCH', url: `/admin/users/${(await p.user()).id}`, payload: { display_name: 'Renamed' } }),
    expect: FULL,
  },
  'POST /admin/users/:user_id/disable': {
    build: async (p) => ({ method: 'POST', url: `/admin/users/${(await p.user()).id}/disable` }),
    expect: FULL,
  },
  'POST /admin/users/:user_id/enable': {
    build: async (p) => ({ method: 'POST', url: `/admin/users/${(await p.user()).id}/enable` }),
    expect: FULL,
  },
  'POST /admin/users/:user_id/unlock': {
    build: async (p) => ({ method: 'POST', url: `/admin/users/${(await p.user()).id}/unlock` }),
    expect: FULL,
  },
  'POST /admin/users/:user_id/send-reset': {
    build: async (p) => ({ method: 'POST', url: `/admin/users/${(await p.user()).id}/send-reset` }),
    expect: FULL,
  },
  'DELETE /admin/users/:user_id': {
    build: async (p) => ({ method: 'DELETE', url: `/admin/users/${(await p.user()).id}` }),
    expect: { A1: '2333333', A2: '2333333', B1: '2333333' },
  },
  'PUT /admin/users/:user_id/roles': {
    build: async (p) => ({
      method: 'PUT',
      url: `/admin/users/${(await p.user()).id}/roles`,
      payload: { app_id: p.app.appId, roles: ['user'] },
    }),
    expect: FULL,
  },
  // -- members and invites
  'GET /admin/apps/:app_id/members': {
    build: async (p) => ({ method: 'GET', url: `/admin/apps/${p.app.appId}/members` }),
    expect: ANY_ADMIN,
  },
  'POST /admin/apps/:app_id/members/:user_id/suspend': {
    build: async (p) => ({ method: 'POST', url: `/admin/apps/${p.app.appId}/members/${(await p.user()).id}/suspend` }),
    expect: ANY_ADMIN,
  },
  'POST /admin/apps/:app_id/members/:user_id/activate': {
    build: async (p) => ({ method: 'POST', url: `/admin/apps/${p.app.appId}/members/${(await p.user('suspended')).id}/activate` }),
    expect: ANY_ADMIN,
  },
  'POST /admin/apps/:app_id/members/:user_id/approve': {
    build: async (p) => ({ method: 'POST', url: `/admin/apps/${p.app.appId}/members/${(await p.user('pending')).id}/approve` }),
    expect: ANY_ADMIN,
  },
  'DELETE /admin/apps/:app_id/members/:user_id': {
    build: async (p) => ({ method: 'DELETE', url: `/admin/apps/${p.app.appId}/members/${(await p.user()).id}` }),
    expect: ANY_ADMIN,
  },
  'POST /admin/invites': {
    build: async (p) => ({ method: 'POST', url: '/admin/invites', payload: { app_id: p.app.appId, email: `inv-${uniq()}@example.com` } }),
    expect: { A1: '2222332', A2: '2244334', B1: '2444334' },
  },
  'GET /admin/apps/:app_id/invites': {
    build: async (p) => ({ method: 'GET', url: `/admin/apps/${p.app.appId}/invites` }),
    expect: ANY_ADMIN,
  },
  'DELETE /admin/invites/:invite_id': {
    build: async (p) => ({ method: 'DELETE', url: `/admin/invites/${(await inviteIn(p)).id}` }),
    expect: ANY_ADMIN,
  },
  // -- tenants and admin tiers
  'POST /admin/tenants': {
    build: async () => ({ method: 'POST', url: '/admin/tenants', payload: { name: `T ${uniq()}` } }),
    expect: PLATFORM,
  },
  'GET /admin/tenants': { build: async () => ({ method: 'GET', url: '/admin/tenants' }), expect: LIST },
  'GET /admin/tenants/:id': {
    build: async (p) => ({ method: 'GET', url: `/admin/tenants/${p.tenant.id}` }),
    expect: { A1: '2244333', B1: '2444333' },
  },
  'PUT /admin/tenants/:id': {
    build: async (p) => ({ method: 'PUT', url: `/admin/tenants/${p.tenant.id}`, payload: { name: p.tenant.name } }),
    expect: { A1: '2344333', B1: '2444333' },
  },
  'DELETE /admin/tenants/:id': {
    build: async () => ({ method: 'DELETE', url: `/admin/tenants/${(await makeTenant(ctx, `Empty ${uniq()}`)).id}` }),
    expect: PLATFORM,
  },
  'GET /admin/admins': { build: async () => ({ method: 'GET', url: '/admin/admins' }), expect: LIST },
  'POST /admin/admins': {
    build: async (p) => ({
      method: 'POST',
      url: '/admin/admins',
      payload: { user_id: (await p.user()).id, tier: 'manager', app_id: p.app.appId },
    }),
    expect: FULL,
  },
  'DELETE /admin/admins/:id': {
    build: async (p) => ({ method: 'DELETE', url: `/admin/admins/${await grantIn(p)}` }),
    expect: FULL,
  },
  // -- operations
  'GET /admin/users/:user_id/sessions': {
    build: async (p) => ({ method: 'GET', url: `/admin/users/${(await signedInUser(p)).user.id}/sessions` }),
    expect: ANY_ADMIN,
  },
  'DELETE /admin/users/:user_id/sessions/:session_id': {
    build: async (p) => {
      const s = await signedInUser(p);
      return { method: 'DELETE', url: `/admin/users/${s.user.id}/sessions/${s.familyId}` };
    },
    expect: ANY_ADMIN,
  },
  'GET /admin/users/:user_id/refresh-tokens': {
    build: async (p) => ({ method: 'GET', url: `/admin/users/${(await signedInUser(p)).user.id}/refresh-tokens` }),
    expect: ANY_ADMIN,
  },
  'POST /admin/users/:user_id/sign-out-everywhere': {
    build: async (p) => ({ method: 'POST', url: `/admin/users/${(await signedInUser(p)).user.id}/sign-out-everywhere` }),
    expect: ANY_ADMIN,
  },
  'DELETE /admin/refresh-tokens/:jti': {
    build: async (p) => ({ method: 'DELETE', url: `/admin/refresh-tokens/${(await signedInUser(p)).jti}` }),
    expect: ANY_ADMIN,
  },
  'GET /admin/apps/:app_id/refresh-keys': {
    build: async (p) => ({ method: 'GET', url: `/admin/apps/${p.app.appId}/refresh-keys` }),
    expect: ANY_ADMIN,
  },
  'POST /admin/apps/:app_id/refresh-keys': {
    build: async (p) => ({
      method: 'POST',
      url: `/admin/apps/${p.app.appId}/refresh-keys`,
      payload: { audience: p.app.appId, lifetime: '1h' },
    }),
    // The key is the admin's own credential: an admin who is no member of the app gets none (403).
    expect: { A1: '2223333', A2: '3344333', B1: '3444333' },
  },
  'DELETE /admin/apps/:app_id/refresh-keys/:jti': {
    build: async (p) => ({ method: 'DELETE', url: `/admin/apps/${p.app.appId}/refresh-keys/${(await signedInUser(p)).jti}` }),
    expect: ANY_ADMIN,
  },
  'GET /admin/audit-events': { build: async () => ({ method: 'GET', url: '/admin/audit-events' }), expect: LIST },
  'POST /admin/apps/:app_id/webhooks': {
    build: async (p) => ({
      method: 'POST',
      url: `/admin/apps/${p.app.appId}/webhooks`,
      payload: { url: 'https://hooks.example.com/km', events: ['user.login'] },
    }),
    expect: FULL,
  },
  'GET /admin/apps/:app_id/webhooks': {
    build: async (p) => ({ method: 'GET', url: `/admin/apps/${p.app.appId}/webhooks` }),
    expect: ANY_ADMIN,
  },
  'DELETE /admin/webhooks/:id': {
    build: async (p) => ({ method: 'DELETE', url: `/admin/webhooks/${(await webhookIn(p)).id}` }),
    expect: FULL,
  },
  'POST /admin/webhooks/:id/ping': {
    build: async (p) => ({ method: 'POST', url: `/admin/webhooks/${(await webhookIn(p)).id}/ping` }),
    expect: FULL,
  },
  'POST /admin/webhooks/:id/deliveries/:delivery_id/retry': {
    build: async (p) => {
      const hook = await webhookIn(p);
      const id = randomUUID();
      await ctx.deps.db
        .insertInto('webhook_deliveries')
        .values({
          id,
          webhook_id: hook.id,
          app_id: p.app.appId,
          event: 'user.login',
          payload: '{}',
          status: 'failed',
          attempts: 8,
          next_attempt_at: new Date(),
        })
        .execute();
      return { method: 'POST', url: `/admin/webhooks/${hook.id}/deliveries/${id}/retry` };
    },
    expect: FULL,
  },
  'GET /admin/webhooks/:id/deliveries': {
    build: async (p) => ({ method: 'GET', url: `/admin/webhooks/${(await webhookIn(p)).id}/deliveries` }),
    expect: ANY_ADMIN,
  },
  'GET /admin/keys': { build: async () => ({ method: 'GET', url: '/admin/keys' }), expect: PLATFORM },
  'POST /admin/keys/rotate': { build: async () => ({ method: 'POST', url: '/admin/keys/rotate', payload: {} }), expect: PLATFORM },
  'GET /admin/stats': { build: async () => ({ method: 'GET', url: '/admin/stats' }), expect: LIST },
  // Who the caller is (the Console's navigation): any admin tier; a service token is not an admin.
  'GET /admin/me': { build: async () => ({ method: 'GET', url: '/admin/me' }), expect: LIST },
};

function place(where: Where): Place {
  const app = where === 'A1' ? w.a1 : where === 'A2' ? w.a2 : w.b1;
  const tenant = where === 'B1' ? w.t2 : w.t1;
  return {
    where,
    app,
    tenant,
    user: (status) => freshUser(app, status),
    freshApp: async () => {
      const { app: fresh } = await makeApp(ctx.deps, { name: `Fresh ${uniq()}`, tenantId: tenant.id });
      if (where === 'A1') {
        await grantTier(ctx, w.admins.appAdmin.user.id, 'app_admin', { appId: fresh.appId });
        await grantTier(ctx, w.admins.manager.user.id, 'manager', { appId: fresh.appId });
      }
      return fresh;
    },
  };
}

const CLASS: Record<string, (s: number) => boolean> = {
  '2': (s) => s >= 200 && s < 300,
  '3': (s) => s === 403,
  '4': (s) => s === 404,
  '0': (s) => s === 400,
  '1': (s) => s === 401,
};

async function run(req: Req, headers: Record<string, string>) {
  return ctx.app.inject({
    method: req.method,
    url: req.url,
    headers: { ...headers, ...req.headers },
    ...(req.payload !== undefined && { payload: req.payload as never }),
  });
}

/** Runs the request; a refusal must leave every watched table as it was and answer {detail}. */
async function check(name: string, req: Req, headers: Record<string, string>, want: string): Promise<string | undefined> {
  const before = await snapshotAll();
  const res = await run(req, headers);
  const ok = CLASS[want]!(res.statusCode);
  if (!ok) return `${name}: ${res.statusCode} (want ${want}xx-class) ${res.body.slice(0, 160)}`;
  if (res.statusCode >= 400) {
    if (typeof (res.json() as { detail?: unknown }).detail !== 'string') return `${name}: refusal without {detail}: ${res.body}`;
    if ((await snapshotAll()) !== before) return `${name}: refused with ${res.statusCode} but changed rows`;
  }
  return undefined;
}

const adminRoutes = () =>
  ctx.app.routeTable.filter((r) => r.url.startsWith('/admin/') && r.method !== 'HEAD').map((r) => `${r.method} ${r.url}`);

describe('the route table', () => {
  it('every /admin route has an expectation here, and every expectation a route', () => {
    const routes = [...new Set(adminRoutes())].sort();
    expect(routes.length).toBeGreaterThan(40);
    expect(routes).toEqual(Object.keys(ROUTES).sort());
  });

  it('without a valid Admin JWT or admin-scoped service token: 401 (no, expired, forged, alg none, another app’s token) or 403 (no tier)', async () => {
    const failures: string[] = [];
    for (const [key, route] of Object.entries(ROUTES)) {
      if (key === 'GET /admin/openapi.json') continue;
      const req = await route.build(place('A1'));
      for (const who of REFUSED) {
        const f = await check(`${key} as ${who}`, req, w.headers[who], who === 'noGrant' ? '3' : '1');
        if (f) failures.push(f);
      }
    }
    expect(failures).toEqual([]);
  }, 300_000);

  for (const where of ['A1', 'A2', 'B1'] as const) {
    it(`each route × each tier and service token, the resource in ${where}`, async () => {
      const failures: string[] = [];
      for (const [key, route] of Object.entries(ROUTES)) {
        const want = route.expect[where];
        if (!want) continue;
        for (const [i, who] of ACTORS.entries()) {
          const req = await route.build(place(where));
          const f = await check(`${key} [${where}] as ${who}`, req, w.headers[who], want[i]!);
          if (f) failures.push(f);
        }
      }
      expect(failures).toEqual([]);
    }, 300_000);
  }
});

// ---- IDOR: ids in bodies, filters and cursors --------------------------------------------------------

const as = (who: Actor, method: Req['method'], url: string, payload?: object) =>
  run({ method, url, ...(payload !== undefined && { payload }) }, w.headers[who]);

/** A user enrolled in A1 and in B1, signed in to both (a refresh token each). */
async function userInA1AndB1() {
  const user = await freshUser(w.a1);
  await enrol(user.id, w.b1.appId);
  for (const app of [w.a1, w.b1]) expect((await login(app, user.email)).statusCode).toBe(200);
  const tokens = await ctx.deps.db
    .selectFrom('refresh_tokens')
    .select(['jti', 'family_id', 'app_id'])
    .where('user_id', '=', user.id)
    .execute();
  const of = (app: App) => tokens.find((t) => t.app_id === app.appId)!;
  return { user, a1: of(w.a1), b1: of(w.b1) };
}

describe('IDOR: another tenant’s or app’s id where the route takes one', () => {
  it('PUT /admin/users/{id}/roles cannot enrol a user the caller does not see into their app (404, nothing written)', async () => {
    const outsider = await freshUser(w.b1);
    for (const who of ['tenantAdmin', 'appAdmin'] as const) {
      const before = await snapshotAll();
      const res = await as(who, 'PUT', `/admin/users/${outsider.id}/roles`, { app_id: w.a1.appId, roles: ['user'] });
      expect(res.statusCode, `${who}: ${res.body}`).toBe(404);
      expect(await snapshotAll()).toBe(before);
      expect((await as(who, 'GET', `/admin/users/${outsider.id}`)).statusCode).toBe(404);
    }
    // A user they already see (a member of A1) may be given roles in another of their apps.
    const insider = await freshUser(w.a1);
    expect((await as('tenantAdmin', 'PUT', `/admin/users/${insider.id}/roles`, { app_id: w.a2.appId, roles: ['user'] })).statusCode).toBe(
      200,
    );
    expect((await as('platform', 'PUT', `/admin/users/${outsider.id}/roles`, { app_id: w.a1.appId, roles: ['user'] })).statusCode).toBe(
      200,
    );
  });

  it('POST /admin/admins: a user or email of another tenant answers as an unknown one', async () => {
    const outsider = await freshUser(w.b1);
    const byId = await as('appAdmin', 'POST', '/admin/admins', { user_id: outsider.id, tier: 'manager', app_id: w.a1.appId });
    const byEmail = await as('appAdmin', 'POST', '/admin/admins', { email: outsider.email, tier: 'manager', app_id: w.a1.appId });
    const nobody = await as('appAdmin', 'POST', '/admin/admins', {
      email: `nobody-${uniq()}@example.com`,
      tier: 'manager',
      app_id: w.a1.appId,
    });
    expect([byId.statusCode, byEmail.statusCode, nobody.statusCode]).toEqual([404, 404, 404]);
    // The same words for "exists elsewhere" and "does not exist" (no email oracle).
    const words = (r: typeof byEmail) => (r.json() as { detail: string }).detail.replace(/\S+@\S+/, '<email>');
    expect(words(byEmail)).toBe(words(nobody));
  });

  it('a user of A1 and B1: the tenant admin of T1 sees and ends only the A1 side', async () => {
    const { user, a1, b1 } = await userInA1AndB1();
    const detail = (await as('tenantAdmin', 'GET', `/admin/users/${user.id}`)).json() as { memberships: { app_id: string }[] };
    expect(detail.memberships.map((m) => m.app_id)).toEqual([w.a1.appId]);
    const tokens = (await as('tenantAdmin', 'GET', `/admin/users/${user.id}/refresh-tokens?app_id=${w.b1.appId}`)).json() as {
      refresh_tokens: unknown[];
    };
    expect(tokens.refresh_tokens).toEqual([]);
    const sessions = (await as('tenantAdmin', 'GET', `/admin/users/${user.id}/sessions`)).json() as { sessions: { app_id: string }[] };
    expect(sessions.sessions.map((s) => s.app_id)).toEqual([w.a1.appId]);
    // A global change needs every app of the user: 403, and the B1 token and session survive.
    const before = await snapshotAll();
    expect((await as('tenantAdmin', 'POST', `/admin/users/${user.id}/disable`)).statusCode).toBe(403);
    expect((await as('tenantAdmin', 'PATCH', `/admin/users/${user.id}`, { display_name: 'X' })).statusCode).toBe(403);
    expect(await snapshotAll()).toBe(before);
    // B1's family through a route of A1, or as the user's session: not theirs.
    const viaApp = await as('tenantAdmin', 'DELETE', `/admin/apps/${w.a1.appId}/refresh-keys/${b1.jti}`);
    expect(viaApp.statusCode).toBe(404);
    const viaSession = await as('tenantAdmin', 'DELETE', `/admin/users/${user.id}/sessions/${b1.family_id}`);
    expect([404, 200]).toContain(viaSession.statusCode);
    if (viaSession.statusCode === 200) expect((viaSession.json() as { revoked: number }).revoked).toBe(0);
    const out = (await as('tenantAdmin', 'POST', `/admin/users/${user.id}/sign-out-everywhere`)).json() as { revoked_tokens: number };
    expect(out.revoked_tokens).toBe(1);
    const live = await ctx.deps.db
      .selectFrom('refresh_tokens')
      .select(['jti', 'revoked_at'])
      .where('jti', 'in', [a1.jti, b1.jti])
      .execute();
    expect(live.find((t) => t.jti === b1.jti)!.revoked_at).toBeNull();
    expect(live.find((t) => t.jti === a1.jti)!.revoked_at).not.toBeNull();
  });

  it('query filters naming another tenant’s app or user widen nothing', async () => {
    const { user } = await userInA1AndB1();
    const audit = (q: string) => as('tenantAdmin', 'GET', `/admin/audit-events?${q}`);
    const b1Events = await audit(`app_id=${w.b1.appId}&limit=200`);
    expect(b1Events.statusCode).toBe(200);
    expect((b1Events.json() as { events: unknown[] }).events).toEqual([]);
    const userEvents = (await audit(`user_id=${user.id}&limit=200`)).json() as { events: { app_id: string | null }[] };
    expect(userEvents.events.length).toBeGreaterThan(0);
    expect(userEvents.events.every((e) => e.app_id === w.a1.appId)).toBe(true);
    const apps = (await as('tenantAdmin', 'GET', `/admin/apps?tenant_id=${w.t2.id}`)).json() as { apps?: unknown[] };
    expect(apps.apps ?? []).toEqual([]);
    const outsider = await freshUser(w.b1);
    const search = (await as('tenantAdmin', 'GET', `/admin/users?search=${encodeURIComponent(outsider.email)}`)).json() as {
      users: unknown[];
    };
    expect(search.users).toEqual([]);
    expect((await as('appAdmin', 'GET', `/admin/users?app_id=${w.b1.appId}`)).statusCode).toBe(404);
  });

  it('a cursor made from another tenant’s list does not widen the result', async () => {
    for (let i = 0; i < 3; i++) await freshUser(w.b1);
    const walk = async (who: Actor, url: string, key: string, cursor?: string) => {
      const sep = url.includes('?') ? '&' : '?';
      const res = await as(who, 'GET', `${url}${cursor ? `${sep}cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json() as Record<string, unknown>;
      return { items: body[key] as { id?: string; user_id?: string; app_id?: string | null }[], next: body.next_cursor as string | null };
    };
    const cases = [
      { url: '/admin/users?limit=1', key: 'users', platformUrl: '/admin/users?limit=1' },
      { url: '/admin/audit-events?limit=1', key: 'events', platformUrl: `/admin/audit-events?limit=1&app_id=${w.b1.appId}` },
      { url: '/admin/apps?limit=1', key: 'apps', platformUrl: '/admin/apps?limit=1' },
      { url: '/admin/admins?limit=1', key: 'admins', platformUrl: '/admin/admins?limit=1' },
      { url: `/admin/apps/${w.a1.appId}/members?limit=1`, key: 'members', platformUrl: `/admin/apps/${w.b1.appId}/members?limit=1` },
    ];
    for (const c of cases) {
      const foreign = await walk('platform', c.platformUrl, c.key);
      expect(foreign.next, c.url).not.toBeNull();
      // Everything the scoped caller may see, without a cursor; with the foreign cursor, a subset of it.
      const all = await walk('appAdmin', c.url.replace('limit=1', 'limit=200'), c.key);
      const ids = (items: typeof all.items) => items.map((x) => JSON.stringify(x));
      const withForeign = await as(
        'appAdmin',
        'GET',
        `${c.url.replace('limit=1', 'limit=200')}&cursor=${encodeURIComponent(foreign.next!)}`,
      );
      if (withForeign.statusCode === 400) continue; // refused as a cursor of another list: fine
      expect(withForeign.statusCode, `${c.url}: ${withForeign.body}`).toBe(200);
      const seen = new Set(ids(all.items));
      const got = ids((withForeign.json() as Record<string, typeof all.items>)[c.key]!);
      expect(
        got.filter((x) => !seen.has(x)),
        c.url,
      ).toEqual([]);
    }
  });
});

// ---- escalation ----------------------------------------------------------------------------------------

describe('escalation: nobody grants or reaches above their own tier', () => {
  /** Every attempt is refused with `status` and writes nothing. */
  async function refused(who: Actor, method: Req['method'], url: string, payload: object | undefined, status: number) {
    const before = await snapshotAll();
    const res = await as(who, method, url, payload);
    expect(res.statusCode, `${who} ${method} ${url} ${JSON.stringify(payload)}: ${res.body}`).toBe(status);
    expect(await snapshotAll()).toBe(before);
  }
  const grant = (tier: AdminTier, on: { tenant_id?: string; app_id?: string } = {}) => ({ tier, ...on });

  it('a tenant admin: not platform admin, nothing in T2', async () => {
    const u = (await freshUser(w.a1)).id;
    await refused('tenantAdmin', 'POST', '/admin/admins', { user_id: u, ...grant('platform_admin') }, 403);
    await refused('tenantAdmin', 'POST', '/admin/admins', { user_id: u, ...grant('tenant_admin', { tenant_id: w.t2.id }) }, 404);
    await refused('tenantAdmin', 'POST', '/admin/admins', { user_id: u, ...grant('app_admin', { app_id: w.b1.appId }) }, 404);
    await refused('tenantAdmin', 'PUT', `/admin/apps/${w.a1.appId}`, { tenant_id: w.t2.id }, 403);
    await refused('tenantAdmin', 'PUT', `/admin/apps/${w.a1.appId}`, { tenant_id: null }, 403);
    await refused('tenantAdmin', 'POST', '/admin/users', { email: `x-${uniq()}@example.com`, is_platform_admin: true }, 403);
    const platformGrant = await ctx.deps.db
      .selectFrom('admin_grants')
      .select('id')
      .where('user_id', '=', w.admins.platform.user.id)
      .executeTakeFirstOrThrow();
    await refused('tenantAdmin', 'DELETE', `/admin/admins/${platformGrant.id}`, undefined, 404);
  });

  it('an app admin: not tenant admin, nothing on A2', async () => {
    const u = (await freshUser(w.a1)).id;
    await refused('appAdmin', 'POST', '/admin/admins', { user_id: u, ...grant('platform_admin') }, 403);
    await refused('appAdmin', 'POST', '/admin/admins', { user_id: u, ...grant('tenant_admin', { tenant_id: w.t1.id }) }, 404);
    await refused('appAdmin', 'POST', '/admin/admins', { user_id: u, ...grant('app_admin', { app_id: w.a2.appId }) }, 404);
    await refused('appAdmin', 'POST', '/admin/admins', { user_id: u, ...grant('manager', { app_id: w.a2.appId }) }, 404);
    await refused('appAdmin', 'PUT', `/admin/apps/${w.a1.appId}`, { tenant_id: w.t2.id }, 403);
    await refused('appAdmin', 'DELETE', `/admin/apps/${w.a1.appId}`, undefined, 403);
    await refused('appAdmin', 'PUT', `/admin/users/${u}/roles`, { app_id: w.a2.appId, roles: ['admin'] }, 404);
    const tenantGrant = await ctx.deps.db
      .selectFrom('admin_grants')
      .select('id')
      .where('user_id', '=', w.admins.tenantAdmin.user.id)
      .executeTakeFirstOrThrow();
    await refused('appAdmin', 'DELETE', `/admin/admins/${tenantGrant.id}`, undefined, 404);
  });

  it('a manager: no roles, no app settings, no tiers, no invite beyond auto_assign_roles', async () => {
    const u = (await freshUser(w.a1)).id;
    await refused('manager', 'PUT', `/admin/users/${u}/roles`, { app_id: w.a1.appId, roles: ['admin'] }, 403);
    await refused('manager', 'PUT', `/admin/apps/${w.a1.appId}`, { registration_policy: 'open', name: 'Taken' }, 403);
    await refused('manager', 'POST', `/admin/apps/${w.a1.appId}/regenerate-secret`, undefined, 403);
    await refused('manager', 'POST', '/admin/admins', { user_id: u, ...grant('manager', { app_id: w.a1.appId }) }, 403);
    await refused('manager', 'POST', '/admin/invites', { app_id: w.a1.appId, email: `m-${uniq()}@example.com`, roles: ['admin'] }, 403);
    const appAdminGrant = await ctx.deps.db
      .selectFrom('admin_grants')
      .select('id')
      .where('user_id', '=', w.admins.appAdmin.user.id)
      .where('app_id', '=', w.a1.appId)
      .executeTakeFirstOrThrow();
    await refused('manager', 'DELETE', `/admin/admins/${appAdminGrant.id}`, undefined, 403);
  });

  it('a service token: no admin grant, no platform admin, no other app, no roles', async () => {
    const u = (await freshUser(w.a1)).id;
    for (const who of ['svcRead', 'svcCreate', 'svcInvite'] as const) {
      await refused(who, 'POST', '/admin/admins', { user_id: u, ...grant('app_admin', { app_id: w.a1.appId }) }, 403);
      await refused(who, 'PUT', `/admin/users/${u}/roles`, { app_id: w.a1.appId, roles: ['admin'] }, 403);
    }
    await refused('svcCreate', 'POST', '/admin/users', { email: `s-${uniq()}@example.com`, is_platform_admin: true }, 403);
    await refused('svcInvite', 'POST', '/admin/invites', { app_id: w.b1.appId, email: `s-${uniq()}@example.com` }, 404);
    await refused('svcInvite', 'POST', '/admin/invites', { app_id: w.a2.appId, email: `s-${uniq()}@example.com` }, 404);
    await refused('svcRead', 'GET', `/admin/users?app_id=${w.b1.appId}`, undefined, 404);
    // Created by users:create: enrolled in its own app, with no tier.
    const made = await as('svcCreate', 'POST', '/admin/users', { email: `s-${uniq()}@example.com` });
    expect(made.statusCode).toBe(201);
    const id = (made.json() as { id: string }).id;
    const m = await ctx.deps.db.selectFrom('memberships').select('app_id').where('user_id', '=', id).execute();
    expect(m.map((r) => r.app_id)).toEqual([w.a1.appId]);
    expect(await ctx.deps.db.selectFrom('admin_grants').select('id').where('user_id', '=', id).execute()).toEqual([]);
  });
});

// ---- the last platform admin ----------------------------------------------------------------------------

describe('the last platform admin cannot be revoked, disabled or deleted', () => {
  let own: TestContext;
  beforeAll(async () => {
    own = await createTestContext();
  });
  afterAll(() => own.close());

  const call = (who: TestAdmin, method: Req['method'], url: string) => own.app.inject({ method, url, headers: who.headers });
  const grantOf = async (userId: string) =>
    (
      await own.deps.db
        .selectFrom('admin_grants')
        .select('id')
        .where('user_id', '=', userId)
        .where('tier', '=', 'platform_admin')
        .executeTakeFirstOrThrow()
    ).id;

  it('alone: 409 for each, nothing written; with a second one, one of them may go', async () => {
    const p1 = await makeAdmin(own, 'platform_admin');
    const rows = async () =>
      JSON.stringify(await own.deps.db.selectFrom('admin_grants').selectAll().execute()) +
      JSON.stringify(await own.deps.db.selectFrom('users').select(['id', 'disabled_at']).execute());
    const before = await rows();
    for (const [method, url] of [
      ['DELETE', `/admin/admins/${await grantOf(p1.user.id)}`],
      ['POST', `/admin/users/${p1.user.id}/disable`],
      ['DELETE', `/admin/users/${p1.user.id}`],
    ] as const) {
      const res = await call(p1, method, url);
      expect(res.statusCode, `${method} ${url}: ${res.body}`).toBe(409);
      expect((res.json() as { detail: string }).detail).toMatch(/last platform admin/);
    }
    expect(await rows()).toBe(before);

    // A disabled second platform admin does not count.
    const p2 = await makeAdmin(own, 'platform_admin');
    expect((await call(p1, 'POST', `/admin/users/${p2.user.id}/disable`)).statusCode).toBe(200);
    expect((await call(p1, 'DELETE', `/admin/admins/${await grantOf(p1.user.id)}`)).statusCode).toBe(409);
    expect((await call(p1, 'POST', `/admin/users/${p2.user.id}/enable`)).statusCode).toBe(200);
    // Two live ones: p1 may step down; then p2 is the last.
    expect((await call(p1, 'DELETE', `/admin/admins/${await grantOf(p1.user.id)}`)).statusCode).toBe(200);
    const p2token = { ...p2, headers: bearer(await consoleTokenOf(p2)) };
    expect((await call(p2token, 'DELETE', `/admin/users/${p2.user.id}`)).statusCode).toBe(409);
    expect((await call(p2token, 'POST', `/admin/users/${p2.user.id}/disable`)).statusCode).toBe(409);
  });

  it('two platform admins revoking each other at once: exactly one succeeds', async () => {
    // Whoever else holds the tier in this database first steps aside (through the rule, not around it).
    const a = await makeAdmin(own, 'platform_admin');
    const b = await makeAdmin(own, 'platform_admin');
    const others = await own.deps.db
      .selectFrom('admin_grants')
      .select('id')
      .where('tier', '=', 'platform_admin')
      .where('user_id', 'not in', [a.user.id, b.user.id])
      .execute();
    for (const g of others) expect((await call(a, 'DELETE', `/admin/admins/${g.id}`)).statusCode).toBe(200);
    const [ra, rb] = await Promise.all([
      call(a, 'DELETE', `/admin/admins/${await grantOf(b.user.id)}`),
      call(b, 'DELETE', `/admin/admins/${await grantOf(a.user.id)}`),
    ]);
    // The loser is refused as the last one (409) or, had the winner committed before it was
    // authenticated, as no longer a platform admin (403).
    const codes = [ra.statusCode, rb.statusCode].sort();
    expect(codes[0]).toBe(200);
    expect([403, 409]).toContain(codes[1]);
    const left = await own.deps.db.selectFrom('admin_grants').select('user_id').where('tier', '=', 'platform_admin').execute();
    expect(left).toHaveLength(1);
  });

  async function consoleTokenOf(a: TestAdmin): Promise<string> {
    const { consoleToken } = await import('../helpers/admin.js');
    return consoleToken(own, a.user.email, a.password);
  }
});

// ---- the membership rule at the device-flow approval page ----------------------------------------------

describe('device flow: only a user the app admits may approve a device for it', () => {
  class Browser {
    cookies: Record<string, string> = {};
    async get(url: string) {
      const res = await ctx.app.inject({ url, headers: { cookie: cookieHeader(this.cookies) } });
      this.cookies = { ...this.cookies, ...cookiesOf(res) };
      return res;
    }
    async post(url: string, page: string, fields: Record<string, string>) {
      const res = await ctx.app.inject({
        method: 'POST',
        url,
        headers: { ...FORM, cookie: cookieHeader(this.cookies) },
        payload: form({ ...hiddenFieldsOf(page), _csrf: csrfTokenOf(page), ...fields }),
      });
      this.cookies = { ...this.cookies, ...cookiesOf(res) };
      return res;
    }
  }

  async function deviceApp(policy: 'invite' | 'open') {
    const { app, clientSecret } = await makeApp(ctx.deps, {
      grantTypes: ['authorization_code', 'refresh_token', DEVICE_CODE_GRANT],
      allowedScopes: ['openid', 'offline_access'],
      registrationPolicy: policy,
    } as never);
    const auth = { authorization: basicAuth(app.appId, clientSecret) };
    const start = await postForm(ctx, '/device_authorization', { scope: 'openid offline_access' }, auth);
    expect(start.statusCode, start.body).toBe(200);
    const d = start.json() as { device_code: string; user_code: string };
    const poll = () => postForm(ctx, '/token', { grant_type: DEVICE_CODE_GRANT, device_code: d.device_code }, auth);
    return { app, d, poll };
  }

  /** Enters the code, signs in, approves: the answer to the approval. */
  async function approve(userCode: string, email: string) {
    const b = new Browser();
    const entry = await b.get('/device');
    const signIn = await b.post('/device', entry.body, { user_code: userCode });
    const signedIn = await b.post('/device/login', signIn.body, { email, password: DEFAULT_PASSWORD });
    expect(signedIn.statusCode, signedIn.body.slice(0, 300)).toBe(303);
    const confirm = await b.get(signedIn.headers.location as string);
    expect(confirm.statusCode).toBe(200);
    return b.post('/device/confirm', confirm.body, { decision: 'approve' });
  }

  const deviceRow = (appId: string) =>
    ctx.deps.db.selectFrom('device_codes').select(['status', 'user_id']).where('app_id', '=', appId).executeTakeFirstOrThrow();

  it('not a member of an invite-only app: refused with "You do not have access", the request stays pending, no tokens', async () => {
    const { app, d, poll } = await deviceApp('invite');
    const { user } = await makeUser(ctx.deps);
    const res = await approve(d.user_code, user.email);
    expect(res.statusCode).toBe(403);
    expect(res.body).toContain('You do not have access');
    expect(await deviceRow(app.appId)).toEqual({ status: 'pending', user_id: null });
    expect((await poll()).json()).toMatchObject({ error: 'authorization_pending' });
    expect(await ctx.deps.db.selectFrom('memberships').select('user_id').where('app_id', '=', app.appId).execute()).toEqual([]);
  });

  it('suspended in the app: refused with "Account suspended"; an active member of the same app approves', async () => {
    const { app, d, poll } = await deviceApp('invite');
    const suspended = await freshUser(app, 'suspended');
    const res = await approve(d.user_code, suspended.email);
    expect(res.statusCode).toBe(403);
    expect(res.body).toContain('Account suspended');
    expect(await deviceRow(app.appId)).toEqual({ status: 'pending', user_id: null });
    const active = await freshUser(app);
    expect((await approve(d.user_code, active.email)).statusCode).toBe(200);
    const tokens = await poll();
    expect(tokens.statusCode, tokens.body).toBe(200);
  });

  it('an open app enrols the approving user with its auto-assigned roles, as a sign-in does', async () => {
    const { app, d, poll } = await deviceApp('open');
    const { user } = await makeUser(ctx.deps);
    expect((await approve(d.user_code, user.email)).statusCode).toBe(200);
    expect((await poll()).statusCode).toBe(200);
    const m = await ctx.deps.db
      .selectFrom('memberships')
      .select('status')
      .where('app_id', '=', app.appId)
      .where('user_id', '=', user.id)
      .execute();
    expect(m).toEqual([{ status: 'active' }]);
  });
});

// ---- the membership rule at the other ways in; concurrency --------------------------------------------

describe('membership at sign-in, refresh and the Console; concurrent redemption', () => {
  it('password sign-in and refresh: invite-only non-member and suspended member refused for that app only', async () => {
    const { app: closed } = await makeApp(ctx.deps, { registrationPolicy: 'invite' } as never);
    const { app: other } = await makeApp(ctx.deps, { registrationPolicy: 'open' } as never);
    const { user: stranger } = await makeUser(ctx.deps);
    const refusedLogin = await login(closed, stranger.email);
    expect(refusedLogin.statusCode).toBe(403);
    expect(refusedLogin.json()).toMatchObject({ detail: 'You do not have access' });
    expect(await ctx.deps.db.selectFrom('refresh_tokens').select('jti').where('user_id', '=', stranger.id).execute()).toEqual([]);

    const member = await freshUser(closed);
    const first = await login(closed, member.email);
    expect(first.statusCode).toBe(200);
    const { refresh_token } = first.json() as { refresh_token: string };
    expect((await login(other, member.email)).statusCode).toBe(200);
    expect((await as('platform', 'POST', `/admin/apps/${closed.appId}/members/${member.id}/suspend`)).statusCode).toBe(200);
    const again = await login(closed, member.email);
    expect(again.statusCode).toBe(403);
    expect(again.json()).toMatchObject({ detail: 'Account suspended' });
    const refreshed = await ctx.app.inject({ method: 'POST', url: '/token/refresh', payload: { refresh_token, app_id: closed.appId } });
    expect(refreshed.statusCode).toBeGreaterThanOrEqual(400);
    expect(refreshed.body).not.toContain('access_token');
    // The other app is not affected.
    expect((await login(other, member.email)).statusCode).toBe(200);
  });

  it('client credentials do not depend on memberships; the Console admits only admin-grant holders, at sign-in and refresh', async () => {
    // A1's service tokens were issued with no membership at all (buildWorld): the grant is the app's own.
    expect(w.a1.grantTypes).toContain('client_credentials');
    expect((await as('svcRead', 'GET', `/admin/users?app_id=${w.a1.appId}`)).statusCode).toBe(200);
    const { consoleAppId } = await import('../helpers/admin.js');
    const consoleApp = { appId: await consoleAppId(ctx) } as App;
    const { user } = await makeUser(ctx.deps);
    await enrol(user.id, w.a1.appId);
    const refused = await login(consoleApp, user.email);
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toMatchObject({ detail: 'You do not have access' });
    // With a tier: in; the tier revoked: the Console refresh is refused and the Admin JWT stops working.
    const grantId = await grantTier(ctx, user.id, 'manager', { appId: w.a1.appId });
    const inside = await login(consoleApp, user.email);
    expect(inside.statusCode).toBe(200);
    const t = inside.json() as { access_token: string; refresh_token: string };
    expect((await run({ method: 'GET', url: '/admin/apps' }, bearer(t.access_token))).statusCode).toBe(200);
    await ctx.deps.db.deleteFrom('admin_grants').where('id', '=', grantId).execute();
    expect((await run({ method: 'GET', url: '/admin/apps' }, bearer(t.access_token))).statusCode).toBe(403);
    const refreshed = await ctx.app.inject({
      method: 'POST',
      url: '/token/refresh',
      payload: { refresh_token: t.refresh_token, app_id: consoleApp.appId },
    });
    expect(refreshed.statusCode).toBeGreaterThanOrEqual(400);
    expect(refreshed.body).not.toContain('access_token');
  });

  it('two accepts of one invite code at once: exactly one succeeds (new account and existing account)', async () => {
    const { app } = await makeApp(ctx.deps, { registrationPolicy: 'invite' } as never);
    const accept = (code: string, email: string, extra: object) =>
      ctx.app.inject({
        method: 'POST',
        url: '/api/v1/auth/accept-invite',
        payload: { app_id: app.appId, invite_code: code, email, ...extra },
      });
    const codeOf = (url: string) => new URL(url).searchParams.get('code') ?? url.split('/').pop()!;
    // A new account.
    const email = `race-${uniq()}@example.com`;
    const inv = await as('platform', 'POST', '/admin/invites', { app_id: app.appId, email });
    expect(inv.statusCode).toBe(201);
    const code = codeOf((inv.json() as { invite_url: string }).invite_url);
    const [r1, r2] = await Promise.all([
      accept(code, email, { password: DEFAULT_PASSWORD, display_name: 'One' }),
      accept(code, email, { password: DEFAULT_PASSWORD, display_name: 'Two' }),
    ]);
    expect(
      [r1.statusCode, r2.statusCode].filter((s) => s === 200),
      `${r1.body} ${r2.body}`,
    ).toHaveLength(1);
    expect(await ctx.deps.db.selectFrom('users').select('id').where('email', '=', email).execute()).toHaveLength(1);
    // An existing account proving itself with its password.
    const { user } = await makeUser(ctx.deps);
    const inv2 = await as('platform', 'POST', '/admin/invites', { app_id: app.appId, email: user.email });
    const code2 = codeOf((inv2.json() as { invite_url: string }).invite_url);
    const both = await Promise.all([
      accept(code2, user.email, { password: DEFAULT_PASSWORD }),
      accept(code2, user.email, { password: DEFAULT_PASSWORD }),
    ]);
    expect(
      both.map((r) => r.statusCode).filter((s) => s === 200),
      both.map((r) => r.body).join(' '),
    ).toHaveLength(1);
    expect(both.every((r) => r.statusCode < 500)).toBe(true);
    const redeemed = await ctx.deps.db.selectFrom('invites').select(['accepted_by']).where('app_id', '=', app.appId).execute();
    expect(redeemed.map((i) => i.accepted_by)).toContain(user.id);
    expect(redeemed.every((i) => i.accepted_by !== null)).toBe(true);
  });
});

// ---- the CLI's local credential -------------------------------------------------------------------------

describe('the admin socket: 0600 socket and token file, the token compared in constant time', () => {
  it('modes, a wrong or differently sized token refused without running anything, the right one runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'km-authz-'));
    const old = process.umask(0); // the modes must not depend on the umask
    let socket: Awaited<ReturnType<typeof startAdminSocket>>;
    try {
      socket = await startAdminSocket({ ...ctx.deps, config: { ...ctx.deps.config, dataDir: dir } }, runProgram);
    } finally {
      process.umask(old);
    }
    try {
      expect(statSync(adminSocketPath(dir)).mode & 0o777).toBe(0o600);
      expect(statSync(adminTokenPath(dir)).mode & 0o777).toBe(0o600);
      const token = readFileSync(adminTokenPath(dir), 'utf8').trim();
      expect(token.length).toBeGreaterThanOrEqual(43);
      const ask = (t: string) =>
        new Promise<Record<string, unknown>>((resolve, reject) => {
          const c = connect(adminSocketPath(dir));
          let raw = '';
          c.on('connect', () => c.write(`${JSON.stringify({ token: t, argv: ['apps', 'list', '--json'], cwd: dir })}\n`));
          c.on('data', (d) => (raw += d.toString()));
          c.on('error', reject);
          c.on('end', () => resolve(JSON.parse(raw) as Record<string, unknown>));
        });
      for (const wrong of ['', token.slice(0, -1), `${token}x`, token.replace(/./, (ch) => (ch === 'A' ? 'B' : 'A'))]) {
        const a = await ask(wrong);
        expect(a.error).toMatch(/wrong or missing token/);
        expect(a.stdout).toBeUndefined();
      }
      const ok = await ask(token);
      expect(ok.code, JSON.stringify(ok)).toBe(0);
    } finally {
      await socket.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the compare is safeEqual (SHA-256 both sides, then timingSafeEqual), never ===', () => {
    const src = readFileSync(new URL('../../src/cli/admin-socket.ts', import.meta.url), 'utf8');
    expect(src).toMatch(/if \(!safeEqual\(req\.token, token\)\)/);
    expect(src).not.toMatch(/req\.token\s*[!=]==?/);
    const crypto = readFileSync(new URL('../../src/lib/crypto.ts', import.meta.url), 'utf8');
    expect(crypto).toMatch(/export function safeEqual[\s\S]{0,300}timingSafeEqual\(ha, hb\)/);
  });
});

describe('a lower tier cannot act on the account of a higher or foreign admin', () => {
  let own: TestContext;
  beforeAll(async () => {
    own = await createTestContext();
  });
  afterAll(() => own.close());

  it('a tenant admin cannot disable, rename, unlock or reset a platform admin or another tenant’s admin enrolled in their app', async () => {
    const { app: x } = await makeApp(own.deps, { name: 'X', tenantId: (await makeTenant(own, 'TX')).id });
    const tx = x.tenantId!;
    const other = await makeTenant(own, 'TY');
    await makeAdmin(own, 'platform_admin'); // so the last-admin rule is not what refuses
    const { user: p2 } = await makeUser(own.deps);
    await grantTier(own, p2.id, 'platform_admin');
    const { user: foreignTenantAdmin } = await makeUser(own.deps);
    await grantTier(own, foreignTenantAdmin.id, 'tenant_admin', { tenantId: other.id });
    const { user: appAdminOfX } = await makeUser(own.deps);
    await grantTier(own, appAdminOfX.id, 'app_admin', { appId: x.appId });
    for (const u of [p2, foreignTenantAdmin, appAdminOfX]) {
      await own.deps.db.insertInto('memberships').values({ user_id: u.id, app_id: x.appId, roles: [], status: 'active' }).execute();
    }
    const ta = await makeAdmin(own, 'tenant_admin', { tenantId: tx });
    await own.deps.db.insertInto('memberships').values({ user_id: ta.user.id, app_id: x.appId, roles: [], status: 'active' }).execute();
    const xAdmin = await makeAdmin(own, 'app_admin', { appId: x.appId });
    const call = (who: TestAdmin, method: Req['method'], url: string, payload?: object) =>
      own.app.inject({ method, url, headers: who.headers, ...(payload && { payload }) });
    const users = async () => JSON.stringify(await own.deps.db.selectFrom('users').selectAll().orderBy('id').execute());

    const before = await users();
    for (const [who, target] of [
      [ta, p2],
      [ta, foreignTenantAdmin],
      [xAdmin, ta.user],
    ] as const) {
      for (const [method, path, body] of [
        ['POST', 'disable', undefined],
        ['PATCH', '', { display_name: 'Mine now' }],
        ['POST', 'unlock', undefined],
        ['POST', 'send-reset', undefined],
      ] as const) {
        const res = await call(who, method, `/admin/users/${target.id}${path ? `/${path}` : ''}`, body);
        expect(res.statusCode, `${method} ${path} on ${target.email}: ${res.body}`).toBe(403);
      }
    }
    expect(await users()).toBe(before);
    // Within their reach: the tenant admin may disable the app admin of their tenant's app.
    expect((await call(ta, 'POST', `/admin/users/${appAdminOfX.id}/disable`)).statusCode).toBe(200);
  });
});
