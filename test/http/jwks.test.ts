import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/app.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx.close());

describe('GET /.well-known/jwks.json', () => {
  it('publishes only public RSA members with kid, alg RS256, use sig, and caching headers', async () => {
    const res = await ctx.app.inject({ url: '/.well-known/jwks.json' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('application/json');
    expect(res.headers['cache-control']).toMatch(/max-age=\d+/);
    expect(res.headers.etag).toBeTruthy();
    const { keys } = res.json();
    expect(keys.length).toBeGreaterThanOrEqual(1);
    for (const k of keys) {
      expect(Object.keys(k).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
      expect(k).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
    }
  });

  it('answers 304 to a matching If-None-Match', async () => {
    const first = await ctx.app.inject({ url: '/.well-known/jwks.json' });
    const again = await ctx.app.inject({ url: '/.well-known/jwks.json', headers: { 'if-none-match': first.headers.etag as string } });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
  });

  it('the private key is encrypted at rest (AES-256-GCM, bound to its kid)', async () => {
    const rows = await ctx.deps.db.selectFrom('signing_keys').selectAll().execute();
    for (const r of rows) {
      expect(r.private_key_enc).toMatch(/^v1\./);
      expect(r.private_key_enc).not.toContain('PRIVATE KEY');
      expect(JSON.stringify(r.public_jwk)).not.toMatch(/"d"|"p"|"q"/);
    }
  });
});
