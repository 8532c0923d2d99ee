// The hosted account page (/account, issue 16): the browser's SSO session or the account sign-in
// (which returns only to a same-origin /account path); profile, password change with field errors,
// sessions with sign-out, connected apps with revoke. Every change is a CSRF-protected POST answered
// by a redirect with a status; a user sees and acts on their own rows only (another user's id: 404,
// nothing changed).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { DEFAULT_REDIRECT, makeApp, makeUser } from '../helpers/factories.js';
import { authorizeQuery, basicAuth, pkcePair, postForm } from '../helpers/oidc.js';
import { signIn } from '../helpers/sign-in.js';
import { localPath, Visitor } from '../helpers/visitor.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx.close());

/** A browser signed in to /account through its own sign-in page. */
async function accountVisitor(email: string, password: string): Promise<Visitor> {
  const v = new Visitor(ctx);
  const first = await v.get('/account');
  expect(first.statusCode).toBe(303);
  expect(localPath(first)).toBe('/account/sign-in?return_to=%2Faccount');
  const page = await v.get(localPath(first));
  expect(page.statusCode).toBe(200);
  const done = await v.submit(page, '/account/sign-in', { email, password });
  expect(done.statusCode).toBe(303);
  expect(done.headers.location).toBe('/account');
  return v;
}

/** A third-party app's code flow in `v` (consent allowed) and the code exchanged: a refresh-token family. */
async function connect(v: Visitor, app: { appId: string }, clientSecret: string) {
  const pkce = pkcePair();
  const q = authorizeQuery(app.appId, { code_challenge: pkce.challenge, code_challenge_method: 'S256' });
  const asked = await v.get(`/authorize?${q}`);
  expect(localPath(asked)).toMatch(/^\/authorize\/consent\?/);
  const allowed = await v.submit(await v.get(localPath(asked)), '/authorize/consent', { decision: 'allow' });
  const code = new URL(allowed.headers.location as string).searchParams.get('code')!;
  const token = await postForm(
    ctx,
    '/token',
    { grant_type: 'authorization_code', code, redirect_uri: DEFAULT_REDIRECT, code_verifier: pkce.verifier },
    { authorization: basicAuth(app.appId, clientSecret) },
  );
  expect(token.statusCode).toBe(200);
  return token.json() as { refresh_token: string };
}

const liveFamilies = async (userId: string, appId?: string) => {
  let q = ctx.deps.db.selectFrom('refresh_tokens').select('family_id').where('user_id', '=', userId).where('revoked_at', 'is', null);
  if (appId) q = q.where('app_id', '=', appId);
  return [...new Set((await q.execute()).map((r) => r.family_id))];
};

describe('/account', () => {
  it('without a session: the account sign-in, then back to /account; only same-origin /account returns', async () => {
    const { user, password } = await makeUser(ctx.deps, { name: 'Ada Page' });
    const v = await accountVisitor(user.email, password);
    const page = await v.get('/account');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain(user.email);
    expect(page.body).toContain('Verified');
    expect(page.body).toContain('value="Ada Page"');
    expect(page.body).toContain('Secured by Keymaster');
    expect(page.body).not.toContain('/branding/');
    for (const bad of [
      '//evil.example/account',
      'https://evil.example/account',
      '/account/../login',
      '/account/./x',
      '/\\evil.example',
      '/login',
      '/account/%2e%2e/login?app_id=x',
      '/account/%2E%2E/login',
      '/account/.%2e/login',
      '/account/%2e./login',
      '/account%2f..%2flogin',
      '/account/%5c..%5clogin',
      '/account%2F%2Fevil.example',
    ]) {
      const res = await ctx.app.inject({ url: `/account/sign-in?return_to=${encodeURIComponent(bad)}` });
      expect(res.statusCode, bad).toBe(400);
    }
    const v2 = new Visitor(ctx);
    const refused = await v2.submit(await v2.get('/account/sign-in'), '/account/sign-in', {
      email: user.email,
      password: 'wrong-Passw0rd!',
    });
    expect(refused.statusCode).toBe(401);
    expect(refused.body).toContain('aria-invalid="true"');
    expect(v2.cookies.km_sso).toBeUndefined();
  });

  it("the account page and its sign-in speak the browser's language through the catalogs", async () => {
    const { user, password } = await makeUser(ctx.deps);
    const v = await accountVisitor(user.email, password);
    const de = await ctx.app.inject({ url: '/account', headers: { cookie: `km_sso=${v.cookies.km_sso}`, 'accept-language': 'de' } });
    expect(de.headers['content-language']).toBe('de');
    for (const w of ['Ihr Konto', 'Passwort ändern', 'Verbundene Apps', 'Überall abmelden']) expect(de.body).toContain(w);
    const fr = await ctx.app.inject({ url: '/account/sign-in', headers: { 'accept-language': 'fr' } });
    expect(fr.body).toContain('Connexion à votre compte');
  });

  it('rename: a POST with CSRF, redirect with a status; an empty name is a field error; no CSRF changes nothing', async () => {
    const { user, password } = await makeUser(ctx.deps, { name: 'Old Name' });
    const v = await accountVisitor(user.email, password);
    const page = await v.get('/account');
    const noCsrf = await v.post('/account/profile', { name: 'Sneaky' });
    expect(noCsrf.statusCode).toBe(403);
    const empty = await v.submit(page, '/account/profile', { name: '  ' });
    expect(empty.statusCode).toBe(400);
    expect(empty.body).toContain('aria-invalid="true" aria-describedby="name-error"');
    expect(empty.body).toContain('id="name-error">Enter a name.');
    const saved = await v.submit(page, '/account/profile', { name: 'New Name' });
    expect(saved.statusCode).toBe(303);
    expect(saved.headers.location).toBe('/account?status=name_saved');
    const row = await ctx.deps.db.selectFrom('users').select('name').where('id', '=', user.id).executeTakeFirstOrThrow();
    expect(row.name).toBe('New Name');
    expect((await v.get('/account?status=name_saved')).body).toContain('Your name was saved.');
  });

  it('change password: field errors on the right field, then the new password; other sessions end, this one stays', async () => {
    const { user, password } = await makeUser(ctx.deps);
    const { app } = await makeApp(ctx.deps);
    await signIn(ctx, app.appId, user.email, password);
    const v = await accountVisitor(user.email, password);
    const page = await v.get('/account');
    const before = await ctx.deps.db.selectFrom('users').select('password_hash').where('id', '=', user.id).executeTakeFirstOrThrow();

    const wrong = await v.submit(page, '/account/password', {
      current_password: 'Not-The-0ne!',
      new_password: 'Brand-New-Pass1!',
      confirm_password: 'Brand-New-Pass1!',
    });
    expect(wrong.statusCode).toBe(400);
    expect(wrong.body).toMatch(/id="current_password"[^>]*aria-invalid="true" aria-describedby="current_password-error"/);
    expect(wrong.body).toContain('id="current_password-error">Current password is incorrect');
    const weak = await v.submit(page, '/account/password', { current_password: password, new_password: 'weak', confirm_password: 'weak' });
    expect(weak.statusCode).toBe(400);
    expect(weak.body).toMatch(/id="new_password"[^>]*aria-describedby="new_password-error password-rules" aria-invalid="true"/);
    expect(weak.body).toContain('Password too weak');
    const mismatch = await v.submit(page, '/account/password', {
      current_password: password,
      new_password: 'Brand-New-Pass1!',
      confirm_password: 'Brand-New-Pass2!',
    });
    expect(mismatch.statusCode).toBe(400);
    expect(mismatch.body).toContain('id="confirm_password-error">The two new passwords do not match.');
    const unchanged = await ctx.deps.db.selectFrom('users').select('password_hash').where('id', '=', user.id).executeTakeFirstOrThrow();
    expect(unchanged.password_hash).toBe(before.password_hash);

    const done = await v.submit(page, '/account/password', {
      current_password: password,
      new_password: 'Brand-New-Pass1!',
      confirm_password: 'Brand-New-Pass1!',
    });
    expect(done.statusCode).toBe(303);
    expect(done.headers.location).toBe('/account?status=password_changed');
    // This browser stays signed in (a new session); the other sign-in ended.
    expect((await v.get('/account')).statusCode).toBe(200);
    const other = await ctx.deps.db
      .selectFrom('sessions')
      .select('revoked_at')

      .where('user_id', '=', user.id)
      .execute();
    expect(other.filter((s) => s.revoked_at === null)).toHaveLength(1);
    expect(await liveFamilies(user.id)).toEqual([]);
    const again = await new Visitor(ctx).get('/account');
    expect(again.statusCode).toBe(303);
    await accountVisitor(user.email, 'Brand-New-Pass1!');
  });

  it("sessions: listed with app and device; sign out one; another user's session id is 404 and stays live", async () => {
    const { user, password } = await makeUser(ctx.deps);
    const { user: mallory, password: malloryPassword } = await makeUser(ctx.deps);
    const { app } = await makeApp(ctx.deps, { name: 'Session Portal' });
    await signIn(ctx, app.appId, user.email, password, { 'user-agent': 'Phone Browser 1.0' });
    await signIn(ctx, app.appId, mallory.email, malloryPassword);
    const [family] = await liveFamilies(user.id);
    const [theirs] = await liveFamilies(mallory.id);

    const v = await accountVisitor(user.email, password);
    const page = await v.get('/account');
    expect(page.body).toContain('Session Portal');
    expect(page.body).toContain('Phone Browser 1.0');
    expect(page.body).toContain(`action="/account/sessions/${family}/sign-out"`);
    expect(page.body).not.toContain(theirs!);

    const idor = await v.submit(page, `/account/sessions/${theirs}/sign-out`);
    expect(idor.statusCode).toBe(404);
    expect(await liveFamilies(mallory.id)).toEqual([theirs]);
    const junk = await v.submit(page, '/account/sessions/not-a-uuid/sign-out');
    expect(junk.statusCode).toBe(404);

    const ended = await v.submit(page, `/account/sessions/${family}/sign-out`);
    expect(ended.statusCode).toBe(303);
    expect(ended.headers.location).toBe('/account?status=session_ended');
    expect(await liveFamilies(user.id)).toEqual([]);
  });

  it('connected apps: revoking one spends its unexchanged authorization codes, in the same step', async () => {
    const { user, password } = await makeUser(ctx.deps);
    const { app, clientSecret } = await makeApp(ctx.deps, { thirdParty: true });
    const v = await accountVisitor(user.email, password);
    await connect(v, app, clientSecret);
    // A second code, issued (consent remembered) and not exchanged.
    const pkce = pkcePair();
    const again = await v.get(`/authorize?${authorizeQuery(app.appId, { code_challenge: pkce.challenge, code_challenge_method: 'S256' })}`);
    const code = new URL(again.headers.location as string).searchParams.get('code')!;
    expect(code).toBeTruthy();
    const consent = await ctx.deps.db.selectFrom('consents').selectAll().where('user_id', '=', user.id).executeTakeFirstOrThrow();
    const revoked = await v.submit(await v.get('/account'), `/account/apps/${consent.id}/revoke`);
    expect(revoked.statusCode).toBe(303);
    const unused = await ctx.deps.db
      .selectFrom('authorization_codes')
      .select('code_hash')
      .where('user_id', '=', user.id)
      .where('app_id', '=', app.appId)
      .where('used_at', 'is', null)
      .execute();
    expect(unused).toEqual([]);
    const token = await postForm(
      ctx,
      '/token',
      { grant_type: 'authorization_code', code, redirect_uri: DEFAULT_REDIRECT, code_verifier: pkce.verifier },
      { authorization: basicAuth(app.appId, clientSecret) },
    );
    expect(token.statusCode).toBe(400);
    expect(token.json().error).toBe('invalid_grant');
    expect(await liveFamilies(user.id, app.appId)).toEqual([]);
  });

  it("connected apps: listed, revoked (grant gone, the app's families end, back-channel logout queued); IDOR is 404", async () => {
    const { user, password } = await makeUser(ctx.deps);
    const { user: mallory, password: malloryPassword } = await makeUser(ctx.deps);
    const { app, clientSecret } = await makeApp(ctx.deps, {
      name: 'Third Party Gadget',
      thirdParty: true,
      backchannelLogoutUri: 'https://app.example.com/backchannel',
    });
    const { app: firstParty } = await makeApp(ctx.deps);
    const v = await accountVisitor(user.email, password);
    await connect(v, app, clientSecret);
    await signIn(ctx, firstParty.appId, user.email, password);
    const mv = await accountVisitor(mallory.email, malloryPassword);
    await connect(mv, app, clientSecret);
    const mine = await ctx.deps.db.selectFrom('consents').selectAll().where('user_id', '=', user.id).executeTakeFirstOrThrow();
    const theirs = await ctx.deps.db.selectFrom('consents').selectAll().where('user_id', '=', mallory.id).executeTakeFirstOrThrow();

    const page = await v.get('/account');
    expect(page.body).toContain('Third Party Gadget');
    expect(page.body).toContain('See your email address');
    expect(page.body).toContain(`action="/account/apps/${mine.id}/revoke"`);
    expect(page.body).not.toContain(theirs.id);

    const idor = await v.submit(page, `/account/apps/${theirs.id}/revoke`);
    expect(idor.statusCode).toBe(404);
    expect(await ctx.deps.db.selectFrom('consents').select('id').where('id', '=', theirs.id).execute()).toHaveLength(1);
    expect(await liveFamilies(mallory.id, app.appId)).toHaveLength(1);

    const revoked = await v.submit(page, `/account/apps/${mine.id}/revoke`);
    expect(revoked.statusCode).toBe(303);
    expect(revoked.headers.location).toBe('/account?status=app_revoked');
    expect(await ctx.deps.db.selectFrom('consents').select('id').where('user_id', '=', user.id).execute()).toEqual([]);
    expect(await liveFamilies(user.id, app.appId)).toEqual([]);
    // The first-party app's sign-in is not this app's: it stays.
    expect(await liveFamilies(user.id, firstParty.appId)).toHaveLength(1);
    const reasons = await ctx.deps.db
      .selectFrom('refresh_tokens')
      .select('revoked_reason')
      .where('user_id', '=', user.id)
      .where('app_id', '=', app.appId)
      .execute();
    expect(reasons.map((r) => r.revoked_reason)).toEqual(['consent_revoked']);
    const logouts = await ctx.deps.db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('app_id', '=', app.appId)
      .where('event', '=', 'backchannel_logout')
      .execute();
    expect(logouts.map((l) => JSON.parse(l.payload).sub)).toEqual([user.id]);
    const audit = await ctx.deps.db
      .selectFrom('audit_events')
      .selectAll()
      .where('event', '=', 'consent.revoked')
      .where('user_id', '=', user.id)
      .execute();
    expect(audit).toHaveLength(1);
    // Mallory's grant and sign-in are untouched; the next request asks this user again.
    expect(await liveFamilies(mallory.id, app.appId)).toHaveLength(1);
    const asked = await v.get(`/authorize?${authorizeQuery(app.appId)}`);
    expect(localPath(asked)).toMatch(/^\/authorize\/consent\?/);
  });

  it('sign out everywhere: every session ends, and /account asks to sign in again', async () => {
    const { user, password } = await makeUser(ctx.deps);
    const { app } = await makeApp(ctx.deps);
    await signIn(ctx, app.appId, user.email, password);
    const v = await accountVisitor(user.email, password);
    const out = await v.submit(await v.get('/account'), '/account/sign-out-everywhere');
    expect(out.statusCode).toBe(303);
    expect(localPath(out)).toBe('/account/sign-in?return_to=%2Faccount&status=signed_out_everywhere');
    expect((await v.get(localPath(out))).body).toContain('You were signed out everywhere.');
    expect(await liveFamilies(user.id)).toEqual([]);
    const live = await ctx.deps.db
      .selectFrom('sessions')
      .select('id')
      .where('user_id', '=', user.id)
      .where('revoked_at', 'is', null)
      .execute();
    expect(live).toEqual([]);
    expect((await v.get('/account')).statusCode).toBe(303);
  });
});
