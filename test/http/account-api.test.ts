// The account API (seed 004) end to end, with a real SMTP peer capturing the emails: the journeys,
// every row of the error table, lockout on an injected clock, and the email tokens' single use.
import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminUpdateUser, unlockUser } from '../../src/domain/accounts/accounts.js';
import { HOUR, MINUTE, SECOND, type FixedClock } from '../../src/lib/clock.js';
import { sha256 } from '../../src/lib/crypto.js';
import { argon2Jobs } from '../../src/domain/users/passwords.js';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { DEFAULT_PASSWORD, makeApp, makeUser } from '../helpers/factories.js';
import { linkIn, startSmtpCapture, type SmtpCapture } from '../helpers/smtp.js';

const DEFAULT_APP_ID = randomUUID();
let ctx: TestContext;
let smtp: SmtpCapture;
let clock: FixedClock;
let defaultAppName: string;

beforeAll(async () => {
  smtp = await startSmtpCapture();
  ctx = await createTestContext({
    clock: 'fixed',
    env: { SMTP_URL: smtp.url, KEYMASTER_DEFAULT_APP_ID: DEFAULT_APP_ID, KEYMASTER_MAIL_FROM: 'Acme <auth@acme.test>' },
  });
  clock = ctx.clock as FixedClock;
  const { app } = await makeApp(ctx.deps, { name: 'Acme Default', logoUrl: 'https://cdn.acme.test/logo.png', primaryColor: '#aa3300' });
  await ctx.deps.db.updateTable('apps').set({ app_id: DEFAULT_APP_ID }).where('app_id', '=', app.appId).execute();
  defaultAppName = app.name;
});
afterAll(async () => {
  await ctx.close();
  await smtp.close();
});

// Every test uses its own client IP, so the per-IP limits of one test never reach another.
let ipCounter = 1;
const newIp = () => `10.0.${Math.floor(ipCounter / 250)}.${(ipCounter++ % 250) + 1}`;
const uniqueEmail = () => `u-${randomUUID().slice(0, 8)}@example.com`;
const STRONG = 'Str0ng-Passw0rd!';

function api(ip: string) {
  const call = (method: 'GET' | 'POST' | 'PATCH', url: string, body?: unknown, token?: string) =>
    ctx.app.inject({
      method,
      url: `/api/v1/auth${url}`,
      remoteAddress: ip,
      headers: { ...(body !== undefined && { 'content-type': 'application/json' }), ...(token && { authorization: `Bearer ${token}` }) },
      ...(body !== undefined && { payload: JSON.stringify(body) }),
    });
  return {
    post: (url: string, body: unknown, token?: string) => call('POST', url, body, token),
    get: (url: string, token?: string) => call('GET', url, undefined, token),
    patch: (url: string, body: unknown, token?: string) => call('PATCH', url, body, token),
  };
}

async function userRow(email: string) {
  return ctx.deps.db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirstOrThrow();
}

describe('account journey', () => {
  it('register → email → verify → sign in → /me → PATCH → reset → the old tokens are dead', async () => {
    const c = api(newIp());
    const email = uniqueEmail();
    const reg = await c.post('/register', { email, password: STRONG, name: 'John Doe' });
    expect(reg.statusCode).toBe(201);
    expect(reg.json()).toEqual({ message: 'Registration successful. Please check your email to verify your account.' });
    const created = await userRow(email);
    expect(created.email_verified_at).toBeNull();
    expect(created.password_hash).toMatch(/^\$argon2id\$/);

    // The verification email: branded, from the configured sender, with a single-use 24 h link.
    const mail = await smtp.next(email);
    expect(mail.from).toBe('auth@acme.test');
    // The app's name as the sender's name, at the configured address.
    const fromHeader = /^from:\s*(.*)$/im.exec(mail.raw.replace(/\r?\n[ \t]+/g, ' '))?.[1];
    expect(fromHeader?.replace(/"/g, '')).toBe(`${defaultAppName} <auth@acme.test>`);
    expect(mail.subject).toBe(`Verify your email for ${defaultAppName}`);
    expect(mail.html).toContain('https://cdn.acme.test/logo.png');
    expect(mail.html).toContain('#aa3300');
    const link = linkIn(mail, '/account/verify');
    expect(link.origin).toBe(ctx.deps.config.issuer);
    expect(link.searchParams.get('app_id')).toBe(DEFAULT_APP_ID);
    const token = link.searchParams.get('token')!;
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    const tokenRow = await ctx.deps.db.selectFrom('email_tokens').selectAll().where('user_id', '=', created.id).executeTakeFirstOrThrow();
    expect(tokenRow).toMatchObject({ token_hash: sha256(token), purpose: 'verify', used_at: null });
    expect(tokenRow.expires_at.getTime() - tokenRow.created_at.getTime()).toBe(24 * HOUR);
    const outbox = await ctx.deps.db.selectFrom('email_outbox').selectAll().where('to_address', '=', email).execute();
    expect(outbox).toHaveLength(1);
    await expect
      .poll(
        async () =>
          await ctx.deps.db.selectFrom('email_outbox').select(['status', 'body_enc']).where('id', '=', outbox[0]!.id).executeTakeFirst(),
      )
      .toEqual({ status: 'sent', body_enc: null });
    expect(JSON.stringify(outbox)).not.toContain(token);

    // Not verified yet: the right password still cannot sign in.
    const early = await c.post('/login', { email, password: STRONG });
    expect(early.statusCode).toBe(403);
    expect(early.json()).toEqual({ detail: 'Email not verified' });

    const verified = await c.post('/verify-email', { token });
    expect(verified.statusCode).toBe(200);
    expect(verified.json()).toEqual({ message: 'Email verified successfully. You can now log in.' });
    expect((await userRow(email)).email_verified_at).toEqual(clock.now());

    // Sign in: no app_id → the configured default app.
    const login = await c.post('/login', { email, password: STRONG });
    expect(login.statusCode).toBe(200);
    const body = login.json();
    expect(body).toMatchObject({ token_type: 'bearer', expires_in: 900, refresh_token: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(body.user).toEqual({
      id: created.id,
      email,
      name: 'John Doe',
      email_verified: true,
      is_active: true,
      created_at: created.created_at.toISOString(),
      last_login_at: clock.now().toISOString(),
    });
    const jwks = createLocalJWKSet((await ctx.app.inject({ url: '/.well-known/jwks.json' })).json());
    const { payload } = await jwtVerify(body.access_token, jwks, {
      issuer: ctx.deps.config.issuer,
      audience: DEFAULT_APP_ID,
      algorithms: ['RS256'],
      currentDate: clock.now(),
    });
    expect(payload).toMatchObject({ sub: created.id, email, name: 'John Doe' });

    const me = await c.get('/me', body.access_token);
    expect(me.statusCode).toBe(200);
    expect(me.json()).toEqual(body.user);

    const patched = await c.patch('/me', { name: 'Johnny' }, body.access_token);
    expect(patched.statusCode).toBe(200);
    expect(patched.json().name).toBe('Johnny');
    expect((await userRow(email)).name).toBe('Johnny');

    // Refresh without app_id: the token's own app. The old refresh token is spent by rotation.
    const refreshed = await c.post('/refresh', { refresh_token: body.refresh_token });
    expect(refreshed.statusCode).toBe(200);
    const live = refreshed.json();
    expect(live).toEqual({
      access_token: expect.any(String),
      refresh_token: expect.stringMatching(/^[0-9a-f]{64}$/),
      token_type: 'bearer',
      expires_in: 900,
    });

    // Password reset: request → email → confirm.
    clock.advance(2 * SECOND);
    const req = await c.post('/password-reset/request', { email });
    expect(req.statusCode).toBe(200);
    const resetMail = await smtp.next(email, 1);
    expect(resetMail.subject).toBe(`Reset your ${defaultAppName} password`);
    const resetToken = linkIn(resetMail, '/account/reset-password').searchParams.get('token')!;
    const confirm = await c.post('/password-reset/confirm', { token: resetToken, new_password: 'N3w-Passw0rd!' });
    expect(confirm.statusCode).toBe(200);
    expect(confirm.json()).toEqual({ message: 'Password has been reset successfully. Please log in with your new password.' });
    const notice = await smtp.next(email, 2);
    expect(notice.subject).toBe(`Your ${defaultAppName} password was changed`);

    // Every old token is dead: refresh tokens revoked, access tokens refused by /me.
    const rows = await ctx.deps.db
      .selectFrom('refresh_tokens')
      .select(['revoked_at', 'revoked_reason'])
      .where('user_id', '=', created.id)
      .execute();
    expect(rows.length).toBe(2);
    expect(rows.every((r) => r.revoked_at !== null)).toBe(true);
    expect((await c.post('/refresh', { refresh_token: live.refresh_token })).json()).toEqual({ detail: 'Invalid refresh token' });
    expect((await c.get('/me', live.access_token)).statusCode).toBe(401);
    expect((await c.get('/me', body.access_token)).statusCode).toBe(401);
    expect((await c.post('/login', { email, password: STRONG })).statusCode).toBe(401);
    const again = await c.post('/login', { email, password: 'N3w-Passw0rd!' });
    expect(again.statusCode).toBe(200);
    expect((await c.get('/me', again.json().access_token)).statusCode).toBe(200);

    // Nothing secret reached the log.
    const logs = ctx.logText();
    for (const secret of [STRONG, 'N3w-Passw0rd!', token, resetToken, body.refresh_token, live.refresh_token, body.access_token])
      expect(logs).not.toContain(secret);
  });

  it('logout revokes the token family; it needs the bearer token, and only touches the caller’s own tokens', async () => {
    const c = api(newIp());
    const a = await makeUser(ctx.deps);
    const b = await makeUser(ctx.deps);
    const la = (await c.post('/login', { email: a.user.email, password: a.password })).json();
    const lb = (await c.post('/login', { email: b.user.email, password: b.password })).json();
    const rotated = (await c.post('/refresh', { refresh_token: la.refresh_token })).json();

    const noBearer = await c.post('/logout', { refresh_token: rotated.refresh_token });
    expect(noBearer.statusCode).toBe(401);
    expect(noBearer.json()).toEqual({ detail: 'Missing bearer token' });
    expect(noBearer.headers['www-authenticate']).toBe('Bearer realm="keymaster", error="invalid_token"');

    // A's bearer with B's refresh token: 200, but B's token lives on.
    expect((await c.post('/logout', { refresh_token: lb.refresh_token }, la.access_token)).statusCode).toBe(200);
    expect((await c.post('/refresh', { refresh_token: lb.refresh_token })).statusCode).toBe(200);

    const out = await c.post('/logout', { refresh_token: rotated.refresh_token }, la.access_token);
    expect(out.statusCode).toBe(200);
    expect(out.json()).toEqual({ message: 'Logged out successfully' });
    const family = await ctx.deps.db
      .selectFrom('refresh_tokens')
      .select(['revoked_at', 'revoked_reason'])
      .where('user_id', '=', a.user.id)
      .execute();
    expect(family).toHaveLength(2);
    expect(family.every((r) => r.revoked_reason === 'revoked' || r.revoked_reason === null)).toBe(true);
    expect(family.every((r) => r.revoked_at !== null)).toBe(true);
    expect((await c.post('/refresh', { refresh_token: rotated.refresh_token })).statusCode).toBe(401);
  });

  it('PATCH /me: a password change needs the current password, then ends the other sessions', async () => {
    const c = api(newIp());
    const { user, password } = await makeUser(ctx.deps);
    const login = (await c.post('/login', { email: user.email, password })).json();
    expect((await c.patch('/me', { new_password: 'An0ther-Pass!' }, login.access_token)).json()).toEqual({
      detail: 'Current password is required to change the password',
    });
    expect((await c.patch('/me', { current_password: 'wrong', new_password: 'An0ther-Pass!' }, login.access_token)).json()).toEqual({
      detail: 'Current password is incorrect',
    });
    const weak = await c.patch('/me', { current_password: password, new_password: 'weak' }, login.access_token);
    expect(weak.statusCode).toBe(400);
    expect(weak.json().detail).toMatch(/^Password too weak/);
    expect((await c.patch('/me', { email: 'x@example.com' }, login.access_token)).statusCode).toBe(400);
    expect((await c.patch('/me', { name: 'X' })).statusCode).toBe(401);

    clock.advance(2 * SECOND);
    const changed = await c.patch('/me', { current_password: password, new_password: 'An0ther-Pass!' }, login.access_token);
    expect(changed.statusCode).toBe(200);
    expect((await c.post('/refresh', { refresh_token: login.refresh_token })).statusCode).toBe(401);
    expect((await c.post('/login', { email: user.email, password: 'An0ther-Pass!' })).statusCode).toBe(200);
    expect((await smtp.next(user.email)).subject).toContain('password was changed');
  });

  it('PATCH /me: a wrong current_password counts like a failed sign-in (per-email limit before argon2, then the lockout)', async () => {
    const c = api(newIp());
    const { user, password } = await makeUser(ctx.deps);
    let session = (await c.post('/login', { email: user.email, password })).json();
    const change = (current: string) => c.patch('/me', { current_password: current, new_password: 'An0ther-Pass!' }, session.access_token);
    for (let i = 0; i < 5; i++) expect((await change('wrong')).json()).toEqual({ detail: 'Current password is incorrect' });
    expect(await userRow(user.email)).toMatchObject({ failed_logins: 5, locked_until: null });
    // The sign-in's per-email limit (5 per 15 min) now refuses before argon2 runs, the right password too.
    const jobs = argon2Jobs();
    const limited = await change('wrong');
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toEqual({ error: 'rate_limited', retry_after: expect.any(Number) });
    expect((await change(password)).statusCode).toBe(429);
    expect((await c.post('/login', { email: user.email, password })).statusCode).toBe(429);
    expect(argon2Jobs()).toBe(jobs);
    // Next window (a refreshed access token; a sign-in would reset the count): five more lock the account.
    clock.advance(15 * MINUTE + SECOND);
    session = (await c.post('/refresh', { refresh_token: session.refresh_token })).json();
    for (let i = 0; i < 5; i++) expect((await change('wrong')).statusCode).toBe(400);
    expect((await userRow(user.email)).locked_until).not.toBeNull();
    // Once the failure window passes, the lock (an hour) still holds, whatever is typed.
    clock.advance(15 * MINUTE + SECOND);
    session = (await c.post('/refresh', { refresh_token: session.refresh_token })).json();
    expect((await change(password)).json()).toEqual({ detail: 'Account is locked' });
    expect((await c.post('/login', { email: user.email, password })).json()).toEqual({ detail: 'Account is locked' });
    const audit = await ctx.deps.db.selectFrom('audit_events').select(['event', 'data']).where('user_id', '=', user.id).execute();
    expect(
      audit.filter((e) => e.event === 'login.failure' && (e.data as { reason?: string }).reason === 'bad_current_password'),
    ).toHaveLength(10);
    expect(audit.map((e) => e.event)).toContain('user.locked');
    await unlockUser(ctx.deps, user.id);
  });
});

describe('seed 004 error table', () => {
  it('400 Email already registered (case-insensitive), nothing sent', async () => {
    const c = api(newIp());
    const { user } = await makeUser(ctx.deps);
    const res = await c.post('/register', { email: user.email.toUpperCase(), password: STRONG, name: 'Dup' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ detail: 'Email already registered' });
    expect(await ctx.deps.db.selectFrom('email_tokens').select('id').where('user_id', '=', user.id).execute()).toHaveLength(0);
  });

  it('400 Password too weak: each rule, and the limits are inclusive', async () => {
    const c = api(newIp());
    for (const pw of ['Sh0rt!', 'alllower-123!', 'ALLUPPER-123!', 'NoDigits-here!', 'NoSymbols123', `Aa1!${'x'.repeat(125)}`]) {
      const email = uniqueEmail();
      const res = await c.post('/register', { email, password: pw, name: 'Weak' });
      expect(res.statusCode, pw).toBe(400);
      expect(res.json().detail).toMatch(/^Password too weak: needs /);
      expect(await ctx.deps.db.selectFrom('users').select('id').where('email', '=', email).execute()).toHaveLength(0);
    }
    const ok8 = await c.post('/register', { email: uniqueEmail(), password: 'Aa1!aaaa', name: 'Eight' });
    expect(ok8.statusCode).toBe(201);
    const ok128 = await c.post('/register', { email: uniqueEmail(), password: `Aa1!${'x'.repeat(124)}`, name: 'Max' });
    expect(ok128.statusCode).toBe(201);
  });

  it('400 for malformed input, with a clear message and no write', async () => {
    const c = api(newIp());
    const res = await c.post('/register', { email: 'not-an-email', password: STRONG });
    expect(res.statusCode).toBe(400);
    expect(res.json().detail).toContain('email');
    expect((await c.post('/login', { email: 'a@b.c' })).json().detail).toContain('password');
  });

  it('401 Invalid email or password: wrong password and unknown email give the same answer', async () => {
    const c = api(newIp());
    const { user } = await makeUser(ctx.deps);
    const wrong = await c.post('/login', { email: user.email, password: 'Wrong-Passw0rd!' });
    const unknown = await c.post('/login', { email: uniqueEmail(), password: 'Wrong-Passw0rd!' });
    for (const r of [wrong, unknown]) {
      expect(r.statusCode).toBe(401);
      expect(r.json()).toEqual({ detail: 'Invalid email or password' });
    }
  });

  it('401 Invalid refresh token: unknown, revoked, and another app’s', async () => {
    const c = api(newIp());
    const { user, password } = await makeUser(ctx.deps);
    const login = (await c.post('/login', { email: user.email, password })).json();
    const { app: other } = await makeApp(ctx.deps);
    for (const body of [{ refresh_token: 'f'.repeat(64) }, { refresh_token: login.refresh_token, app_id: other.appId }]) {
      const r = await c.post('/refresh', body);
      expect(r.statusCode).toBe(401);
      expect(r.json()).toEqual({ detail: 'Invalid refresh token' });
    }
    await c.post('/logout', { refresh_token: login.refresh_token }, login.access_token);
    expect((await c.post('/refresh', { refresh_token: login.refresh_token })).json()).toEqual({ detail: 'Invalid refresh token' });
  });

  it('403 Email not verified / Account is disabled; 400 Invalid app_id', async () => {
    const c = api(newIp());
    const unverified = await makeUser(ctx.deps, { verified: false });
    expect((await c.post('/login', { email: unverified.user.email, password: unverified.password })).json()).toEqual({
      detail: 'Email not verified',
    });
    const disabled = await makeUser(ctx.deps);
    await adminUpdateUser(ctx.deps, disabled.user.id, { disabled: true });
    const r = await c.post('/login', { email: disabled.user.email, password: disabled.password });
    expect(r.statusCode).toBe(403);
    expect(r.json()).toEqual({ detail: 'Account is disabled' });
    const bad = await c.post('/login', { email: unverified.user.email, password: unverified.password, app_id: randomUUID() });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toEqual({ detail: 'Invalid app_id' });
  });

  it('403 Account is locked: at exactly the 10th consecutive failure, released after the hour', async () => {
    // The per-email failure limit (5 per 15 min, KEYMASTER-API.md) is checked first, so with the
    // default configuration ten failures take three windows: the clock moves 15 min at each 429.
    const c = api(newIp());
    const { user, password } = await makeUser(ctx.deps);
    const fail = () => c.post('/login', { email: user.email, password: 'Wrong-Passw0rd!' });
    for (let i = 1; i <= 9; i++) {
      if (i === 6) {
        const limited = await fail();
        expect(limited.statusCode).toBe(429);
        expect(limited.json()).toEqual({ error: 'rate_limited', retry_after: 900 });
        expect(limited.headers['retry-after']).toBe('900');
        clock.advance(15 * MINUTE);
      }
      expect((await fail()).statusCode).toBe(401);
    }
    expect(await userRow(user.email)).toMatchObject({ failed_logins: 9, locked_until: null });
    const tenth = await fail();
    expect(tenth.statusCode).toBe(401);
    const lockedAt = clock.now();
    expect(await userRow(user.email)).toMatchObject({ failed_logins: 10, locked_until: new Date(lockedAt.getTime() + HOUR) });

    clock.advance(15 * MINUTE); // past the email window: now only the lock answers
    const locked = await c.post('/login', { email: user.email, password });
    expect(locked.statusCode).toBe(403);
    expect(locked.json()).toEqual({ detail: 'Account is locked' });
    clock.set(new Date(lockedAt.getTime() + HOUR - SECOND));
    expect((await c.post('/login', { email: user.email, password })).json()).toEqual({ detail: 'Account is locked' });
    clock.set(new Date(lockedAt.getTime() + HOUR));
    const released = await c.post('/login', { email: user.email, password });
    expect(released.statusCode).toBe(200);
    expect(await userRow(user.email)).toMatchObject({ failed_logins: 0, locked_until: null });
  });

  it('a successful password reset and `users unlock` both lift a lock', async () => {
    for (const lift of ['reset', 'unlock'] as const) {
      const c = api(newIp());
      const { user } = await makeUser(ctx.deps);
      const lockedUntil = new Date(clock.now().getTime() + HOUR);
      await ctx.deps.db.updateTable('users').set({ failed_logins: 10, locked_until: lockedUntil }).where('id', '=', user.id).execute();
      expect((await c.post('/login', { email: user.email, password: DEFAULT_PASSWORD })).json()).toEqual({ detail: 'Account is locked' });
      let password = DEFAULT_PASSWORD;
      if (lift === 'reset') {
        await c.post('/password-reset/request', { email: user.email });
        const token = linkIn(await smtp.next(user.email), '/account/reset-password').searchParams.get('token')!;
        password = 'Res3t-Passw0rd!';
        expect((await c.post('/password-reset/confirm', { token, new_password: password })).statusCode).toBe(200);
      } else {
        await unlockUser(ctx.deps, user.id);
      }
      expect(await userRow(user.email)).toMatchObject({ failed_logins: 0, locked_until: null });
      expect((await c.post('/login', { email: user.email, password })).statusCode, lift).toBe(200);
    }
  });
});

describe('email tokens', () => {
  async function resetToken(ip: string, email: string) {
    const before = smtp.to(email).filter((m) => m.subject.startsWith('Reset')).length;
    expect((await api(ip).post('/password-reset/request', { email })).statusCode).toBe(200);
    return linkIn(await smtp.next(email, before, 'Reset'), '/account/reset-password').searchParams.get('token')!;
  }

  it('reused, expired, tampered and wrong-purpose tokens are refused', async () => {
    const ip = newIp();
    const c = api(ip);
    const { user } = await makeUser(ctx.deps);
    const invalid = { detail: 'Invalid or expired token' };

    const t1 = await resetToken(ip, user.email);
    const tampered = (t1[0] === 'a' ? 'b' : 'a') + t1.slice(1);
    expect((await c.post('/password-reset/confirm', { token: tampered, new_password: 'Fr3sh-Passw0rd!' })).json()).toEqual(invalid);
    // A weak password does not spend the link.
    expect((await c.post('/password-reset/confirm', { token: t1, new_password: 'weak' })).statusCode).toBe(400);
    expect((await c.post('/password-reset/confirm', { token: t1, new_password: 'Fr3sh-Passw0rd!' })).statusCode).toBe(200);
    const reused = await c.post('/password-reset/confirm', { token: t1, new_password: 'Fr3sh-Passw0rd!2' });
    expect(reused.statusCode).toBe(400);
    expect(reused.json()).toEqual(invalid);

    // Valid for exactly one hour.
    const t2 = await resetToken(ip, user.email);
    clock.advance(HOUR);
    expect((await c.post('/password-reset/confirm', { token: t2, new_password: 'Fr3sh-Passw0rd!3' })).json()).toEqual(invalid);
    const t3 = await resetToken(ip, user.email);
    clock.advance(HOUR - SECOND);
    // A reset token is not a verification token, and the reverse.
    expect((await c.post('/verify-email', { token: t3 })).json()).toEqual(invalid);
    expect((await c.post('/password-reset/confirm', { token: t3, new_password: 'Fr3sh-Passw0rd!3' })).statusCode).toBe(200);
    // Using one reset link retires the others.
    const rows = await ctx.deps.db.selectFrom('email_tokens').select('used_at').where('user_id', '=', user.id).execute();
    expect(rows.every((r) => r.used_at !== null)).toBe(true);

    const other = uniqueEmail();
    await c.post('/register', { email: other, password: STRONG, name: 'Other' });
    const verifyToken = linkIn(await smtp.next(other), '/account/verify').searchParams.get('token')!;
    expect((await c.post('/password-reset/confirm', { token: verifyToken, new_password: 'Fr3sh-Passw0rd!4' })).json()).toEqual(invalid);
    clock.advance(24 * HOUR);
    expect((await c.post('/verify-email', { token: verifyToken })).json()).toEqual(invalid);
    expect((await userRow(other)).email_verified_at).toBeNull();
  });

  it('only the newest reset link works: sending one retires the earlier ones', async () => {
    const ip = newIp();
    const c = api(ip);
    const { user } = await makeUser(ctx.deps);
    const older = await resetToken(ip, user.email);
    const newer = await resetToken(ip, user.email);
    const refused = await c.post('/password-reset/confirm', { token: older, new_password: 'Old3r-Link-Pass!' });
    expect(refused.json()).toEqual({ detail: 'Invalid or expired token' });
    expect((await c.post('/login', { email: user.email, password: DEFAULT_PASSWORD })).statusCode).toBe(200);
    expect((await c.post('/password-reset/confirm', { token: newer, new_password: 'N3wer-Link-Pass!' })).statusCode).toBe(200);
  });

  it('password-reset/confirm checks the link before argon2 runs: an unknown, spent or expired token hashes nothing', async () => {
    const ip = newIp();
    const c = api(ip);
    const { user } = await makeUser(ctx.deps);
    const token = await resetToken(ip, user.email);
    const confirm = (t: string, pw = 'Ha5hed-0nce-Pass!') => c.post('/password-reset/confirm', { token: t, new_password: pw });
    const jobs = argon2Jobs();
    for (const t of ['f'.repeat(43), token.slice(1), `${token}x`]) expect((await confirm(t)).statusCode).toBe(400);
    expect((await confirm(token, 'weak')).statusCode).toBe(400); // the policy is checked before argon2 too
    expect(argon2Jobs()).toBe(jobs);
    expect((await confirm(token)).statusCode).toBe(200);
    expect(argon2Jobs()).toBe(jobs + 1);
    expect((await confirm(token)).statusCode).toBe(400); // spent
    const expired = await resetToken(ip, user.email);
    clock.advance(HOUR);
    expect((await confirm(expired)).statusCode).toBe(400);
    expect(argon2Jobs()).toBe(jobs + 1);
  });

  it('two concurrent uses of one reset token: exactly one succeeds', async () => {
    const ip = newIp();
    const { user } = await makeUser(ctx.deps);
    const token = await resetToken(ip, user.email);
    const c = api(ip);
    const results = await Promise.all([
      c.post('/password-reset/confirm', { token, new_password: 'Rac3-One-Pass!' }),
      c.post('/password-reset/confirm', { token, new_password: 'Rac3-Two-Pass!' }),
    ]);
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 400]);
    const winner = results.findIndex((r) => r.statusCode === 200) === 0 ? 'Rac3-One-Pass!' : 'Rac3-Two-Pass!';
    expect((await c.post('/login', { email: user.email, password: winner })).statusCode).toBe(200);
  });

  it('password-reset/request: unknown and known email give identical status, headers and body', async () => {
    const c = api(newIp());
    const { user } = await makeUser(ctx.deps);
    const unknownEmail = uniqueEmail();
    const known = await c.post('/password-reset/request', { email: user.email });
    const unknown = await c.post('/password-reset/request', { email: unknownEmail });
    expect(unknown.statusCode).toBe(known.statusCode);
    expect(unknown.body).toBe(known.body);
    expect(known.json()).toEqual({ message: 'If an account exists for this email, a password reset link has been sent.' });
    const strip = (h: Record<string, unknown>) => Object.fromEntries(Object.entries(h).filter(([k]) => k !== 'date'));
    expect(strip(unknown.headers)).toEqual(strip(known.headers));
    await smtp.next(user.email);
    expect(await ctx.deps.db.selectFrom('email_outbox').select('id').where('to_address', '=', unknownEmail).execute()).toHaveLength(0);
  });

  it('rate limits: 5 reset requests per email per window → 429 with Retry-After, known or not', async () => {
    for (const email of [(await makeUser(ctx.deps)).user.email, uniqueEmail()]) {
      const c = api(newIp());
      for (let i = 0; i < 5; i++) expect((await c.post('/password-reset/request', { email })).statusCode).toBe(200);
      const limited = await c.post('/password-reset/request', { email });
      expect(limited.statusCode).toBe(429);
      expect(limited.headers['retry-after']).toBe('900');
      expect(limited.json()).toEqual({ error: 'rate_limited', retry_after: 900 });
    }
    // Per IP: 20 registrations per window (refused ones count too; malformed ones write nothing).
    const c = api(newIp());
    expect((await c.post('/register', { email: uniqueEmail(), password: 'weak' })).statusCode).toBe(400);
    for (let u = 0; u < 5; u++) {
      const { user } = await makeUser(ctx.deps); // 4 tries per email stay under the per-email limit
      for (let i = 0; i < 4; i++)
        expect((await c.post('/register', { email: user.email, password: STRONG })).json()).toEqual({ detail: 'Email already registered' });
    }
    const limited = await c.post('/register', { email: uniqueEmail(), password: STRONG });
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
  });
});
