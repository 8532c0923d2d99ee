// Never a dead end, never raw JSON to a browser: `/` is a landing page for developers (JSON for API
// clients), an unknown path is a branded 404 page for a browser (JSON for everyone else), and every
// error page names a reference that is in the log line of its request, and a way back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestIdGenerator } from '../../src/app.js';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { makeApp } from '../helpers/factories.js';

const BROWSER = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx?.close());

const referenceOf = (html: string) => /Reference: <code>([^<]+)<\/code>/.exec(html)?.[1];

describe('GET /', () => {
  it('a browser gets a landing page with the next steps and the documents', async () => {
    const res = await ctx.app.inject({ url: '/', headers: { accept: BROWSER } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body).toContain('<title>Keymaster is running</title>');
    expect(res.body).toContain('npx keymaster apps create');
    expect(res.body).toContain('npm run demo');
    expect(res.body).toContain(`href="${ctx.deps.config.issuer}/.well-known/openid-configuration"`);
    expect(res.body).toContain(`href="${ctx.deps.config.issuer}/.well-known/jwks.json"`);
  });

  it('an API client gets the same facts as JSON', async () => {
    for (const headers of [{}, { accept: 'application/json' }, { accept: 'application/json, text/html' }]) {
      const res = await ctx.app.inject({ url: '/', headers });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({
        service: 'keymaster',
        issuer: ctx.deps.config.issuer,
        jwks_uri: `${ctx.deps.config.issuer}/.well-known/jwks.json`,
      });
    }
  });
});

describe('unknown paths', () => {
  it('a browser gets the branded 404 page with a way back and a reference in the log', async () => {
    const res = await ctx.app.inject({ url: '/no/such/page', headers: { accept: BROWSER } });
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    expect(res.body).toContain('<title>Page not found</title>');
    expect(res.body).toContain('href="/">Go to the start page</a>');
    const ref = referenceOf(res.body);
    expect(ref).toMatch(/^[0-9a-f]{8}-[0-9a-z]+$/);
    expect(ctx.logs().some((l) => l.reqId === ref)).toBe(true);
  });

  it('an API client keeps the JSON 404, and a POST is never a page', async () => {
    const api = await ctx.app.inject({ url: '/no/such/page' });
    expect(api.statusCode).toBe(404);
    expect(api.headers['content-type']).toMatch(/^application\/json/);
    expect(api.json()).toHaveProperty('error');
    const post = await ctx.app.inject({ method: 'POST', url: '/no/such/page', headers: { accept: BROWSER } });
    expect(post.statusCode).toBe(404);
    expect(post.headers['content-type']).toMatch(/^application\/json/);
  });
});

describe('error pages', () => {
  it('name a reference that is in the log line of the request that failed', async () => {
    const { app } = await makeApp(ctx.deps);
    const res = await ctx.app.inject({
      url: `/login?app_id=${app.appId}&redirect_uri=https%3A%2F%2Fevil.example%2F`,
      headers: { accept: BROWSER },
    });
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('<title>This request cannot be completed');
    const ref = referenceOf(res.body);
    expect(ref).toBeDefined();
    const line = ctx.logs().find((l) => l.reqId === ref && l.event === 'request.rejected');
    expect(line).toMatchObject({ code: 'invalid_request' });
    expect(res.body).toContain('href="/">Go to the start page</a>');
  });

  it('request ids are unique across processes (a random prefix each) and within one', () => {
    const a = requestIdGenerator();
    const b = requestIdGenerator();
    const ids = [a(), a(), b(), b()];
    expect(new Set(ids).size).toBe(4);
    expect(ids[0]!.split('-')[0]).not.toBe(ids[2]!.split('-')[0]);
  });
});
