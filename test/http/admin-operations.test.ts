// Admin API operations (issue 14): a user's sign-ins and refresh tokens, seed 001's refresh keys,
// audit events, webhooks, signing keys, stats and the logo upload — the happy paths, bad input (a
// 4xx {detail}, nothing written) and an IDOR test per resource: tenant admin A vs tenant B, app admin
// vs another app, a manager's limits, a non-admin token.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admitToApp } from '../../src/domain/memberships/memberships.js';
import { findConsoleAppId } from '../../src/domain/apps/console-app.js';
import type { App } from '../../src/domain/apps/apps.js';
import type { User } from '../../src/domain/users/users.js';
import { LOGO_CSP } from '../../src/http/routes/logos.js';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { bearer, makeAdmin, makeTenant, type TestAdmin } from '../helpers/admin.js';
import { makeApp, makeUser, member } from '../helpers/factories.js';
import { signIn } from '../helpers/sign-in.js';

let ctx: TestContext;
// Tenant A owns appA (and appA2), tenant B owns appB. The user `u` is a member of appA and appB,
// signed in to both; `onlyB` is a member of appB alone.
let appA: App, appA2: App, appB: App;
let u: { user: User; password: string };
let onlyB: { user: User; password: string };
let platform: TestAdmin, tenantA: TestAdmin, tenantB: TestAdmin, adminA: TestAdmin, managerA: TestAdmin, adminB: TestAdmin;
let plainToken: string;

beforeAll(async () => {
  ctx = await createTestContext();
  const [ta, tb] = [await makeTenant(ctx, 'A'), await makeTenant(ctx, 'B')];
  appA = (await makeApp(ctx.deps, { tenantId: ta.id })).app;
  appA2 = (await makeApp(ctx.deps, { tenantId: ta.id })).app;
  appB = (await makeApp(ctx.deps, { tenantId: tb.id })).app;
  u = await makeUser(ctx.deps);
  onlyB = await makeUser(ctx.deps);
  for (const [who, app] of [
    [u, appA],
    [u, appB],
    [onlyB, appB],
  ] as const) {
    await admitToApp(ctx.deps, { userId: who.user.id, appId: app.appId });
    await signIn(ctx, app.appId, who.user.email, who.password);
  }
  platform = await makeAdmin(ctx, 'platform_admin');
  tenantA = await makeAdmin(ctx, 'tenant_admin', { tenantId: ta.id });
  tenantB = await makeAdmin(ctx, 'tenant_admin', { tenantId: tb.id });
  adminA = await makeAdmin(ctx, 'app_admin', { appId: appA.appId });
  managerA = await makeAdmin(ctx, 'manager', { appId: appA.appId });
  adminB = await makeAdmin(ctx, 'app_admin', { appId: appB.appId });
  // A refresh key is its creator's own credential for the app: the app admins are members.
  await member(ctx.deps, adminA.user, appA, ['admin']);
  await member(ctx.deps, adminB.user, appB, ['admin']);
  // A user access token of an ordinary app: not an Admin JWT.
  plainToken = (await signIn(ctx, appA.appId, u.user.email, u.password)).accessToken;
});
afterAll(() => ctx.close());

const get = (url: string, who: TestAdmin) => ctx.app.inject({ url, headers: who.headers });
const send = (method: 'POST' | 'DELETE', url: string, who: TestAdmin, payload?: object) =>
  ctx.app.inject({ method, url, headers: who.headers, ...(payload && { payload }) });

interface TokenJson {
  jti: string;
  app_id: string;
  state: string;
  token_hash: string;
  refresh_key: boolean;
  content: Record<string, unknown>;
}
const tokensOf = async (userId: string, who: TestAdmin, query = ''): Promise<TokenJson[]> => {
  const res = await get(`/admin/users/${userId}/refresh-tokens${query}`, who);
  expect(res.statusCode, res.body).toBe(200);
  return (res.json() as { refresh_tokens: TokenJson[] }).refresh_tokens;
};
const liveRows = async (appId: string, userId: string) =>
  ctx.deps.db
    .selectFrom('refresh_tokens')
    .select('jti')
    .where('app_id', '=', appId)
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .where('rotated_at', 'is', null)
    .execute();

describe('a user’s refresh tokens and sign-ins', () => {
  it('shows every seed-001 field, never the token, and only the apps within reach', async () => {
    const all = await tokensOf(u.user.id, platform);
    expect(new Set(all.map((t) => t.app_id))).toEqual(new Set([appA.appId, appB.appId]));
    const [t] = await tokensOf(u.user.id, tenantA);
    expect(t).toMatchObject({
      audience: appA.appId,
      state: 'active',
      content: { email: u.user.email },
      device_info: { user_agent: expect.any(String) },
      refresh_key: false,
    });
    for (const k of ['expires_at', 'created_at', 'revoked_at', 'last_used_at', 'jti', 'token_hash']) expect(t).toHaveProperty(k);
    expect(t!.token_hash).toMatch(/^[0-9a-f]{12}$/);
    expect(JSON.stringify(all)).not.toMatch(/[0-9a-f]{64}/);
    // Tenant A sees appA's tokens only; app admin B appB's only; ?app_id of another tenant's app: nothing.
    expect((await tokensOf(u.user.id, tenantA)).every((x) => x.app_id === appA.appId)).toBe(true);
    expect((await tokensOf(u.user.id, adminB)).every((x) => x.app_id === appB.appId)).toBe(true);
    expect(await tokensOf(u.user.id, tenantA, `?app_id=${appB.appId}`)).toEqual([]);
    expect((await tokensOf(u.user.id, platform, `?app_id=${appB.appId}&active=true`)).map((x) => x.app_id)).toEqual([appB.appId]);
  });

  it('pages with a cursor and refuses a forged one (400 {detail})', async () => {
    const first = await get(`/admin/users/${u.user.id}/refresh-tokens?limit=1`, platform);
    const next = (first.json() as { next_cursor: string }).next_cursor;
    expect(next).toEqual(expect.any(String));
    const second = await get(`/admin/users/${u.user.id}/refresh-tokens?limit=1&cursor=${next}`, platform);
    expect((second.json() as { refresh_tokens: TokenJson[] }).refresh_tokens[0]!.jti).not.toBe(
      (first.json() as { refresh_tokens: TokenJson[] }).refresh_tokens[0]!.jti,
    );
    const bad = await get(`/admin/users/${u.user.id}/refresh-tokens?cursor=not-ours`, platform);
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toHaveProperty('detail');
    expect((await get(`/admin/users/not-a-uuid/refresh-tokens`, platform)).statusCode).toBe(400);
  });

  it('a user outside reach is 404 for every user route (tenant A vs a user only in tenant B)', async () => {
    for (const path of ['sessions', 'refresh-tokens']) {
      const res = await get(`/admin/users/${onlyB.user.id}/${path}`, tenantA);
      expect(res.statusCode).toBe(404);
      expect(res.json()).toHaveProperty('detail');
    }
    expect((await send('POST', `/admin/users/${onlyB.user.id}/sign-out-everywhere`, adminA)).statusCode).toBe(404);
    expect(await liveRows(appB.appId, onlyB.user.id)).toHaveLength(1);
  });

  it('revoking a token of another tenant’s app is 404 and changes nothing; a manager may revoke in their app', async () => {
    const [bToken] = await tokensOf(u.user.id, platform, `?app_id=${appB.appId}&active=true`);
    for (const who of [tenantA, adminA, managerA]) {
      const res = await send('DELETE', `/admin/refresh-tokens/${bToken!.jti}`, who);
      expect(res.statusCode).toBe(404);
    }
    expect(await liveRows(appB.appId, u.user.id)).toHaveLength(1);

    const before = await liveRows(appA.appId, u.user.id);
    expect(before.length).toBeGreaterThan(0);
    const res = await send('DELETE', `/admin/refresh-tokens/${before[0]!.jti}`, managerA);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ status: 'ok', revoked: 1 });
    expect(await liveRows(appA.appId, u.user.id)).toHaveLength(before.length - 1);
    const audit = await ctx.deps.db
      .selectFrom('audit_events')
      .selectAll()
      .where('event', '=', 'refresh_token.revoked')
      .where('app_id', '=', appA.appId)
      .orderBy('id', 'desc')
      .executeTakeFirstOrThrow();
    expect(audit.data).toMatchObject({ actor: 'admin', actor_id: managerA.user.id, source: 'admin_api', reason: 'admin' });
  });

  it('lists and ends sign-ins; another app’s sign-in is 404', async () => {
    await signIn(ctx, appA.appId, u.user.email, u.password);
    const list = await get(`/admin/users/${u.user.id}/sessions`, adminA);
    expect(list.statusCode).toBe(200);
    const sessions = (list.json() as { sessions: { id: string; app_id: string }[] }).sessions;
    expect(sessions.length).toBeGreaterThan(0);
    expect(sessions.every((x) => x.app_id === appA.appId)).toBe(true);
    const bSession = ((await get(`/admin/users/${u.user.id}/sessions`, adminB)).json() as { sessions: { id: string }[] }).sessions[0]!;
    expect((await send('DELETE', `/admin/users/${u.user.id}/sessions/${bSession.id}`, adminA)).statusCode).toBe(404);
    const ended = await send('DELETE', `/admin/users/${u.user.id}/sessions/${sessions[0]!.id}`, managerA);
    expect(ended.statusCode, ended.body).toBe(200);
    expect((await send('DELETE', `/admin/users/${u.user.id}/sessions/${sessions[0]!.id}`, managerA)).statusCode).toBe(404);
  });

  it('sign-out-everywhere by a tenant admin ends that tenant’s sign-ins only; a platform admin’s ends all', async () => {
    await signIn(ctx, appA.appId, u.user.email, u.password);
    const res = await send('POST', `/admin/users/${u.user.id}/sign-out-everywhere`, tenantA);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ status: 'ok', apps: [appA.appId] });
    expect(await liveRows(appA.appId, u.user.id)).toEqual([]);
    expect(await liveRows(appB.appId, u.user.id)).toHaveLength(1);
    const all = await send('POST', `/admin/users/${u.user.id}/sign-out-everywhere`, platform);
    expect(all.json()).toMatchObject({ status: 'ok', apps: null });
    expect(await liveRows(appB.appId, u.user.id)).toEqual([]);
    await signIn(ctx, appB.appId, u.user.email, u.password);
  });
});

describe('seed 001 refresh keys', () => {
  const keysUrl = () => `/admin/apps/${appA.appId}/refresh-keys`;

  it('creates a key once for the audience and lifetime; it is listed with seed 001’s fields and refreshes', async () => {
    const res = await send('POST', keysUrl(), adminA, { audience: appA.appId, lifetime: '1h' });
    expect(res.statusCode, res.body).toBe(201);
    const key = res.json() as { refresh_token: string; jti: string; created_at: string; expires_at: string; lifetime_seconds: number };
    expect(key.refresh_token).toMatch(/^[0-9a-f]{64}$/);
    expect(Date.parse(key.expires_at) - Date.parse(key.created_at)).toBe(3600_000);
    const list = await get(`${keysUrl()}?keys_only=true`, managerA);
    const [listed] = (list.json() as { refresh_tokens: TokenJson[] }).refresh_tokens;
    expect(listed).toMatchObject({ jti: key.jti, refresh_key: true, content: { email: adminA.user.email, roles: ['admin'] } });
    expect(list.body).not.toContain(key.refresh_token);
    const row = await ctx.deps.db.selectFrom('refresh_tokens').selectAll().where('jti', '=', key.jti).executeTakeFirstOrThrow();
    expect(row.issued_by).toBe(adminA.user.id);
    expect(row.family_expires_at?.toISOString()).toBe(key.expires_at);

    // It refreshes like any refresh token (rotation: a new one comes back)...
    const refresh = (token: string) =>
      ctx.app.inject({ method: 'POST', url: '/token/refresh', payload: { refresh_token: token, app_id: appA.appId } });
    const used = await refresh(key.refresh_token);
    expect(used.statusCode, used.body).toBe(200);
    const next = (used.json() as { refresh_token: string }).refresh_token;
    // ...and a manager may revoke it (its family): then the rotated one no longer refreshes either.
    const revoked = await send('DELETE', `${keysUrl()}/${key.jti}`, managerA);
    expect(revoked.statusCode, revoked.body).toBe(200);
    expect((await refresh(next)).statusCode).toBe(401);
  });

  it('refuses bad input with 400 {detail} and writes nothing', async () => {
    const count = async () =>
      Number(
        (
          await ctx.deps.db
            .selectFrom('refresh_tokens')
            .select((eb) => eb.fn.countAll().as('n'))
            .where('app_id', '=', appA.appId)
            .executeTakeFirstOrThrow()
        ).n,
      );
    const before = await count();
    for (const body of [
      { audience: appA.appId, lifetime: '0d' },
      { audience: appA.appId, lifetime: '400d' },
      { audience: appA.appId, lifetime: 'forever' },
      { audience: appB.appId, lifetime: '1h' },
      { audience: 'https://api.example.com', lifetime: 3600 },
      { lifetime: 3600 },
    ]) {
      const res = await send('POST', keysUrl(), adminA, body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json()).toHaveProperty('detail');
    }
    expect(await count()).toBe(before);
  });

  it('the Console app takes no refresh key, even from a platform admin (a year of Admin JWTs): 400, nothing written', async () => {
    const consoleApp = (await findConsoleAppId(ctx.deps))!;
    const rows = async () =>
      (await ctx.deps.db.selectFrom('refresh_tokens').select('jti').where('app_id', '=', consoleApp).execute()).length;
    const before = await rows();
    const res = await send('POST', `/admin/apps/${consoleApp}/refresh-keys`, platform, { audience: consoleApp, lifetime: '1h' });
    expect(res.statusCode, res.body).toBe(400);
    expect((res.json() as { detail: string }).detail).toMatch(/Console app takes no refresh keys/);
    expect(await rows()).toBe(before);
  });

  it('a manager may not create one (403); another tenant or app is 404; a key of appB is not revoked through appA', async () => {
    expect((await send('POST', keysUrl(), managerA, { audience: appA.appId, lifetime: '1h' })).statusCode).toBe(403);
    // A tenant admin who is not a member of the app gets no key: it could never refresh.
    const notMember = await send('POST', keysUrl(), tenantA, { audience: appA.appId, lifetime: '1h' });
    expect(notMember.statusCode).toBe(403);
    expect(notMember.json()).toEqual({ detail: 'You do not have access' });
    for (const who of [tenantB, adminB]) {
      expect((await send('POST', keysUrl(), who, { audience: appA.appId, lifetime: '1h' })).statusCode).toBe(404);
      expect((await get(keysUrl(), who)).statusCode).toBe(404);
    }
    const keyB = (
      await send('POST', `/admin/apps/${appB.appId}/refresh-keys`, adminB, { audience: appB.appId, lifetime: '1h' })
    ).json() as {
      jti: string;
    };
    expect((await send('DELETE', `${keysUrl()}/${keyB.jti}`, adminA)).statusCode).toBe(404);
    expect((await send('DELETE', `/admin/refresh-tokens/${keyB.jti}`, adminA)).statusCode).toBe(404);
    expect((await send('DELETE', `/admin/refresh-tokens/${keyB.jti}`, adminB)).statusCode).toBe(200);
  });
});

describe('audit events', () => {
  interface Ev {
    id: number;
    app_id: string | null;
    event: string;
  }
  it('a tenant admin sees only their apps’ events; filters and pages with a cursor', async () => {
    const mine = ((await get(`/admin/audit-events?limit=200`, tenantA)).json() as { events: Ev[] }).events;
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.every((e) => e.app_id === appA.appId || e.app_id === appA2.appId)).toBe(true);
    const theirs = ((await get(`/admin/audit-events?app_id=${appB.appId}`, tenantA)).json() as { events: Ev[] }).events;
    expect(theirs).toEqual([]);
    const all = ((await get(`/admin/audit-events?app_id=${appB.appId}`, platform)).json() as { events: Ev[] }).events;
    expect(all.length).toBeGreaterThan(0);

    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const res = await get(`/admin/audit-events?app_id=${appA.appId}&limit=2${cursor ? `&cursor=${cursor}` : ''}`, adminA);
      const body = res.json() as { events: Ev[]; next_cursor: string | null };
      seen.push(...body.events.map((e) => e.id));
      cursor = body.next_cursor;
    } while (cursor);
    expect(seen).toEqual([...seen].sort((a, b) => b - a));
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('filters by event and time window; bad values are 400', async () => {
    const since = new Date(Date.now() - 3600_000).toISOString();
    const res = await get(`/admin/audit-events?event=login.success&since=${since}&user_id=${u.user.id}`, platform);
    expect(res.statusCode).toBe(200);
    expect((res.json() as { events: Ev[] }).events.every((e) => e.event === 'login.success')).toBe(true);
    for (const q of ['since=yesterday', 'user_id=42', 'limit=0', 'limit=5000', 'cursor=%27%20or%201%3D1']) {
      expect((await get(`/admin/audit-events?${q}`, platform)).statusCode, q).toBe(400);
    }
  });
});

describe('webhooks', () => {
  it('creates one in Keymaster’s shape (secret shown once), lists, pings and shows deliveries with status', async () => {
    const res = await send('POST', `/admin/apps/${appA.appId}/webhooks`, adminA, {
      url: 'https://hooks.example.com/km',
      events: ['user.login', 'user.logout'],
    });
    expect(res.statusCode, res.body).toBe(201);
    const hook = res.json() as { id: string; secret: string; url: string; events: string[] };
    expect(Object.keys(hook).sort()).toEqual(['events', 'id', 'secret', 'url']);
    expect(hook.secret).toMatch(/^[0-9a-f]{64}$/);
    const list = await get(`/admin/apps/${appA.appId}/webhooks`, managerA);
    expect(list.statusCode).toBe(200);
    expect(list.body).toContain(hook.id);
    expect(list.body).not.toContain(hook.secret);
    const ping = await send('POST', `/admin/webhooks/${hook.id}/ping`, adminA);
    expect(ping.statusCode, ping.body).toBe(202);
    const deliveries = await get(`/admin/webhooks/${hook.id}/deliveries`, managerA);
    expect(deliveries.json()).toMatchObject({ deliveries: [{ event: 'ping', status: 'pending', attempts: 0 }], next_cursor: null });

    // Another tenant or app: 404 for each; a manager may not change webhooks.
    for (const who of [tenantB, adminB]) {
      expect((await get(`/admin/webhooks/${hook.id}/deliveries`, who)).statusCode).toBe(404);
      expect((await send('POST', `/admin/webhooks/${hook.id}/ping`, who)).statusCode).toBe(404);
      expect((await send('DELETE', `/admin/webhooks/${hook.id}`, who)).statusCode).toBe(404);
      expect((await get(`/admin/apps/${appA.appId}/webhooks`, who)).statusCode).toBe(404);
    }
    expect((await send('DELETE', `/admin/webhooks/${hook.id}`, managerA)).statusCode).toBe(403);
    expect(
      (await send('POST', `/admin/apps/${appA.appId}/webhooks`, managerA, { url: 'https://x.example.com', events: ['ping'] })).statusCode,
    ).toBe(403);
    expect((await send('DELETE', `/admin/webhooks/${hook.id}`, tenantA)).statusCode).toBe(200);
    expect(await ctx.deps.db.selectFrom('webhooks').select('id').where('id', '=', hook.id).execute()).toEqual([]);
  });

  it('refuses bad input (400 {detail}) and writes nothing', async () => {
    for (const body of [
      { url: 'ftp://x.example.com', events: ['ping'] },
      { url: 'https://x.example.com', events: [] },
      { url: 'https://x.example.com', events: ['user.hacked'] },
      { url: 'https://127.0.0.1/hook', events: ['ping'] },
      { url: 'not a url', events: ['ping'] },
    ]) {
      const res = await send('POST', `/admin/apps/${appA2.appId}/webhooks`, tenantA, body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json()).toHaveProperty('detail');
    }
    expect(await ctx.deps.db.selectFrom('webhooks').select('id').where('app_id', '=', appA2.appId).execute()).toEqual([]);
  });
});

describe('signing keys', () => {
  it('platform admins list and rotate (immediately: active at once, with a warning); others get 403', async () => {
    const list = await get('/admin/keys', platform);
    expect(list.statusCode).toBe(200);
    expect((list.json() as { keys: { state: string }[] }).keys.some((k) => k.state === 'active')).toBe(true);
    const later = await send('POST', '/admin/keys/rotate', platform, {});
    expect(later.json()).toMatchObject({ state: 'next', warning: null });
    const now = await send('POST', '/admin/keys/rotate', platform, { immediately: true });
    expect(now.statusCode, now.body).toBe(200);
    const rotated = now.json() as { kid: string; state: string; warning: string };
    expect(rotated).toMatchObject({ state: 'active', warning: expect.stringContaining('JWKS') });
    expect(ctx.deps.keys.active.kid).toBe(rotated.kid);
    for (const who of [tenantA, adminA, managerA]) {
      expect((await get('/admin/keys', who)).statusCode).toBe(403);
      expect((await send('POST', '/admin/keys/rotate', who, { immediately: true })).statusCode).toBe(403);
    }
    expect((await send('POST', '/admin/keys/rotate', platform, { immediately: 'yes' })).statusCode).toBe(400);
  });
});

describe('stats', () => {
  it('counts what the admin sees', async () => {
    const a = (await get('/admin/stats', adminA)).json() as Record<string, number>;
    // appA's members: the user and its app admin.
    expect(a).toMatchObject({ apps: 1, users: 2, last_24h: expect.any(Object) });
    const t = (await get('/admin/stats', tenantA)).json() as Record<string, number>;
    expect(t.apps).toBe(2);
    const p = (await get('/admin/stats', platform)).json() as Record<string, number>;
    expect(p.apps).toBeGreaterThanOrEqual(3);
    expect(p.users).toBeGreaterThan(t.users!);
  });
});

describe('the logo upload', () => {
  const PNG = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]),
    Buffer.from('IHDR'),
    Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89]),
    Buffer.from([0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]),
  ]);
  const upload = (appId: string, who: TestAdmin, bytes: Buffer, filename = 'logo.png', type = 'image/png', field = 'file') => {
    const boundary = '----km-test-boundary';
    const body = Buffer.concat([
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${filename}"\r\nContent-Type: ${type}\r\n\r\n`,
      ),
      bytes,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    return ctx.app.inject({
      method: 'POST',
      url: `/admin/apps/${appId}/logo`,
      headers: { ...who.headers, 'content-type': `multipart/form-data; boundary=${boundary}` },
      payload: body,
    });
  };

  it('stores a PNG, serves it from our origin with a strong ETag and nosniff, and the login page shows it', async () => {
    const res = await upload(appA.appId, adminA, PNG);
    expect(res.statusCode, res.body).toBe(200);
    const saved = res.json() as { logo_url: string; content_type: string };
    expect(saved).toMatchObject({ content_type: 'image/png', logo_url: `${ctx.deps.config.issuer}/logos/${appA.appId}` });
    const logo = await ctx.app.inject({ url: `/logos/${appA.appId}` });
    expect(logo.statusCode).toBe(200);
    expect(logo.headers['content-type']).toBe('image/png');
    expect(logo.headers['x-content-type-options']).toBe('nosniff');
    expect(logo.headers.etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    expect(logo.rawPayload.equals(PNG)).toBe(true);
    const again = await ctx.app.inject({ url: `/logos/${appA.appId}`, headers: { 'if-none-match': logo.headers.etag as string } });
    expect(again.statusCode).toBe(304);
    const page = await ctx.app.inject({
      url: `/login?app_id=${appA.appId}&redirect_uri=${encodeURIComponent('https://app.example.com/callback')}`,
    });
    expect(page.body).toContain(`src="${saved.logo_url}"`);
    expect(String(page.headers['content-security-policy'])).toMatch(/img-src 'self'/);
  });

  it('serves an SVG with script under the sandbox CSP, so the script never runs', async () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>');
    const res = await upload(appA2.appId, tenantA, svg, 'logo.svg', 'image/svg+xml');
    expect(res.statusCode, res.body).toBe(200);
    const logo = await ctx.app.inject({ url: `/logos/${appA2.appId}` });
    expect(logo.headers['content-type']).toBe('image/svg+xml');
    expect(logo.headers['content-security-policy']).toBe(LOGO_CSP);
    expect(LOGO_CSP).toContain('sandbox');
    expect(LOGO_CSP).toContain("default-src 'none'");
  });

  it('refuses a text file named .png, a file over 2 MB (413), a wrong field; writes nothing', async () => {
    const { app: fresh } = await makeApp(ctx.deps);
    const admin = await makeAdmin(ctx, 'app_admin', { appId: fresh.appId });
    const text = await upload(fresh.appId, admin, Buffer.from('just some text, honestly'), 'logo.png', 'image/png');
    expect(text.statusCode).toBe(400);
    expect(text.json()).toEqual({ detail: 'The logo must be a PNG, JPEG or SVG image' });
    const big = await upload(fresh.appId, admin, Buffer.concat([PNG, Buffer.alloc(2 * 1024 * 1024)]));
    expect(big.statusCode).toBe(413);
    expect(big.json()).toHaveProperty('detail');
    expect((await upload(fresh.appId, admin, PNG, 'logo.png', 'image/png', 'image')).statusCode).toBe(400);
    const json = await send('POST', `/admin/apps/${fresh.appId}/logo`, admin, { file: 'x' });
    expect(json.statusCode).toBe(400);
    const row = await ctx.deps.db
      .selectFrom('apps')
      .select(['logo_data', 'logo_url'])
      .where('app_id', '=', fresh.appId)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ logo_data: null, logo_url: null });
    expect((await ctx.app.inject({ url: `/logos/${fresh.appId}` })).statusCode).toBe(404);
  });

  it('a manager may not upload (403); another tenant or app is 404', async () => {
    expect((await upload(appA.appId, managerA, PNG)).statusCode).toBe(403);
    expect((await upload(appA.appId, tenantB, PNG)).statusCode).toBe(404);
    expect((await upload(appA.appId, adminB, PNG)).statusCode).toBe(404);
  });
});

describe('a token that is not an Admin JWT', () => {
  it('is refused on every operations route (401), and none is reached without a token', async () => {
    const routes: [string, string][] = [
      ['GET', `/admin/users/${u.user.id}/sessions`],
      ['GET', `/admin/users/${u.user.id}/refresh-tokens`],
      ['POST', `/admin/users/${u.user.id}/sign-out-everywhere`],
      ['DELETE', `/admin/refresh-tokens/${u.user.id}`],
      ['GET', `/admin/apps/${appA.appId}/refresh-keys`],
      ['POST', `/admin/apps/${appA.appId}/refresh-keys`],
      ['GET', '/admin/audit-events'],
      ['GET', `/admin/apps/${appA.appId}/webhooks`],
      ['POST', `/admin/apps/${appA.appId}/webhooks`],
      ['GET', '/admin/keys'],
      ['POST', '/admin/keys/rotate'],
      ['GET', '/admin/stats'],
      ['POST', `/admin/apps/${appA.appId}/logo`],
    ];
    for (const [method, url] of routes) {
      for (const headers of [bearer(plainToken), {}]) {
        const res = await ctx.app.inject({ method: method as 'GET', url, headers, ...(method === 'POST' && { payload: {} }) });
        expect(res.statusCode, `${method} ${url}`).toBe(401);
      }
    }
  });
});
