// DESIGN.md §4.8 headers: CSP without inline script, frame-ancestors 'none' + X-Frame-Options DENY,
// Referrer-Policy no-referrer, nosniff; no HSTS on http; token responses are Cache-Control: no-store.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { DEFAULT_REDIRECT, makeApp, makeUser } from '../helpers/factories.js';
import { signInThroughForm } from '../helpers/security.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx.close());

function directives(csp: string): Map<string, string[]> {
  return new Map(
    csp
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((d) => d[0])
      .map(([name, ...values]) => [name!, values]),
  );
}

describe('security headers', () => {
  const pages: { name: string; url: (appId: string) => string }[] = [
    { name: 'sign-in page', url: (a) => `/login?app_id=${a}&redirect_uri=${encodeURIComponent(DEFAULT_REDIRECT)}` },
    { name: 'error page', url: () => `/login?app_id=nope&redirect_uri=${encodeURIComponent(DEFAULT_REDIRECT)}` },
    { name: 'signed-out page', url: () => '/sso/logout' },
    { name: 'JSON 404', url: () => '/no-such-thing' },
  ];
  for (const p of pages) {
    it(`${p.name}: CSP, framing, referrer, nosniff`, async () => {
      const { app } = await makeApp(ctx.deps);
      const res = await ctx.app.inject({ url: p.url(app.appId) });
      const csp = directives(String(res.headers['content-security-policy']));
      expect(csp.get('script-src')).toEqual(["'self'"]);
      expect(csp.get('default-src')).toEqual(["'none'"]);
      expect(csp.get('frame-ancestors')).toEqual(["'none'"]);
      expect(csp.get('base-uri')).toEqual(["'none'"]);
      expect(String(res.headers['content-security-policy'])).not.toContain('unsafe-inline');
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['strict-transport-security']).toBeUndefined();
    });
  }

  // Public JSON documents are fetched by resource servers and by browser apps on other origins (jose's
  // createRemoteJWKSet in a SPA): readable cross-origin, never framed, never sniffed as HTML.
  for (const url of ['/.well-known/jwks.json', '/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
    it(`${url}: a public document (CORS *, nosniff, CSP that allows nothing), not the page set`, async () => {
      const res = await ctx.app.inject({ url });
      expect(res.statusCode).toBe(200);
      expect(res.headers['access-control-allow-origin']).toBe('*');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      const csp = directives(String(res.headers['content-security-policy']));
      expect(csp.get('default-src')).toEqual(["'none'"]);
      expect(csp.get('frame-ancestors')).toEqual(["'none'"]);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.headers['strict-transport-security']).toBeUndefined();
      // Page-only headers are not sent on documents (helmet's set protects what a browser renders).
      expect(res.headers['cross-origin-resource-policy']).toBeUndefined();
      expect(res.headers['x-frame-options']).toBeUndefined();
    });
  }

  it("a route's own refusal (415 before the body is read) carries the page set", async () => {
    const res = await ctx.app.inject({ method: 'POST', url: '/token/refresh', headers: { 'content-type': 'text/plain' }, payload: 'x' });
    expect(res.statusCode).toBe(415);
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });

  it('documents on https also carry HSTS', async () => {
    const https = await createTestContext({ env: { KEYMASTER_ISSUER: 'https://id.example.com' } });
    try {
      const res = await https.app.inject({ url: '/.well-known/jwks.json' });
      expect(res.headers['strict-transport-security']).toMatch(/^max-age=31536000/);
      expect(res.headers['access-control-allow-origin']).toBe('*');
      const page = await https.app.inject({ url: '/sso/logout' });
      expect(page.headers['strict-transport-security']).toMatch(/^max-age=31536000/);
      expect(page.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await https.close();
    }
  });

  it('HTML pages have no inline script or style: styles and the one script come from this origin', async () => {
    const { app } = await makeApp(ctx.deps);
    const a = await ctx.app.inject({ url: pages[0]!.url(app.appId) });
    // The only script element is the show-password file, empty, same origin (CSP script-src 'self').
    expect(a.body.match(/<script\b[^>]*>[^<]*<\/script>/gi)).toEqual([
      '<script src="/assets/show-password.js" defer data-label="Show password"></script>',
    ]);
    expect(a.body.match(/<script/gi)).toHaveLength(1);
    const js = await ctx.app.inject({ url: '/assets/show-password.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(a.body).not.toMatch(/\son[a-z]+=/i);
    expect(a.body).not.toMatch(/<style|\sstyle=/i);
    expect(a.body).toContain('<link rel="stylesheet" href="/assets/keymaster.css">');
    const csp = directives(String(a.headers['content-security-policy']));
    expect(csp.get('style-src')).toEqual(["'self'"]);
    expect(csp.get('script-src')).toEqual(["'self'"]);
    expect(a.headers['cache-control']).toBe('no-store');
  });

  it('token responses and the sign-in redirect are Cache-Control: no-store', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    const r = await signInThroughForm(ctx, app.appId, user.email, password);
    expect(r.post.headers['cache-control']).toBe('no-store');
    const refreshed = await ctx.app.inject({
      method: 'POST',
      url: '/token/refresh',
      payload: { refresh_token: r.refreshToken, app_id: app.appId },
    });
    expect(refreshed.statusCode).toBe(200);
    expect(refreshed.headers['cache-control']).toBe('no-store');
    expect(refreshed.headers.pragma).toBe('no-cache');
    const failed = await ctx.app.inject({
      method: 'POST',
      url: '/token/refresh',
      payload: { refresh_token: 'f'.repeat(64), app_id: app.appId },
    });
    expect(failed.statusCode).toBeGreaterThanOrEqual(400);
    expect(failed.headers['cache-control']).toBe('no-store');
  });
});
