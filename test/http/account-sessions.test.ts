import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { makeApp, makeUser } from '../helpers/factories.js';
import { signIn } from '../helpers/sign-in.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx.close());

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const refresh = (refreshToken: string, appId: string) =>
  ctx.app.inject({ method: 'POST', url: '/token/refresh', payload: { refresh_token: refreshToken, app_id: appId } });

describe('GET /api/v1/auth/sessions', () => {
  it("lists the caller's live sign-ins with app and device, one per family", async () => {
    const { app: a1 } = await makeApp(ctx.deps, { name: 'Portal' });
    const { app: a2 } = await makeApp(ctx.deps, { name: 'Billing' });
    const { user, password } = await makeUser(ctx.deps);
    const other = await makeUser(ctx.deps);
    const s1 = await signIn(ctx, a1.appId, user.email, password, { 'user-agent': 'Firefox/140' });
    const s2 = await signIn(ctx, a2.appId, user.email, password, { 'user-agent': 'Safari/18' });
    await signIn(ctx, a1.appId, other.user.email, other.password);
    // A rotation stays within its family: still one session for a1.
    const rotated = await refresh(s1.refreshToken, a1.appId);
    expect(rotated.statusCode).toBe(200);

    const res = await ctx.app.inject({ url: '/api/v1/auth/sessions', headers: bearer(s2.accessToken) });
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const { sessions } = res.json() as { sessions: Record<string, unknown>[] };
    expect(sessions).toHaveLength(2);
    const byApp = Object.fromEntries(sessions.map((s) => [s.app_name, s]));
    expect(byApp.Portal).toMatchObject({ app_id: a1.appId, user_agent: 'Firefox/140', ip: '127.0.0.1' });
    expect(byApp.Portal!.last_used_at).toEqual(expect.any(String));
    expect(byApp.Billing).toMatchObject({ app_id: a2.appId, user_agent: 'Safari/18', last_used_at: null });
    const families = await ctx.deps.db.selectFrom('refresh_tokens').select('family_id').distinct().where('user_id', '=', user.id).execute();
    expect(sessions.map((s) => s.id).sort()).toEqual(families.map((f) => f.family_id).sort());
  });

  it('pages with ?limit and next_cursor: every session once, newest first; a bad cursor or limit is a 400', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    const signIns = [];
    for (let i = 0; i < 5; i++) signIns.push(await signIn(ctx, app.appId, user.email, password, { 'user-agent': `Device ${i}` }));
    const auth = bearer(signIns[0]!.accessToken);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const url: string = `/api/v1/auth/sessions?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const res = await ctx.app.inject({ url, headers: auth });
      expect(res.statusCode).toBe(200);
      const body = res.json() as { sessions: { user_agent: string }[]; next_cursor: string | null };
      expect(body.sessions.length).toBeLessThanOrEqual(2);
      seen.push(...body.sessions.map((x) => x.user_agent));
      cursor = body.next_cursor;
      pages++;
    } while (cursor !== null);
    expect(pages).toBe(3);
    expect(seen).toEqual(['Device 4', 'Device 3', 'Device 2', 'Device 1', 'Device 0']);
    // Without a limit, one page holds them all here (the default page is 50).
    const all = (await ctx.app.inject({ url: '/api/v1/auth/sessions', headers: auth })).json() as {
      sessions: unknown[];
      next_cursor: null;
    };
    expect(all.sessions).toHaveLength(5);
    expect(all.next_cursor).toBeNull();
    for (const q of [
      'cursor=not-ours',
      `cursor=${Buffer.from('x'.repeat(36)).toString('base64url')}`,
      'limit=0',
      'limit=201',
      'limit=abc',
    ]) {
      const bad = await ctx.app.inject({ url: `/api/v1/auth/sessions?${q}`, headers: auth });
      expect(bad.statusCode, q).toBe(400);
      expect(bad.json(), q).toHaveProperty('detail');
    }
  });

  it('requires a valid bearer token, in the {detail} shape', async () => {
    const none = await ctx.app.inject({ url: '/api/v1/auth/sessions' });
    expect(none.statusCode).toBe(401);
    expect(none.json()).toEqual({ detail: 'Missing bearer token' });
    const bad = await ctx.app.inject({ url: '/api/v1/auth/sessions', headers: bearer('abc.def.ghi') });
    expect(bad.statusCode).toBe(401);
    expect(bad.json()).toHaveProperty('detail');
  });
});

describe('DELETE /api/v1/auth/sessions/:id', () => {
  it('ends one of my sessions: its refresh token stops working, the other keeps going', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    const phone = await signIn(ctx, app.appId, user.email, password, { 'user-agent': 'Phone' });
    const laptop = await signIn(ctx, app.appId, user.email, password, { 'user-agent': 'Laptop' });
    const list = (await ctx.app.inject({ url: '/api/v1/auth/sessions', headers: bearer(laptop.accessToken) })).json() as {
      sessions: { id: string; user_agent: string }[];
    };
    const phoneSession = list.sessions.find((s) => s.user_agent === 'Phone')!;

    const del = await ctx.app.inject({
      method: 'DELETE',
      url: `/api/v1/auth/sessions/${phoneSession.id}`,
      headers: bearer(laptop.accessToken),
    });
    expect(del.statusCode).toBe(200);
    expect(del.json()).toEqual({ status: 'ok' });
    expect((await refresh(phone.refreshToken, app.appId)).statusCode).toBe(401);
    expect((await refresh(laptop.refreshToken, app.appId)).statusCode).toBe(200);

    const rows = await ctx.deps.db
      .selectFrom('refresh_tokens')
      .select(['revoked_reason'])
      .where('family_id', '=', phoneSession.id)
      .execute();
    expect(rows.map((r) => r.revoked_reason)).toEqual(['user_signed_out']);
    const audit = await ctx.deps.db
      .selectFrom('audit_events')
      .selectAll()
      .where('user_id', '=', user.id)
      .where('event', '=', 'refresh_token.revoked')
      .execute();
    expect(audit).toHaveLength(1);
    expect(audit[0]!.data).toMatchObject({ familyId: phoneSession.id, actor: 'user', reason: 'user_signed_out' });

    // Already ended: 404 now.
    const again = await ctx.app.inject({
      method: 'DELETE',
      url: `/api/v1/auth/sessions/${phoneSession.id}`,
      headers: bearer(laptop.accessToken),
    });
    expect(again.statusCode).toBe(404);
    expect(again.json()).toEqual({ detail: 'Session not found' });
  });

  it("is 404 for another user's session and leaves it alone", async () => {
    const { app } = await makeApp(ctx.deps);
    const alice = await makeUser(ctx.deps);
    const bob = await makeUser(ctx.deps);
    const a = await signIn(ctx, app.appId, alice.user.email, alice.password);
    const b = await signIn(ctx, app.appId, bob.user.email, bob.password);
    const bobSession = (
      (await ctx.app.inject({ url: '/api/v1/auth/sessions', headers: bearer(b.accessToken) })).json() as { sessions: { id: string }[] }
    ).sessions[0]!;

    const res = await ctx.app.inject({ method: 'DELETE', url: `/api/v1/auth/sessions/${bobSession.id}`, headers: bearer(a.accessToken) });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ detail: 'Session not found' });
    const notUuid = await ctx.app.inject({ method: 'DELETE', url: '/api/v1/auth/sessions/not-a-uuid', headers: bearer(a.accessToken) });
    expect(notUuid.statusCode).toBe(404);
    const row = await ctx.deps.db
      .selectFrom('refresh_tokens')
      .select('revoked_at')
      .where('family_id', '=', bobSession.id)
      .executeTakeFirstOrThrow();
    expect(row.revoked_at).toBeNull();
    expect((await refresh(b.refreshToken, app.appId)).statusCode).toBe(200);
  });
});

describe('DELETE /api/v1/auth/sessions (sign out everywhere)', () => {
  it('revokes every refresh token and SSO session of the user, and nobody else', async () => {
    const { app: a1 } = await makeApp(ctx.deps);
    const { app: a2 } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    const other = await makeUser(ctx.deps);
    const s1 = await signIn(ctx, a1.appId, user.email, password);
    const s2 = await signIn(ctx, a2.appId, user.email, password);
    const o = await signIn(ctx, a1.appId, other.user.email, other.password);

    const res = await ctx.app.inject({ method: 'DELETE', url: '/api/v1/auth/sessions', headers: bearer(s1.accessToken) });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok', revoked_tokens: 2, ended_sso_sessions: 2 });
    expect((await refresh(s1.refreshToken, a1.appId)).statusCode).toBe(401);
    expect((await refresh(s2.refreshToken, a2.appId)).statusCode).toBe(401);
    expect((await refresh(o.refreshToken, a1.appId)).statusCode).toBe(200);

    // The SSO cookie no longer short-circuits /login: the form is shown again.
    const page = await ctx.app.inject({
      url: `/login?app_id=${a1.appId}&redirect_uri=${encodeURIComponent('https://app.example.com/callback')}`,
      headers: { cookie: `km_sso=${s1.sso}` },
    });
    expect(page.statusCode).toBe(200);
    const live = await ctx.deps.db
      .selectFrom('sessions')
      .select('id')
      .where('user_id', '=', user.id)
      .where('revoked_at', 'is', null)
      .execute();
    expect(live).toEqual([]);
    // The access tokens issued before it end too (liveness.ts); the other user's do not.
    const list = await ctx.app.inject({ url: '/api/v1/auth/sessions', headers: bearer(s1.accessToken) });
    expect(list.statusCode).toBe(401);
    expect((await ctx.app.inject({ url: '/api/v1/auth/sessions', headers: bearer(o.accessToken) })).statusCode).toBe(200);
    const audit = await ctx.deps.db
      .selectFrom('audit_events')
      .select(['data'])
      .where('user_id', '=', user.id)
      .where('event', '=', 'user.signed_out_everywhere')
      .execute();
    expect(audit[0]!.data).toMatchObject({ revoked: 2, sessions: 2, actor: 'user' });
  });
});
