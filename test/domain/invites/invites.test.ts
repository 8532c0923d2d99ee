// Invites (issue 14): the code is stored only as its SHA-256 and emailed as a link; accepting it
// (POST /auth/accept-invite, /api/v1/auth/accept-invite) works once, before it expires, for its email
// only, not after a revoke, and enrols the user with the invite's roles.
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInvite, listInvites, revokeInvite } from '../../../src/domain/invites/invites.js';
import { getMembership, setAppAccess } from '../../../src/domain/memberships/memberships.js';
import { HOUR, type FixedClock } from '../../../src/lib/clock.js';
import { sha256 } from '../../../src/lib/crypto.js';
import { createTestContext, type TestContext } from '../../helpers/app.js';
import { makeApp, makeUser } from '../../helpers/factories.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ clock: 'fixed' });
});
afterAll(() => ctx.close());
const clock = () => ctx.clock as FixedClock;

async function inviteApp() {
  const { app } = await makeApp(ctx.deps);
  await setAppAccess(ctx.deps, app.appId, { registrationPolicy: 'invite' });
  return app;
}
let n = 0;
const email = () => `invitee-${Date.now()}-${n++}@example.com`;
const accept = (body: Record<string, unknown>, url = '/auth/accept-invite', headers: Record<string, string> = {}) =>
  ctx.app.inject({ method: 'POST', url, payload: body, headers });

describe('createInvite', () => {
  it('stores only the SHA-256 of the code, emails the accept link, and refuses roles the app does not have', async () => {
    const app = await inviteApp();
    const to = email();
    const { invite, code } = await createInvite(ctx.deps, { appId: app.appId, email: to, roles: ['manager'] });
    expect(invite).toMatchObject({ email: to, roles: ['manager'], status: 'open' });
    expect(invite.expiresAt.getTime() - invite.createdAt.getTime()).toBe(72 * HOUR);
    const row = await ctx.deps.db.selectFrom('invites').selectAll().where('id', '=', invite.id).executeTakeFirstOrThrow();
    expect(row.code_hash).toBe(sha256(code));
    expect(JSON.stringify(row)).not.toContain(code);
    const mail = await ctx.deps.db.selectFrom('email_outbox').selectAll().where('to_address', '=', to).execute();
    expect(mail.map((m) => m.template)).toEqual(['invite']);
    await expect(createInvite(ctx.deps, { appId: app.appId, email: email(), roles: ['owner'] })).rejects.toMatchObject({
      reason: 'role_not_available',
    });
    await expect(createInvite(ctx.deps, { appId: app.appId, email: email(), expiresInHours: 31 * 24 })).rejects.toThrow();
    const page = await listInvites(ctx.deps, app.appId, { limit: 10 });
    expect(page.items.map((i) => i.id)).toEqual([invite.id]);
  });
});

describe('POST /auth/accept-invite', () => {
  it('a new user: name + password → tokens with the invite roles for that app; the code works once', async () => {
    const app = await inviteApp();
    const to = email();
    const { code } = await createInvite(ctx.deps, { appId: app.appId, email: to, roles: ['manager'] });
    const body = { app_id: app.appId, invite_code: code, email: to, display_name: 'New Person', password: 'Correct-Horse-9!' };
    const res = await accept(body);
    expect(res.statusCode).toBe(200);
    expect(res.json().user).toMatchObject({ email: to, name: 'New Person', email_verified: true });
    expect(decodeJwt(res.json().access_token as string).roles).toEqual(['manager']);
    const again = await accept(body, '/api/v1/auth/accept-invite');
    expect(again.statusCode).toBe(400);
    expect(again.json()).toEqual({ detail: 'The invite code is invalid, expired, already used or revoked' });
    // The member signs in as any other (the invite app now knows them).
    const login = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { app_id: app.appId, email: to, password: body.password },
    });
    expect(login.statusCode).toBe(200);
  });

  it('expired, revoked, wrong email, wrong app: 400, and nothing is enrolled', async () => {
    const app = await inviteApp();
    const { app: other } = await makeApp(ctx.deps);
    const to = email();
    const body = (code: string, extra: Record<string, unknown> = {}) => ({
      app_id: app.appId,
      invite_code: code,
      email: to,
      password: 'Correct-Horse-9!',
      ...extra,
    });

    const expiring = await createInvite(ctx.deps, { appId: app.appId, email: to, expiresInHours: 1 });
    clock().advance(HOUR + 1000);
    expect((await accept(body(expiring.code))).statusCode).toBe(400);

    const revoked = await createInvite(ctx.deps, { appId: app.appId, email: to });
    expect((await revokeInvite(ctx.deps, { appId: app.appId, inviteId: revoked.invite.id })).status).toBe('revoked');
    expect((await accept(body(revoked.code))).statusCode).toBe(400);

    const open = await createInvite(ctx.deps, { appId: app.appId, email: to });
    const mismatch = await accept(body(open.code, { email: 'someone-else@example.com' }));
    expect(mismatch.statusCode).toBe(400);
    expect(mismatch.json()).toEqual({ detail: 'This invite was sent to a different email address' });
    expect((await accept(body(open.code, { app_id: other.appId }))).statusCode).toBe(400);

    expect(await ctx.deps.db.selectFrom('users').select('id').where('email', '=', to).execute()).toEqual([]);
    // The open one still works.
    expect((await accept(body(open.code))).statusCode).toBe(200);
  });

  it('an existing user proves it is them: password, or a live access token; without either, 400', async () => {
    const app = await inviteApp();
    const { app: home } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    const first = await createInvite(ctx.deps, { appId: app.appId, email: user.email, roles: ['user'] });
    const bare = await accept({ app_id: app.appId, invite_code: first.code, email: user.email });
    expect(bare.statusCode).toBe(400);
    const wrong = await accept({ app_id: app.appId, invite_code: first.code, email: user.email, password: 'nope-Nope-1!' });
    expect(wrong.statusCode).toBe(401);
    expect(await getMembership(ctx.deps, user.id, app.appId)).toBeUndefined();
    const ok = await accept({ app_id: app.appId, invite_code: first.code, email: user.email.toUpperCase(), password });
    expect(ok.statusCode).toBe(200);
    expect(await getMembership(ctx.deps, user.id, app.appId)).toMatchObject({ status: 'active', roles: ['user'] });

    // Signed in elsewhere (a live access token of this user): no password needed.
    const app2 = await inviteApp();
    const second = await createInvite(ctx.deps, { appId: app2.appId, email: user.email, roles: ['admin'] });
    const login = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { app_id: home.appId, email: user.email, password },
    });
    const bearer = { authorization: `Bearer ${login.json().access_token as string}` };
    const viaToken = await accept({ app_id: app2.appId, invite_code: second.code, email: user.email }, '/auth/accept-invite', bearer);
    expect(viaToken.statusCode).toBe(200);
    expect(decodeJwt(viaToken.json().access_token as string).roles).toEqual(['admin']);
  });
});
