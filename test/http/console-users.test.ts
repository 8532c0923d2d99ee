// The Console's Users screens (issue 15) through app.inject, signed in through the hosted login: list
// with a prefix search and cursor pages, create, invite, a user's page (roles per app, approve,
// suspend and reactivate, disable and enable, unlock, a reset email, delete), their sessions and
// refresh tokens with a revoke. Each change: the page, the row in the DB, the audit event naming the
// signed-in admin, the CSRF refusal; and the tier boundaries, direct URLs included (a 404 page, and
// nothing changes).
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { enrol, makeAdminWorld, snapshot, type AdminWorld } from '../helpers/admin-world.js';
import { DEFAULT_PASSWORD, makeUser } from '../helpers/factories.js';
import { consoleSignIn, type ConsoleBrowser } from './console-helpers.js';

let ctx: TestContext;
let w: AdminWorld;
let platform: ConsoleBrowser;
beforeAll(async () => {
  ctx = await createTestContext();
  w = await makeAdminWorld(ctx);
  // A1 offers more roles than it gives by default (a manager may invite with `user` only).
  await ctx.deps.db
    .updateTable('apps')
    .set({ available_roles: ['user', 'editor', 'admin'] })
    .where('app_id', '=', w.a1.appId)
    .execute();
  platform = (await consoleSignIn(ctx, { email: w.platform.user.email, password: w.platform.password })).browser;
});
afterAll(async () => ctx?.close());

const signIn = async (a: { user: { email: string }; password: string }) =>
  (await consoleSignIn(ctx, { email: a.user.email, password: a.password })).browser;

/**
 * The newest audit event `event` about the user (or app): it must name `actorId` as the acting admin.
 * Polled briefly: a reset email's event is written by the background job that sends it.
 */
async function expectAudited(event: string, where: { userId?: string; appId?: string }, actorId: string) {
  const newest = () => {
    let q = ctx.deps.db.selectFrom('audit_events').selectAll().where('event', '=', event);
    if (where.userId) q = q.where('user_id', '=', where.userId);
    if (where.appId) q = q.where('app_id', '=', where.appId);
    return q.orderBy('id', 'desc').executeTakeFirst();
  };
  await expect.poll(async () => (await newest()) !== undefined, { timeout: 5000, message: event }).toBe(true);
  expect((await newest())!.data).toMatchObject({ actor: 'admin', actor_id: actorId, source: 'admin_api' });
}

const membership = (userId: string, appId: string) =>
  ctx.deps.db.selectFrom('memberships').selectAll().where('user_id', '=', userId).where('app_id', '=', appId).executeTakeFirst();
const userRow = (id: string) => ctx.deps.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();

/** A user enrolled in A1 (and more apps), fresh for each test that changes them. */
async function a1User(roles = ['user'], more: string[] = []) {
  const made = await makeUser(ctx.deps);
  await enrol(ctx, made.user.id, w.a1.appId, roles);
  for (const appId of more) await enrol(ctx, made.user.id, appId);
  return made;
}

/** Signs the user in to an app through the account API: a live session with a refresh token. */
async function appSignIn(email: string, password: string, appId: string): Promise<{ refresh_token: string }> {
  const res = await ctx.app.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    headers: { 'user-agent': 'Journey/1.0 (test)' },
    payload: { email, password, app_id: appId },
  });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

function expectNotFoundPage(res: LightMyRequestResponse, what: string) {
  expect(res.statusCode, what).toBe(404);
  expect(res.body, what).toContain('There is nothing here, or it is not yours to see.');
}

describe('Console users: list, search, pages', () => {
  it('lists users with links to their pages, searches by prefix, and pages with a cursor in the next link', async () => {
    const list = await platform.get('/console/users');
    expect(list.statusCode).toBe(200);
    expect(list.body).toMatch(/<a href="\/console\/users"[^>]*aria-current="page"/);
    expect(list.body).toContain(`href="/console/users/${w.uA1.id}"`);
    expect(list.body).toContain('href="/console/users/new"');
    expect(list.body).toContain('href="/console/users/invite"');
    // 55 users whose email starts with the same prefix: a first page of 50 and a next link.
    const prefix = `pager-${Date.now()}`;
    await ctx.deps.db
      .insertInto('users')
      .values(Array.from({ length: 55 }, (_, i) => ({ email: `${prefix}-${String(i).padStart(2, '0')}@example.com`, name: null })))
      .execute();
    const first = await platform.get(`/console/users?search=${prefix}`);
    expect(first.statusCode).toBe(200);
    expect(first.body.match(new RegExp(`${prefix}-\\d\\d@example.com</a>`, 'g'))).toHaveLength(50);
    expect(first.body).not.toContain(`href="/console/users/${w.uA1.id}"`);
    const next = /href="(\/console\/users\?search=[^"]+&amp;cursor=[A-Za-z0-9_-]+)"/.exec(first.body)![1]!.replaceAll('&amp;', '&');
    const second = await platform.get(next);
    expect(second.statusCode).toBe(200);
    expect(second.body.match(new RegExp(`${prefix}-\\d\\d@example.com</a>`, 'g'))).toHaveLength(5);
    expect(second.body).not.toContain('Next page');
    expect(second.body).toContain(`href="/console/users?search=${prefix}"`);
    const none = await platform.get('/console/users?search=nobody-starts-like-this');
    expect(none.body).toContain('No user');
    // A cursor that is not one is refused by the page's schema, not a 500.
    expect((await platform.get('/console/users?cursor=%27%3B--')).statusCode).toBe(400);
  });
});

describe('Console users: create and invite', () => {
  it('creates a user (platform admin), audited, and shows refusals next to their field', async () => {
    const form = await platform.get('/console/users/new');
    expect(form.statusCode).toBe(200);
    const email = `created-${Date.now()}@example.com`;
    const before = await snapshot(ctx, 'users');
    expect((await platform.post('/console/users/new', { email, display_name: 'New Person' })).statusCode).toBe(403);
    const bad = await platform.post('/console/users/new', { email: 'not-an-email', display_name: 'X' }, form);
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toMatch(/<input id="email"[^>]*aria-invalid="true"/);
    expect(bad.body).toMatch(/<p class="field-error" id="email-error">[^<]+<\/p>/);
    expect(bad.body).toContain('value="not-an-email"');
    expect(await snapshot(ctx, 'users')).toBe(before);
    const res = await platform.post('/console/users/new', { email, display_name: 'New Person', email_verified: 'on' }, form);
    expect(res.statusCode).toBe(303);
    const row = await ctx.deps.db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirstOrThrow();
    expect(res.headers.location).toBe(`/console/users/${row.id}`);
    expect(row.name).toBe('New Person');
    expect(row.email_verified_at).not.toBeNull();
    await expectAudited('user.created', { userId: row.id }, w.platform.user.id);
    const again = await platform.post('/console/users/new', { email, display_name: 'Twice' }, form);
    expect(again.statusCode).toBe(400);
    expect(again.body).toMatch(/id="email-error">[^<]*already/);
  });

  it('invites an email to an app with roles and an expiry; the link is shown once, no-store; audited', async () => {
    const form = await platform.get('/console/users/invite');
    expect(form.statusCode).toBe(200);
    expect(form.body).toContain(`<option value="${w.a1.appId}"`);
    expect(form.body).not.toMatch(/<option value="[^"]+"[^>]*>Keymaster Console</);
    const email = `invitee-${Date.now()}@example.com`;
    const fields = { email, app_id: w.a1.appId, roles: 'user editor', expires_in_hours: '48' };
    const before = await snapshot(ctx, 'invites');
    expect((await platform.post('/console/users/invite', fields)).statusCode).toBe(403);
    const badHours = await platform.post('/console/users/invite', { ...fields, expires_in_hours: 'two days' }, form);
    expect(badHours.statusCode).toBe(400);
    expect(badHours.body).toContain('id="expires_in_hours-error">must be a whole number of hours');
    const badRole = await platform.post('/console/users/invite', { ...fields, roles: 'user wizard' }, form);
    expect(badRole.statusCode).toBe(400);
    expect(badRole.body).toMatch(/id="roles-error">[^<]*wizard/);
    expect(await snapshot(ctx, 'invites')).toBe(before);
    const res = await platform.post('/console/users/invite', fields, form);
    expect(res.statusCode).toBe(201);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers.location).toBeUndefined();
    const link = /<code id="invite-link"[^>]*>([^<]+)<\/code>/.exec(res.body)![1]!.replaceAll('&amp;', '&');
    expect(new URL(link).pathname).toBe('/invite');
    const invite = await ctx.deps.db.selectFrom('invites').selectAll().where('email', '=', email).executeTakeFirstOrThrow();
    expect(invite).toMatchObject({ app_id: w.a1.appId, roles: ['user', 'editor'] });
    const hours = (new Date(invite.expires_at).getTime() - new Date(invite.created_at).getTime()) / 3_600_000;
    expect(Math.round(hours)).toBe(48);
    await expectAudited('invite.created', { appId: w.a1.appId }, w.platform.user.id);
  });
});

describe("Console users: a user's page", () => {
  it('shows the profile and each membership with the app roles as checkboxes; saves roles, audited', async () => {
    const { user } = await a1User(['user'], [w.b1.appId]);
    const page = await platform.get(`/console/users/${user.id}`);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain(user.email);
    expect(page.body).toContain('<legend>Roles in A1</legend>');
    expect(page.body).toContain('<legend>Roles in B1</legend>');
    for (const r of ['user', 'editor', 'admin']) expect(page.body).toContain(`name="roles" value="${r}"`);
    const action = `/console/users/${user.id}/apps/${w.a1.appId}/roles`;
    expect(page.body).toContain(`action="${action}"`);
    expect((await platform.post(action, { roles: 'editor' })).statusCode).toBe(403);
    const saved = await ctx.app.inject({
      method: 'POST',
      url: action,
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: platform.jar.header() },
      payload: `_csrf=${encodeURIComponent(/name="_csrf" value="([^"]+)"/.exec(page.body)![1]!)}&roles=user&roles=editor`,
    });
    expect(saved.statusCode).toBe(303);
    expect(saved.headers.location).toBe(`/console/users/${user.id}?done=roles&app=${w.a1.appId}`);
    expect((await membership(user.id, w.a1.appId))!.roles).toEqual(['user', 'editor']);
    await expectAudited('user.role_changed', { userId: user.id, appId: w.a1.appId }, w.platform.user.id);
    expect((await platform.get(saved.headers.location as string)).body).toContain('The roles in A1 were saved.');
    // A role the app does not offer: the refusal next to that app's roles, nothing changed.
    const before = await snapshot(ctx, 'memberships');
    const bad = await platform.post(action, { roles: 'wizard' }, page);
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toMatch(new RegExp(`<p class="field-error" id="roles-${w.a1.appId}-error">[^<]+</p>`));
    expect(await snapshot(ctx, 'memberships')).toBe(before);
  });

  it('approves a pending membership, suspends and reactivates per app (other apps untouched), audited', async () => {
    const { user } = await a1User(['user'], [w.b1.appId]);
    await ctx.deps.db
      .updateTable('memberships')
      .set({ status: 'pending' })
      .where('user_id', '=', user.id)
      .where('app_id', '=', w.a1.appId)
      .execute();
    let page = await platform.get(`/console/users/${user.id}`);
    const base = `/console/users/${user.id}/apps/${w.a1.appId}`;
    expect(page.body).toContain(`action="${base}/approve"`);
    expect((await platform.post(`${base}/approve`, {})).statusCode).toBe(403);
    expect((await membership(user.id, w.a1.appId))!.status).toBe('pending');
    expect((await platform.post(`${base}/approve`, {}, page)).statusCode).toBe(303);
    expect((await membership(user.id, w.a1.appId))!.status).toBe('active');
    await expectAudited('user.approved', { userId: user.id, appId: w.a1.appId }, w.platform.user.id);
    page = await platform.get(`/console/users/${user.id}`);
    expect((await platform.post(`${base}/suspend`, {})).statusCode).toBe(403);
    expect((await platform.post(`${base}/suspend`, {}, page)).statusCode).toBe(303);
    expect((await membership(user.id, w.a1.appId))!.status).toBe('suspended');
    expect((await membership(user.id, w.b1.appId))!.status).toBe('active');
    await expectAudited('user.suspended', { userId: user.id, appId: w.a1.appId }, w.platform.user.id);
    page = await platform.get(`/console/users/${user.id}?done=suspend&app=${w.a1.appId}`);
    expect(page.body).toContain('The user was suspended in A1.');
    expect(page.body).toContain(`action="${base}/activate"`);
    expect((await platform.post(`${base}/activate`, {}, page)).statusCode).toBe(303);
    expect((await membership(user.id, w.a1.appId))!.status).toBe('active');
    await expectAudited('user.reactivated', { userId: user.id, appId: w.a1.appId }, w.platform.user.id);
    // Approving what is not pending: the refusal next to that membership, nothing changed.
    const before = await snapshot(ctx, 'memberships');
    const again = await platform.post(`${base}/approve`, {}, page);
    expect(again.statusCode).toBe(409);
    expect(again.body).toContain(`id="status-${w.a1.appId}-error"`);
    expect(await snapshot(ctx, 'memberships')).toBe(before);
  });

  it('disables (after a confirmation page) and enables the account, unlocks, sends a reset email; audited', async () => {
    const { user } = await a1User();
    const confirm = await platform.get(`/console/users/${user.id}/disable`);
    expect(confirm.statusCode).toBe(200);
    expect(confirm.body).toContain(`action="/console/users/${user.id}/disable"`);
    expect((await platform.post(`/console/users/${user.id}/disable`, {})).statusCode).toBe(403);
    expect((await userRow(user.id))!.disabled_at).toBeNull();
    expect((await platform.post(`/console/users/${user.id}/disable`, {}, confirm)).statusCode).toBe(303);
    expect((await userRow(user.id))!.disabled_at).not.toBeNull();
    await expectAudited('user.updated', { userId: user.id }, w.platform.user.id);
    let page = await platform.get(`/console/users/${user.id}?done=disable`);
    expect(page.body).toContain('The account was disabled');
    expect(page.body).toContain(`action="/console/users/${user.id}/enable"`);
    expect((await platform.post(`/console/users/${user.id}/enable`, {}, page)).statusCode).toBe(303);
    expect((await userRow(user.id))!.disabled_at).toBeNull();

    await ctx.deps.db
      .updateTable('users')
      .set({ locked_until: new Date(Date.now() + 3600_000), failed_logins: 9 })
      .where('id', '=', user.id)
      .execute();
    page = await platform.get(`/console/users/${user.id}`);
    expect(page.body).toContain(`action="/console/users/${user.id}/unlock"`);
    expect((await platform.post(`/console/users/${user.id}/unlock`, {})).statusCode).toBe(403);
    expect((await platform.post(`/console/users/${user.id}/unlock`, {}, page)).statusCode).toBe(303);
    expect((await userRow(user.id))!.locked_until).toBeNull();
    await expectAudited('user.unlocked', { userId: user.id }, w.platform.user.id);

    // The reset is sent in the background (the answer takes the same time whoever asks): wait for its token.
    const resets = async () =>
      (await ctx.deps.db.selectFrom('email_tokens').select('id').where('user_id', '=', user.id).where('purpose', '=', 'reset').execute())
        .length;
    expect((await platform.post(`/console/users/${user.id}/send-reset`, {})).statusCode).toBe(403);
    expect(await resets()).toBe(0);
    const reset = await platform.post(`/console/users/${user.id}/send-reset`, {}, page);
    expect(reset.statusCode).toBe(303);
    expect((await platform.get(reset.headers.location as string)).body).toContain('A password-reset email is on its way.');
    await expect.poll(resets, { timeout: 5000 }).toBe(1);
    await expectAudited('password_reset.requested', { userId: user.id }, w.platform.user.id);
  });

  it('deletes a user only after a confirmation page', async () => {
    const { user } = await a1User();
    const confirm = await platform.get(`/console/users/${user.id}/delete`);
    expect(confirm.statusCode).toBe(200);
    expect(confirm.body).toContain('This cannot be undone');
    expect((await platform.post(`/console/users/${user.id}/delete`, {})).statusCode).toBe(403);
    expect(await userRow(user.id)).toBeDefined();
    const res = await platform.post(`/console/users/${user.id}/delete`, {}, confirm);
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/console/users?done=deleted');
    expect(await userRow(user.id)).toBeUndefined();
    await expectAudited('user.deleted', { userId: user.id }, w.platform.user.id);
    expectNotFoundPage(await platform.get(`/console/users/${user.id}`), 'deleted user');
  });
});

describe("Console users: a user's sessions and refresh tokens", () => {
  it('shows every seed-001 field and revokes a session after a confirmation page; audited', async () => {
    const { user, password } = await a1User();
    const { refresh_token } = await appSignIn(user.email, password, w.a1.appId);
    const token = await ctx.deps.db.selectFrom('refresh_tokens').selectAll().where('user_id', '=', user.id).executeTakeFirstOrThrow();
    const page = await platform.get(`/console/users/${user.id}/sessions`);
    expect(page.statusCode).toBe(200);
    for (const h of ['Expires At', 'Created At', 'Revoked At', 'Last Used', 'Content', 'Token Hash', 'JTI', 'Device Info'])
      expect(page.body).toContain(`<th scope="col">${h}</th>`);
    expect(page.body).toContain(token.jti);
    expect(page.body).toContain('Journey/1.0 (test)');
    expect(page.body).toContain(`email: ${user.email}`); // Content: the token's claims
    expect(page.body).not.toContain(refresh_token);
    const revoke = `/console/users/${user.id}/sessions/${token.family_id}/revoke`;
    expect(page.body).toContain(`href="${revoke}"`);
    const confirm = await platform.get(revoke);
    expect(confirm.statusCode).toBe(200);
    expect(confirm.body).toContain(`action="${revoke}"`);
    expect((await platform.post(revoke, {})).statusCode).toBe(403);
    expect(
      (await ctx.deps.db.selectFrom('refresh_tokens').select('revoked_at').where('jti', '=', token.jti).executeTakeFirstOrThrow())
        .revoked_at,
    ).toBeNull();
    const res = await platform.post(revoke, {}, confirm);
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe(`/console/users/${user.id}/sessions?done=revoked`);
    expect(
      (await ctx.deps.db.selectFrom('refresh_tokens').select('revoked_at').where('jti', '=', token.jti).executeTakeFirstOrThrow())
        .revoked_at,
    ).not.toBeNull();
    await expectAudited('refresh_token.revoked', { userId: user.id, appId: w.a1.appId }, w.platform.user.id);
    const after = await platform.get(res.headers.location as string);
    expect(after.body).toContain('Revoked: those refresh tokens no longer work.');
    expect(after.body).toContain('No live session');
    // The refresh token no longer works.
    const refreshed = await ctx.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token } });
    expect(refreshed.statusCode).toBe(401);
  });
});

describe('Console users: tier boundaries', () => {
  it('a manager invites (default roles only), suspends and revokes, but cannot change roles', async () => {
    const manager = await signIn(w.managerA1);
    const { user, password } = await a1User(['user'], [w.b1.appId]);
    const page = await manager.get(`/console/users/${user.id}`);
    expect(page.statusCode).toBe(200);
    expect(page.body).not.toContain('<legend>Roles in');
    expect(page.body).not.toContain('B1');
    expect(page.body).not.toContain(`/console/users/${user.id}/disable`);
    expect(page.body).not.toContain(`/console/users/${user.id}/delete`);
    const before = await snapshot(ctx, 'memberships');
    const roles = await manager.post(`/console/users/${user.id}/apps/${w.a1.appId}/roles`, { roles: 'admin' }, page);
    expect(roles.statusCode).toBe(403);
    expect(await snapshot(ctx, 'memberships')).toBe(before);
    expect((await manager.post(`/console/users/${user.id}/apps/${w.a1.appId}/suspend`, {}, page)).statusCode).toBe(303);
    expect((await membership(user.id, w.a1.appId))!.status).toBe('suspended');
    await expectAudited('user.suspended', { userId: user.id, appId: w.a1.appId }, w.managerA1.user.id);
    // Invite: the app's default roles only; beyond them the refusal is at the roles field.
    const form = await manager.get('/console/users/invite');
    expect(form.body).toContain(`<option value="${w.a1.appId}"`);
    expect(form.body).not.toContain(w.b1.appId);
    const invites = await snapshot(ctx, 'invites');
    const beyond = await manager.post(
      '/console/users/invite',
      { email: `m-${Date.now()}@example.com`, app_id: w.a1.appId, roles: 'admin' },
      form,
    );
    expect(beyond.statusCode).toBe(403);
    expect(beyond.body).toMatch(/id="roles-error">[^<]*default roles only/);
    expect(await snapshot(ctx, 'invites')).toBe(invites);
    const ok = await manager.post('/console/users/invite', { email: `m-${Date.now()}@example.com`, app_id: w.a1.appId }, form);
    expect(ok.statusCode).toBe(201);
    await expectAudited('invite.created', { appId: w.a1.appId }, w.managerA1.user.id);
    const other = await manager.post('/console/users/invite', { email: `m2-${Date.now()}@example.com`, app_id: w.b1.appId }, form);
    expect(other.statusCode).toBe(404);
    expect(other.body).toContain('id="app_id-error"');
    // Revoke one of the user's sessions in A1.
    await ctx.deps.db
      .updateTable('memberships')
      .set({ status: 'active' })
      .where('user_id', '=', user.id)
      .where('app_id', '=', w.a1.appId)
      .execute();
    await appSignIn(user.email, password, w.a1.appId);
    const token = await ctx.deps.db.selectFrom('refresh_tokens').selectAll().where('user_id', '=', user.id).executeTakeFirstOrThrow();
    const confirm = await manager.get(`/console/users/${user.id}/sessions/${token.family_id}/revoke`);
    expect((await manager.post(`/console/users/${user.id}/sessions/${token.family_id}/revoke`, {}, confirm)).statusCode).toBe(303);
    await expectAudited('refresh_token.revoked', { userId: user.id, appId: w.a1.appId }, w.managerA1.user.id);
    // Creating users is for platform admins.
    expect((await manager.get('/console/users/new')).statusCode).toBe(403);
    expect((await manager.get('/console/users')).body).not.toContain('href="/console/users/new"');
  });

  it("an app admin sees only their app's users and memberships; another's are 404 by every URL, nothing changes", async () => {
    const admin = await signIn(w.appAdminA1);
    const { user: both } = await a1User(['user'], [w.a2.appId]);
    const list = await admin.get('/console/users');
    expect(list.body).toContain(`href="/console/users/${w.uA1.id}"`);
    expect(list.body).not.toContain(w.uB1.id);
    const page = await admin.get(`/console/users/${both.id}`);
    expect(page.body).toContain('<legend>Roles in A1</legend>');
    expect(page.body).not.toContain('A2');
    expect(page.body).not.toContain(w.a2.appId);
    // The user is in A2 too: the account is not the app admin's to disable (the API says so, next to the action).
    const tables = async () => [await snapshot(ctx, 'users'), await snapshot(ctx, 'memberships')].join();
    const before = await tables();
    const refused = await admin.post(`/console/users/${both.id}/disable`, {}, page);
    expect(refused.statusCode).toBe(403);
    expect(refused.body).toContain('id="account-error"');
    // Another app of the same user: 404 (the membership is not theirs to see).
    expectNotFoundPage(await admin.post(`/console/users/${both.id}/apps/${w.a2.appId}/suspend`, {}, page), 'A2 suspend');
    expectNotFoundPage(await admin.post(`/console/users/${both.id}/apps/${w.a2.appId}/roles`, { roles: 'user' }, page), 'A2 roles');
    expect(await tables()).toBe(before);
    // The same user's sign-in to A2 is out of reach: its revoke is a 404 (page and POST), not revoked.
    await appSignIn(both.email, DEFAULT_PASSWORD, w.a2.appId);
    const family = (
      await ctx.deps.db
        .selectFrom('refresh_tokens')
        .select('family_id')
        .where('user_id', '=', both.id)
        .where('app_id', '=', w.a2.appId)
        .executeTakeFirstOrThrow()
    ).family_id;
    expectNotFoundPage(await admin.get(`/console/users/${both.id}/sessions/${family}/revoke`), 'A2 session confirm');
    expectNotFoundPage(await admin.post(`/console/users/${both.id}/sessions/${family}/revoke`, {}, page), 'A2 session revoke');
    const sessions = await admin.get(`/console/users/${both.id}/sessions`);
    expect(sessions.statusCode).toBe(200);
    expect(sessions.body).not.toContain(family);
    expect(
      (await ctx.deps.db.selectFrom('refresh_tokens').select('revoked_at').where('family_id', '=', family).executeTakeFirstOrThrow())
        .revoked_at,
    ).toBeNull();
    await probeOther(admin, page);
  });

  it("a tenant admin sees their tenant's users; another tenant's user is a 404 by every URL, nothing changes", async () => {
    const admin = await signIn(w.tenantAdminA);
    const list = await admin.get('/console/users');
    expect(list.body).toContain(`href="/console/users/${w.uA1.id}"`);
    expect(list.body).not.toContain(w.uB1.id);
    const own = await admin.get(`/console/users/${w.uA1.id}`);
    expect(own.statusCode).toBe(200);
    expect(own.body).toContain(`href="/console/users/${w.uA1.id}/disable"`);
    await probeOther(admin, own);
  });
});

/** Every Users URL of uB1 (tenant B, app B1): the Console's 404 page; every POST changes nothing. */
async function probeOther(b: ConsoleBrowser, page: LightMyRequestResponse) {
  // A real live session of uB1 (their password is the factories' default).
  await appSignIn(w.uB1.email, DEFAULT_PASSWORD, w.b1.appId);
  const token = await ctx.deps.db
    .selectFrom('refresh_tokens')
    .select('family_id')
    .where('user_id', '=', w.uB1.id)
    .executeTakeFirstOrThrow();
  const family = token.family_id;
  const tables = async () =>
    [
      await snapshot(ctx, 'users'),
      await snapshot(ctx, 'memberships'),
      JSON.stringify(await ctx.deps.db.selectFrom('refresh_tokens').selectAll().execute()),
    ].join();
  const before = await tables();
  const u = `/console/users/${w.uB1.id}`;
  for (const path of ['', '/sessions', '/disable', '/delete', `/sessions/${family}/revoke`])
    expectNotFoundPage(await b.get(`${u}${path}`), `GET ${path}`);
  for (const path of ['/disable', '/enable', '/unlock', '/send-reset', '/delete', `/sessions/${family}/revoke`])
    expectNotFoundPage(await b.post(`${u}${path}`, {}, page), `POST ${path}`);
  for (const action of ['approve', 'suspend', 'activate', 'roles'])
    expectNotFoundPage(await b.post(`${u}/apps/${w.b1.appId}/${action}`, { roles: 'user' }, page), `POST ${action}`);
  expect(await tables()).toBe(before);
}
