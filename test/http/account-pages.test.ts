// Hosted account pages: linked from /login, CSRF-protected, branded, driven by the links in real emails,
// and ending with "Continue to sign in" back to the app's /login.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { DEFAULT_REDIRECT, makeApp, makeUser } from '../helpers/factories.js';
import { cookieHeader, cookiesOf, csrfTokenOf, form, FORM } from '../helpers/http.js';
import { linkIn, startSmtpCapture, type SmtpCapture } from '../helpers/smtp.js';

let ctx: TestContext;
let smtp: SmtpCapture;
beforeAll(async () => {
  smtp = await startSmtpCapture();
  ctx = await createTestContext({ env: { SMTP_URL: smtp.url } });
});
afterAll(async () => {
  await ctx.close();
  await smtp.close();
});

const q = (appId: string) => `app_id=${appId}&redirect_uri=${encodeURIComponent(DEFAULT_REDIRECT)}`;
const signInHref = (appId: string) =>
  `/login?${new URLSearchParams({ app_id: appId, redirect_uri: DEFAULT_REDIRECT }).toString().replaceAll('&', '&amp;')}`;

/** GET a page, then POST its form with the CSRF token and cookie it gave. */
async function submit(path: string, fields: Record<string, string>, action = path.split('?')[0]!) {
  const page = await ctx.app.inject({ url: path });
  expect(page.statusCode).toBe(200);
  const hidden: Record<string, string> = {};
  for (const m of page.body.matchAll(/type="hidden" name="([^"]+)" value="([^"]*)"/g)) hidden[m[1]!] = m[2]!.replaceAll('&amp;', '&');
  return ctx.app.inject({
    method: 'POST',
    url: action,
    headers: { ...FORM, cookie: cookieHeader(cookiesOf(page)) },
    payload: form({ ...hidden, _csrf: csrfTokenOf(page.body), ...fields }),
  });
}

describe('hosted account pages', () => {
  it('the sign-in page links to "Create account" and "Forgot password?" for the same app and callback', async () => {
    const { app } = await makeApp(ctx.deps);
    const res = await ctx.app.inject({ url: `/login?${q(app.appId)}` });
    expect(res.body).toContain(`href="/account/register?${q(app.appId).replace('&', '&amp;')}">Create account</a>`);
    expect(res.body).toContain(`href="/account/forgot-password?${q(app.appId).replace('&', '&amp;')}">Forgot password?</a>`);
  });

  it('create account → email link → verify → continue to sign in → signed in', async () => {
    const { app } = await makeApp(ctx.deps, { name: 'Acme Portal' });
    const page = await ctx.app.inject({ url: `/account/register?${q(app.appId)}` });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('Acme Portal');
    expect(page.body).toContain(`/branding/${app.appId}.css`);
    expect(page.body).toContain('>Create account</button>');

    const weak = await submit(`/account/register?${q(app.appId)}`, { name: 'Page User', email: 'page-user@example.com', password: 'weak' });
    expect(weak.statusCode).toBe(400);
    expect(weak.body).toContain('Password too weak');
    expect(weak.body).toContain('value="page-user@example.com"');

    const created = await submit(`/account/register?${q(app.appId)}`, {
      name: 'Page User',
      email: 'page-user@example.com',
      password: 'Pag3-Passw0rd!',
    });
    expect(created.statusCode).toBe(200);
    expect(created.body).toContain('Check your email');

    const mail = await smtp.next('page-user@example.com');
    expect(mail.subject).toBe('Verify your email for Acme Portal');
    const link = linkIn(mail, '/account/verify');
    expect(link.searchParams.get('redirect_uri')).toBe(DEFAULT_REDIRECT);
    // Opening the link only shows a button: a prefetching mail scanner spends nothing.
    const opened = await ctx.app.inject({ url: link.pathname + link.search });
    expect(opened.body).toContain('>Verify email</button>');
    const user = await ctx.deps.db.selectFrom('users').selectAll().where('email', '=', 'page-user@example.com').executeTakeFirstOrThrow();
    expect(user.email_verified_at).toBeNull();

    const verified = await submit(link.pathname + link.search, {});
    expect(verified.statusCode).toBe(200);
    expect(verified.body).toContain('Email verified');
    expect(verified.body).toContain(`href="${signInHref(app.appId)}">Continue to sign in</a>`);
    expect(
      (await ctx.deps.db.selectFrom('users').select('email_verified_at').where('id', '=', user.id).executeTakeFirstOrThrow())
        .email_verified_at,
    ).not.toBeNull();

    const again = await submit(link.pathname + link.search, {});
    expect(again.statusCode).toBe(400);
    expect(again.body).toContain('invalid, expired or already used');

    const signedIn = await submit(`/login?${q(app.appId)}`, { email: 'page-user@example.com', password: 'Pag3-Passw0rd!' }, '/login');
    expect(signedIn.statusCode).toBe(303);
    expect(signedIn.headers.location).toMatch(/^https:\/\/app\.example\.com\/callback\?access_token=/);
  });

  it('forgot password → email link → reset → old session gone → sign in with the new password', async () => {
    const { app } = await makeApp(ctx.deps, { name: 'Reset Co' });
    const { user, password } = await makeUser(ctx.deps);
    const first = await submit(`/login?${q(app.appId)}`, { email: user.email, password }, '/login');
    expect(first.statusCode).toBe(303);

    const unknown = await submit(`/account/forgot-password?${q(app.appId)}`, { email: 'nobody-here@example.com' });
    const known = await submit(`/account/forgot-password?${q(app.appId)}`, { email: user.email });
    expect(known.statusCode).toBe(200);
    expect(unknown.statusCode).toBe(200);
    const noticeOf = (b: string) => /<div class="notice"[^>]*>(.*?)<\/div>/s.exec(b)?.[1];
    expect(noticeOf(unknown.body)).toBe(noticeOf(known.body));

    const link = linkIn(await smtp.next(user.email), '/account/reset-password');
    const page = `${link.pathname}${link.search}`;
    // The form names the account for password managers (hidden, not submitted).
    const form0 = await ctx.app.inject({ url: page });
    expect(form0.body).toContain(`<input type="text" autocomplete="username" value="${user.email}" hidden readonly>`);
    const mismatch = await submit(page, { new_password: 'N3w-Reset-Pass!', confirm_password: 'different' });
    expect(mismatch.statusCode).toBe(400);
    expect(mismatch.body).toContain('do not match');
    const done = await submit(page, { new_password: 'N3w-Reset-Pass!', confirm_password: 'N3w-Reset-Pass!' });
    expect(done.statusCode).toBe(200);
    expect(done.body).toContain('Password changed');
    expect(done.body).toContain(`href="${signInHref(app.appId)}">Continue to sign in</a>`);

    const sessions = await ctx.deps.db.selectFrom('sessions').select('revoked_at').where('user_id', '=', user.id).execute();
    expect(sessions.length).toBe(1);
    expect(sessions[0]!.revoked_at).not.toBeNull();
    // A used link says so as soon as it is opened, with the way out…
    const usedPage = await ctx.app.inject({ url: page });
    expect(usedPage.statusCode).toBe(400);
    expect(usedPage.body).toContain('Send a new link');
    expect(usedPage.body).not.toContain('autocomplete="username"');
    // …and a form posted with it (opened before it was used) gets the same page.
    const used = await ctx.app.inject({
      method: 'POST',
      url: '/account/reset-password',
      headers: { ...FORM, cookie: cookieHeader(cookiesOf(form0)) },
      payload: form({
        _csrf: csrfTokenOf(form0.body),
        app_id: app.appId,
        token: link.searchParams.get('token')!,
        new_password: 'An0ther-Reset!',
        confirm_password: 'An0ther-Reset!',
      }),
    });
    expect(used.statusCode).toBe(400);
    expect(used.body).toContain('Send a new link');
    expect((await submit(`/login?${q(app.appId)}`, { email: user.email, password: 'N3w-Reset-Pass!' }, '/login')).statusCode).toBe(303);
  });

  it('Email not verified has a way out: a new link, the same answer whatever the email, only the newest link works', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps, { verified: false });
    const refused = await submit(`/login?${q(app.appId)}`, { email: user.email, password }, '/login');
    expect(refused.statusCode).toBe(403);
    const resendHref = `/account/verify/resend?${q(app.appId)}`.replaceAll('&', '&amp;');
    expect(refused.body).toContain(`href="${resendHref}">Send a new verification link</a>`);

    const { user: verified } = await makeUser(ctx.deps);
    const answers: (string | undefined)[] = [];
    const resend = async (email: string) => {
      const res = await submit(`/account/verify/resend?${q(app.appId)}`, { email });
      expect(res.statusCode).toBe(200);
      answers.push(/<div class="notice"[^>]*>(.*?)<\/div>/s.exec(res.body)?.[1]);
    };
    await resend(user.email);
    const first = linkIn(await smtp.next(user.email, 0, 'Verify'), '/account/verify');
    await resend('nobody-resend@example.com');
    await resend(verified.email);
    await resend(user.email);
    const second = linkIn(await smtp.next(user.email, 1, 'Verify'), '/account/verify');
    expect(new Set(answers).size).toBe(1);
    // The verified account got no email (its request's job ran before the last one's, which has arrived).
    expect(smtp.to(verified.email)).toHaveLength(0);
    // The older link was retired by the newer one; the newer one verifies, then sign-in works.
    const old = await submit(first.pathname + first.search, {});
    expect(old.statusCode).toBe(400);
    expect(old.body).toContain(`href="/account/verify/resend?${q(app.appId)}`.replaceAll('&', '&amp;'));
    expect((await submit(second.pathname + second.search, {})).body).toContain('Email verified');
    expect((await submit(`/login?${q(app.appId)}`, { email: user.email, password }, '/login')).statusCode).toBe(303);
  });

  it('too many reset requests for one email: the page says so, with Retry-After', async () => {
    const { app } = await makeApp(ctx.deps);
    for (let i = 0; i < 5; i++)
      expect((await submit(`/account/forgot-password?${q(app.appId)}`, { email: 'flood@example.com' })).statusCode).toBe(200);
    const limited = await submit(`/account/forgot-password?${q(app.appId)}`, { email: 'flood@example.com' });
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.body).toContain('Too many attempts. Try again in 15 minutes.');
  });

  it('forms without a valid CSRF token are refused, and nothing is written', async () => {
    const { app } = await makeApp(ctx.deps);
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/account/register',
      headers: FORM,
      payload: form({ app_id: app.appId, redirect_uri: DEFAULT_REDIRECT, email: 'csrf-victim@example.com', password: 'Str0ng-Passw0rd!' }),
    });
    expect(res.statusCode).toBe(403);
    expect(await ctx.deps.db.selectFrom('users').select('id').where('email', '=', 'csrf-victim@example.com').execute()).toHaveLength(0);
    for (const path of ['/account/verify', '/account/forgot-password', '/account/reset-password']) {
      expect(
        (await ctx.app.inject({ method: 'POST', url: path, headers: FORM, payload: form({ token: 'x', email: 'a@b.co' }) })).statusCode,
        path,
      ).toBe(403);
    }
  });

  it('an unknown app or an unregistered redirect_uri gets an error page, never a link onwards', async () => {
    const { app } = await makeApp(ctx.deps);
    const bad = await ctx.app.inject({
      url: `/account/register?app_id=${app.appId}&redirect_uri=${encodeURIComponent('https://evil.example.com/cb')}`,
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.body).not.toContain('evil.example.com');
    const unknown = await ctx.app.inject({ url: '/account/forgot-password?app_id=00000000-0000-4000-8000-000000000000' });
    expect(unknown.statusCode).toBe(400);
  });
});
