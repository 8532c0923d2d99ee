// The first-start setup link and page (issue 14): one valid link at a time, the page creates exactly
// one platform admin (concurrent submits included), and a wrong, used, replaced or expired link is
// refused with a branded page.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { announceSetupLink, issueSetupLink, SETUP_LINK_TTL_MS } from '../../src/domain/admin/bootstrap.js';
import { hasPlatformAdmin } from '../../src/domain/admin/operator-grants.js';
import type { FixedClock } from '../../src/lib/clock.js';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { DEFAULT_PASSWORD } from '../helpers/factories.js';
import { cookieHeader, cookiesOf, csrfTokenOf, form, FORM } from '../helpers/http.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ clock: 'fixed' });
});
afterAll(async () => ctx?.close());
// Each test starts from a server without admins.
beforeEach(async () => {
  await ctx.deps.db.deleteFrom('admin_grants').execute();
  await ctx.deps.db.deleteFrom('setup_link').execute();
});

const tokenOf = (url: string) => new URL(url).searchParams.get('token')!;

async function openForm(token: string) {
  const page = await ctx.app.inject({ url: `/setup?token=${token}` });
  return { page, csrf: page.statusCode === 200 ? csrfTokenOf(page.body) : '', cookie: cookieHeader(cookiesOf(page)) };
}

async function submit(token: string, fields: Record<string, string>, f?: Awaited<ReturnType<typeof openForm>>) {
  const opened = f ?? (await openForm(token));
  return ctx.app.inject({
    method: 'POST',
    url: '/setup',
    headers: { ...FORM, cookie: opened.cookie },
    payload: form({ _csrf: opened.csrf, token, password: DEFAULT_PASSWORD, confirm_password: DEFAULT_PASSWORD, ...fields }),
  });
}

const email = () => `first-admin-${Math.random().toString(36).slice(2)}@example.com`;

describe('setup link', () => {
  it('is logged at start while no admin exists, with only its hash stored; never once an admin exists', async () => {
    await announceSetupLink(ctx.deps);
    const line = ctx
      .logs()
      .filter((l) => l.event === 'setup.link_issued')
      .at(-1)!;
    const url = /(http:\/\/\S+\/setup\?token=[0-9a-f]{64})/.exec(line.msg as string)![1]!;
    expect(url.startsWith(`${ctx.deps.config.issuer}/setup?token=`)).toBe(true);
    const rows = await ctx.deps.db.selectFrom('setup_link').selectAll().execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]!.token_hash).not.toContain(tokenOf(url));
    expect((await submit(tokenOf(url), { email: email() })).statusCode).toBe(200);
    const before = ctx.logs().filter((l) => l.event === 'setup.link_issued').length;
    await announceSetupLink(ctx.deps);
    expect(ctx.logs().filter((l) => l.event === 'setup.link_issued')).toHaveLength(before);
    expect(await issueSetupLink(ctx.deps)).toBeUndefined();
  });

  it('GET shows the branded form, no-store and no-referrer, with a CSRF token and a strict CSP', async () => {
    const { url } = (await issueSetupLink(ctx.deps))!;
    const { page } = await openForm(tokenOf(url));
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('Create the first administrator');
    expect(page.body).toContain('name="_csrf"');
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.body).not.toMatch(/<script>|<style>|style="/);
  });

  it('POST creates one verified user with a platform_admin grant, then the link is used', async () => {
    const { url } = (await issueSetupLink(ctx.deps))!;
    const token = tokenOf(url);
    const address = email();
    const res = await submit(token, { email: address, name: 'First Admin' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('/console');
    const user = await ctx.deps.db.selectFrom('users').selectAll().where('email', '=', address).executeTakeFirstOrThrow();
    expect(user.email_verified_at).not.toBeNull();
    const grants = await ctx.deps.db.selectFrom('admin_grants').selectAll().where('user_id', '=', user.id).execute();
    expect(grants.map((g) => g.tier)).toEqual(['platform_admin']);
    const audit = await ctx.deps.db.selectFrom('audit_events').select(['event', 'data']).where('user_id', '=', user.id).execute();
    expect(audit.map((a) => a.event).sort()).toEqual(['admin.granted', 'user.created']);
    expect((await ctx.deps.db.selectFrom('setup_link').selectAll().executeTakeFirstOrThrow()).used_at).not.toBeNull();
    // Used: the link now shows the dead-link page with the way to a new one.
    const again = await ctx.app.inject({ url: `/setup?token=${token}` });
    expect(again.statusCode).toBe(403);
    expect(again.body).toContain('keymaster admin create');
    expect(again.headers['cache-control']).toBe('no-store');
  });

  it('two concurrent submits make exactly one admin', async () => {
    const { url } = (await issueSetupLink(ctx.deps))!;
    const token = tokenOf(url);
    const [a, b] = await Promise.all([openForm(token), openForm(token)]);
    const results = await Promise.all([submit(token, { email: email() }, a), submit(token, { email: email() }, b)]);
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 403]);
    const admins = await ctx.deps.db.selectFrom('admin_grants').selectAll().where('tier', '=', 'platform_admin').execute();
    expect(admins).toHaveLength(1);
  });

  it('a wrong, replaced or expired token is refused, and creates nothing', async () => {
    const first = tokenOf((await issueSetupLink(ctx.deps))!.url);
    // A real form (its CSRF token) with another token in it.
    const wrong = await submit('0'.repeat(64), { email: email() }, await openForm(first));
    expect(wrong.statusCode).toBe(403);
    expect(wrong.body).toContain('This setup link no longer works');
    // A new start issues a new link: the old one stops working.
    const second = tokenOf((await issueSetupLink(ctx.deps))!.url);
    expect((await ctx.app.inject({ url: `/setup?token=${first}` })).statusCode).toBe(403);
    expect((await ctx.app.inject({ url: `/setup?token=${second}` })).statusCode).toBe(200);
    const opened = await openForm(second);
    (ctx.clock as FixedClock).advance(SETUP_LINK_TTL_MS + 1000);
    expect((await ctx.app.inject({ url: `/setup?token=${second}` })).statusCode).toBe(403);
    expect((await submit(second, { email: email() }, opened)).statusCode).toBe(403);
    expect(await hasPlatformAdmin(ctx.deps)).toBe(false);
    expect((await ctx.app.inject({ url: '/setup' })).statusCode).toBe(403);
  });

  it('a submit without the CSRF token is refused; a weak password is refused with the policy', async () => {
    const token = tokenOf((await issueSetupLink(ctx.deps))!.url);
    const noCsrf = await ctx.app.inject({
      method: 'POST',
      url: '/setup',
      headers: FORM,
      payload: form({ token, email: email(), password: DEFAULT_PASSWORD, confirm_password: DEFAULT_PASSWORD }),
    });
    expect(noCsrf.statusCode).toBe(403);
    const weak = await submit(token, { email: email(), password: 'short', confirm_password: 'short' });
    expect(weak.statusCode).toBe(400);
    expect(weak.body).toContain('Create the first administrator');
    expect(await hasPlatformAdmin(ctx.deps)).toBe(false);
  });

  it('a platform admin made another way (keymaster admin create) ends the link', async () => {
    const token = tokenOf((await issueSetupLink(ctx.deps))!.url);
    const { createPlatformAdmin } = await import('../../src/domain/admin/bootstrap.js');
    await createPlatformAdmin(ctx.deps, { email: email(), password: async () => DEFAULT_PASSWORD }, { actor: 'cli' });
    expect((await ctx.app.inject({ url: `/setup?token=${token}` })).statusCode).toBe(403);
  });
});
