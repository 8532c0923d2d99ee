// DESIGN.md §4.8 cookies: on an https issuer km_sso is __Host-km_sso (km_device likewise); Secure; HttpOnly; SameSite=Lax;
// Path=/ (and no Domain), and each sign-in mints a fresh id (no session fixation).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '../../src/lib/crypto.js';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { makeApp, makeUser } from '../helpers/factories.js';
import { signInThroughForm } from '../helpers/security.js';

function setCookieHeaders(res: { headers: Record<string, unknown> }): string[] {
  const h = res.headers['set-cookie'];
  return Array.isArray(h) ? (h as string[]) : typeof h === 'string' ? [h] : [];
}
const find = (headers: string[], name: string) => headers.find((h) => h.startsWith(`${name}=`));

describe('cookies on an https issuer', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext({ env: { KEYMASTER_ISSUER: 'https://id.example.com' } });
  });
  afterAll(() => ctx.close());

  it('km_sso, km_device and the CSRF cookie are __Host-, Secure, HttpOnly, SameSite=Lax, Path=/, no Domain', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    const r = await signInThroughForm(ctx, app.appId, user.email, password);
    expect(r.post.statusCode).toBe(303);
    for (const [res, name] of [
      [r.post, '__Host-km_sso'],
      [r.post, '__Host-km_device'],
      [r.page.res, '__Host-km_csrf'],
    ] as const) {
      const sc = find(setCookieHeaders(res), name);
      expect(sc, `${name} is set`).toBeDefined();
      const attrs = sc!.split(';').map((a) => a.trim().toLowerCase());
      expect(attrs).toContain('secure');
      expect(attrs).toContain('httponly');
      expect(attrs).toContain('samesite=lax');
      expect(attrs).toContain('path=/');
      expect(attrs.some((a) => a.startsWith('domain='))).toBe(false);
    }
    // No unprefixed fallback cookie is ever set on https.
    expect(find(setCookieHeaders(r.post), 'km_sso')).toBeUndefined();
  });

  it('HSTS is sent on https', async () => {
    const res = await ctx.app.inject({ url: '/healthz' });
    expect(res.headers['strict-transport-security']).toMatch(/max-age=\d{7,}/);
  });
});

describe('cookies on plain http (local development)', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(() => ctx.close());

  it('km_sso is HttpOnly and SameSite=Lax, without Secure or the __Host- prefix', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    const r = await signInThroughForm(ctx, app.appId, user.email, password);
    const sc = find(setCookieHeaders(r.post), 'km_sso')!;
    expect(sc).toMatch(/HttpOnly/i);
    expect(sc).toMatch(/SameSite=Lax/i);
    expect(sc).not.toMatch(/Secure/i);
  });

  it('every sign-in mints a fresh session id; a planted cookie is never adopted (no fixation)', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    const planted = 'a'.repeat(64);
    const first = await signInThroughForm(ctx, app.appId, user.email, password, { cookies: { km_sso: planted } });
    expect(first.post.statusCode).toBe(303);
    const id1 = first.cookies.km_sso!;
    expect(id1).toMatch(/^[0-9a-f]{64}$/);
    expect(id1).not.toBe(planted);
    const second = await signInThroughForm(ctx, app.appId, user.email, password, { cookies: { km_sso: id1 }, state: 'again' });
    expect(second.post.statusCode).toBe(303);
    const id2 = second.cookies.km_sso!;
    expect(id2).not.toBe(id1);
    const rows = await ctx.deps.db.selectFrom('sessions').select('token_hash').where('user_id', '=', user.id).execute();
    const hashes = rows.map((r) => r.token_hash);
    expect(hashes).toContain(sha256(id1));
    expect(hashes).toContain(sha256(id2));
    expect(hashes).not.toContain(sha256(planted));
    // Stored only as hashes (DESIGN.md §4.1).
    expect(hashes).not.toContain(id1);
  });
});
