// The Console's Apps screens (issue 15) through app.inject, signed in through the hosted login: list,
// create with the secret shown once, field errors next to their field with nothing written, edit,
// regenerate and delete behind confirmation pages, logo upload, the branded sign-in preview, and the
// tier boundaries (an app admin sees only their app; another app's URL is a 404 and changes nothing).
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '../../src/lib/crypto.js';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { makeAdminWorld, snapshot, type AdminWorld } from '../helpers/admin-world.js';
import { csrfTokenOf } from '../helpers/http.js';
import { consoleSignIn, type ConsoleBrowser } from './console-helpers.js';

let ctx: TestContext;
let w: AdminWorld;
let platform: ConsoleBrowser;
beforeAll(async () => {
  ctx = await createTestContext();
  w = await makeAdminWorld(ctx);
  platform = (await consoleSignIn(ctx, { email: w.platform.user.email, password: w.platform.password })).browser;
});
afterAll(async () => ctx?.close());

const PNG = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]),
  Buffer.from('IHDR'),
  Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89]),
  Buffer.from([0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]),
]);

function createFields(name: string, extra: Record<string, string> = {}) {
  return {
    name,
    registration_policy: 'invite',
    client_type: 'confidential',
    redirect_uris: 'https://shop.example.com/callback\nhttps://shop.example.com/cb2',
    post_logout_redirect_uris: 'https://shop.example.com/bye',
    allowed_providers: 'password',
    grant_types: 'authorization_code',
    available_roles: 'user, editor',
    auto_assign_roles: 'user',
    token_lifetime_minutes: '10',
    refresh_lifetime_days: '7',
    refresh_reuse_interval: '5',
    primary_color: '#aa3300',
    backchannel_logout_uri: 'https://shop.example.com/backchannel',
    require_par: 'on',
    ...extra,
  };
}

async function upload(b: ConsoleBrowser, appId: string, bytes: Buffer, csrf: string): Promise<LightMyRequestResponse> {
  const boundary = '----km-console-test';
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="_csrf"\r\n\r\n${csrf}\r\n`),
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="logo.png"\r\nContent-Type: image/png\r\n\r\n`),
    bytes,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return b.jar.store(
    await ctx.app.inject({
      method: 'POST',
      url: `/console/apps/${appId}/logo`,
      headers: { cookie: b.jar.header(), 'content-type': `multipart/form-data; boundary=${boundary}` },
      payload: body,
    }),
  );
}

describe('Console apps, platform admin', () => {
  it('lists every app and offers "New app"', async () => {
    const page = await platform.get('/console/apps');
    expect(page.statusCode).toBe(200);
    for (const a of [w.a1, w.a2, w.b1]) expect(page.body).toContain(`href="/console/apps/${a.appId}"`);
    expect(page.body).toContain('href="/console/apps/new"');
    expect(page.body).toMatch(/<a href="\/console\/apps"[^>]*aria-current="page"/);
  });

  it('creates an app with every field and shows the client secret once, no-store, in no URL', async () => {
    const form = await platform.get('/console/apps/new');
    expect(form.statusCode).toBe(200);
    const res = await platform.post('/console/apps/new', createFields('Shop'), form);
    // Post/redirect/get: a reload never makes a second app; the secret travels sealed, never in the URL.
    expect(res.statusCode).toBe(303);
    const secretUrl = res.headers.location as string;
    expect(secretUrl).toMatch(/^\/console\/apps\/[0-9a-f-]{36}\/secret$/);
    const shown = await platform.get(secretUrl);
    expect(shown.statusCode).toBe(200);
    expect(shown.headers['cache-control']).toBe('no-store');
    const secret = /<code id="client-secret"[^>]*>([0-9a-f]{64})<\/code>/.exec(shown.body)![1]!;
    expect(shown.body).toContain('data-copy="client-secret"');
    expect(JSON.stringify(res.headers)).not.toContain(secret);
    // Once: the same page again (a reload) no longer has it.
    const again = await platform.get(secretUrl);
    expect(again.statusCode).toBe(200);
    expect(again.body).not.toContain(secret);
    expect(again.body).toContain('no longer available');
    const row = await ctx.deps.db.selectFrom('apps').selectAll().where('name', '=', 'Shop').executeTakeFirstOrThrow();
    expect(row.client_secret_hash).toBe(sha256(secret));
    expect(row).toMatchObject({
      registration_policy: 'invite',
      redirect_uris: ['https://shop.example.com/callback', 'https://shop.example.com/cb2'],
      post_logout_redirect_uris: ['https://shop.example.com/bye'],
      grant_types: ['authorization_code'],
      available_roles: ['user', 'editor'],
      auto_assign_roles: ['user'],
      access_token_ttl: 600,
      refresh_token_ttl_days: 7,
      primary_color: '#aa3300',
      backchannel_logout_uri: 'https://shop.example.com/backchannel',
      require_pushed_authorization_requests: true,
      third_party: false,
      refresh_reuse_interval: 5,
    });
    // Audited as the signed-in admin, through the Admin API.
    const audit = await ctx.deps.db
      .selectFrom('audit_events')
      .selectAll()
      .where('event', '=', 'app.created')
      .where('app_id', '=', row.app_id)
      .executeTakeFirstOrThrow();
    expect(audit.data).toMatchObject({ actor: 'admin', actor_id: w.platform.user.id, source: 'admin_api' });
    // The app's page never shows the secret again.
    const show = await platform.get(`/console/apps/${row.app_id}`);
    expect(show.statusCode).toBe(200);
    expect(show.body).not.toContain(secret);
  });

  it('shows the API refusal next to the field it concerns, and writes nothing', async () => {
    const before = await snapshot(ctx, 'apps');
    const form = await platform.get('/console/apps/new');
    const res = await platform.post(
      '/console/apps/new',
      createFields('Bad', { redirect_uris: 'https://ok.example.com/cb\nnot a uri' }),
      form,
    );
    expect(res.statusCode).toBe(400);
    expect(res.body).toMatch(/<textarea id="redirect_uris"[^>]*aria-invalid="true"/);
    expect(res.body).toMatch(/<p class="field-error" id="redirect_uris-error">line 2: [^<]+<\/p>/);
    // What was typed is kept.
    expect(res.body).toContain('not a uri');
    const notNumber = await platform.post('/console/apps/new', createFields('Bad', { token_lifetime_minutes: 'ten' }), form);
    expect(notNumber.statusCode).toBe(400);
    expect(notNumber.body).toContain('id="token_lifetime_minutes-error">must be a whole number');
    const badColour = await platform.post('/console/apps/new', createFields('Bad', { primary_color: 'red' }), form);
    expect(badColour.statusCode).toBe(400);
    expect(badColour.body).toMatch(/id="primary_color-error">[^<]*colour/);
    expect(await snapshot(ctx, 'apps')).toBe(before);
  });

  it('refuses a create without the CSRF token', async () => {
    const before = await snapshot(ctx, 'apps');
    const res = await platform.post('/console/apps/new', createFields('NoCsrf'));
    expect(res.statusCode).toBe(403);
    expect(await snapshot(ctx, 'apps')).toBe(before);
  });

  it('edits an app (post/redirect/get) and keeps its logo', async () => {
    const page = await platform.get(`/console/apps/${w.a2.appId}`);
    expect(page.statusCode).toBe(200);
    const saved = await platform.post(
      `/console/apps/${w.a2.appId}`,
      createFields('A2 renamed', { redirect_uris: 'https://a2.example.com/cb', primary_color: '' }),
      page,
    );
    expect(saved.statusCode).toBe(303);
    expect(saved.headers.location).toBe(`/console/apps/${w.a2.appId}?saved=1`);
    const row = await ctx.deps.db.selectFrom('apps').selectAll().where('app_id', '=', w.a2.appId).executeTakeFirstOrThrow();
    expect(row).toMatchObject({
      name: 'A2 renamed',
      redirect_uris: ['https://a2.example.com/cb'],
      primary_color: null,
      refresh_reuse_interval: 5,
    });
    expect((await platform.get(saved.headers.location as string)).body).toContain('Saved.');
  });

  it('regenerates the secret only after a confirmation page, and shows the new one once', async () => {
    const confirm = await platform.get(`/console/apps/${w.a1.appId}/regenerate-secret`);
    expect(confirm.statusCode).toBe(200);
    expect(confirm.body).toContain(`action="/console/apps/${w.a1.appId}/regenerate-secret"`);
    const before = await ctx.deps.db
      .selectFrom('apps')
      .select('client_secret_hash')
      .where('app_id', '=', w.a1.appId)
      .executeTakeFirstOrThrow();
    expect((await platform.post(`/console/apps/${w.a1.appId}/regenerate-secret`, {})).statusCode).toBe(403);
    const res = await platform.post(`/console/apps/${w.a1.appId}/regenerate-secret`, {}, confirm);
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe(`/console/apps/${w.a1.appId}/secret`);
    const shown = await platform.get(res.headers.location as string);
    expect(shown.headers['cache-control']).toBe('no-store');
    const secret = /<code id="client-secret"[^>]*>([0-9a-f]{64})<\/code>/.exec(shown.body)![1]!;
    // A second look does not show it.
    expect((await platform.get(`/console/apps/${w.a1.appId}/secret`)).body).not.toContain(secret);
    const after = await ctx.deps.db
      .selectFrom('apps')
      .select('client_secret_hash')
      .where('app_id', '=', w.a1.appId)
      .executeTakeFirstOrThrow();
    expect(after.client_secret_hash).not.toBe(before.client_secret_hash);
    expect(after.client_secret_hash).toBe(sha256(secret));
  });

  it('uploads a logo (multipart, CSRF in the form) and refuses a file that is not an image or over 2 MB', async () => {
    const page = await platform.get(`/console/apps/${w.a1.appId}`);
    const csrf = csrfTokenOf(page.body);
    const noCsrf = await upload(platform, w.a1.appId, PNG, 'wrong');
    expect(noCsrf.statusCode).toBe(403);
    const bad = await upload(platform, w.a1.appId, Buffer.from('hello, not an image'), csrf);
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toMatch(/<p class="field-error" id="logo-error">[^<]+<\/p>/);
    const big = await upload(platform, w.a1.appId, Buffer.concat([PNG, Buffer.alloc(2 * 1024 * 1024)]), csrf);
    expect(big.statusCode).toBe(413);
    expect(big.body).toContain('<p class="field-error" id="logo-error">The file is larger than 2 MB.</p>');
    const ok = await upload(platform, w.a1.appId, PNG, csrf);
    expect(ok.statusCode).toBe(303);
    expect(ok.headers.location).toBe(`/console/apps/${w.a1.appId}?saved=logo`);
    const row = await ctx.deps.db.selectFrom('apps').select(['logo_url']).where('app_id', '=', w.a1.appId).executeTakeFirstOrThrow();
    expect(row.logo_url).toBe(`${ctx.deps.config.issuer}/logos/${w.a1.appId}`);
  });

  it('previews the real sign-in page with the app branding, framable by the Console only, with an unsaved colour', async () => {
    const page = await platform.get(`/console/apps/${w.a1.appId}`);
    expect(page.body).toContain(
      `<iframe id="preview" class="preview" title="Preview of the sign-in page of A1" src="/console/apps/${w.a1.appId}/preview" sandbox="allow-same-origin"></iframe>`,
    );
    expect(page.headers['content-security-policy']).toContain("frame-src 'self'");
    const preview = await platform.get(`/console/apps/${w.a1.appId}/preview`);
    expect(preview.statusCode).toBe(200);
    expect(preview.body).toContain('name="password"');
    expect(preview.body).toContain(`href="/branding/${w.a1.appId}.css"`);
    expect(preview.body).toContain(`/logos/${w.a1.appId}`);
    expect(preview.headers['content-security-policy']).toContain("frame-ancestors 'self'");
    expect(preview.headers['x-frame-options']).toBe('SAMEORIGIN');
    const coloured = await platform.get(`/console/apps/${w.a1.appId}/preview?color=%23ff0066`);
    expect(coloured.body).toContain('href="/console/assets/palette.css?color=%23ff0066"');
    expect(coloured.body).not.toContain(`/branding/${w.a1.appId}.css`);
    const css = await ctx.app.inject({ url: '/console/assets/palette.css?color=%23ff0066' });
    expect(css.statusCode).toBe(200);
    expect(css.body).toContain('#ff0066');
    expect((await platform.get(`/console/apps/${w.a1.appId}/preview?color=red`)).statusCode).toBe(400);
    // Other pages stay unframable.
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
  });

  it('deletes an app only after a confirmation page', async () => {
    const form = await platform.get('/console/apps/new');
    await platform.post('/console/apps/new', createFields('Doomed'), form);
    const row = await ctx.deps.db.selectFrom('apps').select('app_id').where('name', '=', 'Doomed').executeTakeFirstOrThrow();
    const confirm = await platform.get(`/console/apps/${row.app_id}/delete`);
    expect(confirm.statusCode).toBe(200);
    expect(confirm.body).toContain('This cannot be undone');
    const res = await platform.post(`/console/apps/${row.app_id}/delete`, {}, confirm);
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/console/apps?deleted=1');
    expect(await ctx.deps.db.selectFrom('apps').select('app_id').where('app_id', '=', row.app_id).executeTakeFirst()).toBeUndefined();
    expect((await platform.get(`/console/apps/${row.app_id}`)).statusCode).toBe(404);
  });
});

describe('Console apps, tier boundaries', () => {
  it('an app admin sees only their app; another app is a 404 by every URL, and nothing changes', async () => {
    const { browser } = await consoleSignIn(ctx, { email: w.appAdminA1.user.email, password: w.appAdminA1.password });
    const list = await browser.get('/console/apps');
    expect(list.statusCode).toBe(200);
    expect(list.body).toContain(`href="/console/apps/${w.a1.appId}"`);
    expect(list.body).not.toContain(w.a2.appId);
    expect(list.body).not.toContain(w.b1.appId);
    expect(list.body).not.toContain('href="/console/apps/new"');
    const before = await snapshot(ctx, 'apps');
    const own = await browser.get(`/console/apps/${w.a1.appId}`);
    expect(own.statusCode).toBe(200);
    for (const other of [w.a2.appId, w.b1.appId]) {
      for (const path of ['', '/preview', '/delete', '/regenerate-secret', '/secret']) {
        const res = await browser.get(`/console/apps/${other}${path}`);
        expect(res.statusCode, `${path}`).toBe(404);
        expect(res.body).toContain('href="/console"');
      }
      expect((await browser.post(`/console/apps/${other}/delete`, {}, own)).statusCode).toBe(404);
      expect((await browser.post(`/console/apps/${other}/regenerate-secret`, {}, own)).statusCode).toBe(404);
      expect((await browser.post(`/console/apps/${other}`, createFields('Hijacked'), own)).statusCode).toBe(404);
    }
    expect(await snapshot(ctx, 'apps')).toBe(before);
    // Creating apps is for platform and tenant admins.
    expect((await browser.get('/console/apps/new')).statusCode).toBe(403);
  });

  it('a manager sees the app read-only and cannot change it', async () => {
    const { browser } = await consoleSignIn(ctx, { email: w.managerA1.user.email, password: w.managerA1.password });
    const page = await browser.get(`/console/apps/${w.a1.appId}`);
    expect(page.statusCode).toBe(200);
    expect(page.body).not.toContain(`action="/console/apps/${w.a1.appId}"`);
    expect(page.body).not.toContain('Regenerate client secret');
    const before = await snapshot(ctx, 'apps');
    const res = await browser.post(`/console/apps/${w.a1.appId}`, createFields('Manager was here'), page);
    expect(res.statusCode).toBe(403);
    expect(await snapshot(ctx, 'apps')).toBe(before);
  });

  it('a tenant admin creates an app in their tenant only', async () => {
    const { browser } = await consoleSignIn(ctx, { email: w.tenantAdminA.user.email, password: w.tenantAdminA.password });
    const form = await browser.get('/console/apps/new');
    expect(form.statusCode).toBe(200);
    expect(form.body).toContain(`<option value="${w.tenantA.id}"`);
    expect(form.body).not.toContain(w.tenantB.id);
    expect(form.body).not.toContain('None (a platform app)');
    const res = await browser.post('/console/apps/new', createFields('Tenant app', { tenant_id: w.tenantA.id }), form);
    expect(res.statusCode).toBe(303);
    const before = await snapshot(ctx, 'apps');
    const other = await browser.post('/console/apps/new', createFields('Elsewhere', { tenant_id: w.tenantB.id }), form);
    expect(other.statusCode).toBeGreaterThanOrEqual(400);
    expect(other.statusCode).toBeLessThan(500);
    expect(await snapshot(ctx, 'apps')).toBe(before);
  });
});
