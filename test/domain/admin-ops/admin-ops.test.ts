// Domain rules behind the Admin API's operations routes: keyset pages (audit, tokens, deliveries)
// that never skip or repeat a row, scope filters, seed 001's refresh keys, logo sniffing, stats.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAuditPage, recordAuditEvent } from '../../../src/domain/audit/audit.js';
import { sniffLogo } from '../../../src/domain/apps/logos.js';
import { adminStats } from '../../../src/domain/stats/stats.js';
import { listAppTokensPage, listUserTokensPage, revokeTokenFamilyAsAdmin } from '../../../src/domain/tokens/admin-inventory.js';
import { createRefreshKey, RefreshKeyLifetime } from '../../../src/domain/tokens/refresh-keys.js';
import { issueTokens, rotateRefreshToken } from '../../../src/domain/tokens/refresh-tokens.js';
import { addWebhook, listDeliveriesPage, pingWebhook } from '../../../src/domain/webhooks/webhooks.js';
import { AppError } from '../../../src/errors.js';
import { DAY, HOUR, type FixedClock } from '../../../src/lib/clock.js';
import { createTestContext, type TestContext } from '../../helpers/app.js';
import { makeApp, makeUser, member } from '../../helpers/factories.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ clock: 'fixed' });
});
afterAll(() => ctx.close());
const clock = () => ctx.clock as FixedClock;

async function reason(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof AppError) return e.reason;
    throw e;
  }
  return 'no error';
}

describe('audit pages', () => {
  it('pages newest first by (at, id) without skipping or repeating, same-instant rows included, within scope', async () => {
    const { app } = await makeApp(ctx.deps);
    const { app: other } = await makeApp(ctx.deps);
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      // Pairs at the same instant: the id breaks the tie.
      if (i % 2 === 0) clock().advance(1000);
      await recordAuditEvent(ctx.deps, { event: 'test.page', appId: app.appId, data: { i } });
      ids.push(String(i));
    }
    await recordAuditEvent(ctx.deps, { event: 'test.page', appId: other.appId, data: { i: 'other' } });
    const seen: unknown[] = [];
    let cursor: string | undefined;
    do {
      const page = await listAuditPage(ctx.deps, { event: 'test.page', appIds: [app.appId], cursor, limit: 3 });
      seen.push(...page.events.map((e) => e.data.i));
      cursor = page.next;
    } while (cursor);
    expect(seen).toEqual([6, 5, 4, 3, 2, 1, 0]);
    // Scope: another app's event is not in a page scoped to this app, and an empty scope sees nothing.
    expect((await listAuditPage(ctx.deps, { event: 'test.page', appIds: [] })).events).toEqual([]);
    const all = await listAuditPage(ctx.deps, { event: 'test.page', limit: 200 });
    expect(all.events.map((e) => e.data.i)).toContain('other');
  });

  it('filters a time window [since, until) and refuses a forged cursor', async () => {
    const { app } = await makeApp(ctx.deps);
    const t0 = clock().now();
    await recordAuditEvent(ctx.deps, { event: 'test.window', appId: app.appId });
    clock().advance(HOUR);
    const t1 = clock().now();
    await recordAuditEvent(ctx.deps, { event: 'test.window', appId: app.appId });
    const page = await listAuditPage(ctx.deps, { event: 'test.window', since: t0, until: t1 });
    expect(page.events.map((e) => e.at)).toEqual([t0]);
    expect(await reason(listAuditPage(ctx.deps, { cursor: 'bm90LWEtY3Vyc29y' }))).toBe('cursor_invalid');
    expect(await reason(listAuditPage(ctx.deps, { cursor: Buffer.from('["1 or 1=1"]').toString('base64url') }))).toBe('cursor_invalid');
  });
});

describe('token pages and scoped revocation', () => {
  it("pages a user's tokens, filters by app within scope, and hides what is out of reach", async () => {
    const { app } = await makeApp(ctx.deps);
    const { app: other } = await makeApp(ctx.deps);
    const { user } = await makeUser(ctx.deps);
    for (let i = 0; i < 3; i++) await issueTokens(ctx.deps, await member(ctx.deps, user, app), app, {});
    const foreign = await issueTokens(ctx.deps, await member(ctx.deps, user, other), other, {});
    const jtis: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await listUserTokensPage(ctx.deps, user.id, { appIds: [app.appId], cursor, limit: 2 });
      jtis.push(...page.tokens.map((t) => t.jti));
      cursor = page.next;
    } while (cursor);
    expect(jtis).toHaveLength(3);
    expect(new Set(jtis).size).toBe(3);
    expect((await listUserTokensPage(ctx.deps, user.id, { appIds: [app.appId], appId: other.appId })).tokens).toEqual([]);
    expect((await listUserTokensPage(ctx.deps, user.id, { appIds: undefined })).tokens).toHaveLength(4);

    const [foreignRow] = (await listAppTokensPage(ctx.deps, other.appId, {})).tokens;
    expect(foreignRow!.familyId).toBe(foreign.familyId);
    // Out of reach: not found, and nothing revoked.
    expect(await reason(revokeTokenFamilyAsAdmin(ctx.deps, { jti: foreignRow!.jti }, { appIds: [app.appId] }, {}))).toBe(
      'refresh_token_not_found',
    );
    expect((await listAppTokensPage(ctx.deps, other.appId, { active: true })).tokens).toHaveLength(1);
    const r = await revokeTokenFamilyAsAdmin(ctx.deps, { familyId: foreign.familyId }, { appIds: [other.appId] }, { actor: 'admin' });
    expect(r.revoked).toBe(1);
    expect((await listAppTokensPage(ctx.deps, other.appId, { active: true })).tokens).toEqual([]);
  });
});

describe('refresh keys (seed 001 "+")', () => {
  it('parses lifetimes with units and refuses out-of-range ones', () => {
    expect(RefreshKeyLifetime.parse('30d')).toBe(30 * 86_400);
    expect(RefreshKeyLifetime.parse('90m')).toBe(5400);
    expect(RefreshKeyLifetime.parse(3600)).toBe(3600);
    for (const bad of ['0d', '59s', '366d', '1w', '12', -5, 1.5]) expect(RefreshKeyLifetime.safeParse(bad).success).toBe(false);
  });

  it("is the admin's own refresh token for the app: it refreshes, and no rotation outlives its lifetime", async () => {
    const { app } = await makeApp(ctx.deps); // the default refresh lifetime: 30 days
    const { user: admin } = await makeUser(ctx.deps, { name: 'Ada' });
    await member(ctx.deps, admin, app, ['ops']);
    const key = await createRefreshKey(
      ctx.deps,
      { appId: app.appId, audience: app.appId, lifetimeSeconds: 2 * 86_400, adminId: admin.id },
      { actor: 'admin', actorId: admin.id },
    );
    expect(key.refreshToken).toMatch(/^[0-9a-f]{64}$/);
    expect(key.expiresAt.getTime() - key.createdAt.getTime()).toBe(2 * DAY);
    const [listed] = (await listAppTokensPage(ctx.deps, app.appId, { keysOnly: true })).tokens;
    expect(listed).toMatchObject({ jti: key.jti, userId: admin.id, issuedBy: admin.id, claims: { email: admin.email, roles: ['ops'] } });

    clock().advance(DAY);
    const rotated = await rotateRefreshToken(ctx.deps, { refreshToken: key.refreshToken, appId: app.appId });
    const [head] = (await listAppTokensPage(ctx.deps, app.appId, { keysOnly: true, active: true })).tokens;
    // The app gives 30 days; the key's family ends where the key said: one more day.
    expect(head!.expiresAt.getTime()).toBe(key.expiresAt.getTime());
    expect(head!.issuedBy).toBe(admin.id);
    clock().advance(DAY + 1000);
    expect(await reason(rotateRefreshToken(ctx.deps, { refreshToken: rotated.refreshToken, appId: app.appId }))).toBe(
      'refresh_token_invalid',
    );
  });

  it('refuses an audience other than the app, an unknown app, and writes nothing', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user: admin } = await makeUser(ctx.deps);
    const input = { appId: app.appId, audience: 'https://api.example.com', lifetimeSeconds: 3600, adminId: admin.id };
    expect(await reason(createRefreshKey(ctx.deps, input, {}))).toBe('refresh_key_audience_invalid');
    // Not a member of the app: no key (it could never refresh).
    expect(await reason(createRefreshKey(ctx.deps, { ...input, audience: app.appId }, {}))).toBe('app_access_denied');
    const unknown = '00000000-0000-4000-8000-000000000000';
    expect(await reason(createRefreshKey(ctx.deps, { ...input, appId: unknown, audience: unknown }, {}))).toBe('app_not_found');
    expect((await listAppTokensPage(ctx.deps, app.appId, {})).tokens).toEqual([]);
  });
});

describe('webhook delivery pages', () => {
  it('pages a webhook’s deliveries newest first and refuses a foreign cursor', async () => {
    const { app } = await makeApp(ctx.deps);
    const { webhook } = await addWebhook(ctx.deps, { appId: app.appId, url: 'https://hooks.example.com/in', events: ['user.login'] });
    for (let i = 0; i < 5; i++) {
      clock().advance(1000);
      await pingWebhook(ctx.deps, webhook.id);
    }
    const ids: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await listDeliveriesPage(ctx.deps, webhook.id, { cursor, limit: 2 });
      ids.push(...page.deliveries.map((d) => d.id));
      cursor = page.next;
    } while (cursor);
    expect(new Set(ids).size).toBe(5);
    expect(await reason(listDeliveriesPage(ctx.deps, webhook.id, { cursor: 'x' }))).toBe('cursor_invalid');
  });
});

describe('logo sniffing', () => {
  const png = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]),
    Buffer.from('IHDR'),
    Buffer.from([0, 0, 0, 16, 0, 0, 0, 16, 8, 6, 0, 0, 0]),
    Buffer.alloc(16),
  ]);
  it('knows PNG, JPEG and SVG by their bytes and refuses text, truncated images and entity tricks', () => {
    expect(sniffLogo(png)).toBe('image/png');
    expect(sniffLogo(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0, 0, 0xff, 0xd9]))).toBe('image/jpeg');
    expect(sniffLogo(Buffer.from('<?xml version="1.0"?>\n<!-- x --><svg xmlns="http://www.w3.org/2000/svg" width="1"></svg>\n'))).toBe(
      'image/svg+xml',
    );
    expect(sniffLogo(Buffer.from('hello, I am a text file'))).toBeUndefined();
    expect(sniffLogo(png.subarray(0, 20))).toBeUndefined();
    expect(sniffLogo(Buffer.from('<html><svg xmlns="http://www.w3.org/2000/svg"></svg></html>'))).toBeUndefined();
    expect(sniffLogo(Buffer.from('<!DOCTYPE svg [<!ENTITY a "aaaa">]><svg xmlns="http://www.w3.org/2000/svg">&a;</svg>'))).toBeUndefined();
  });
});

describe('stats', () => {
  it('counts within scope: an empty scope counts nothing, a replay counts for its app', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user } = await makeUser(ctx.deps);
    const first = await issueTokens(ctx.deps, await member(ctx.deps, user, app), app, {});
    const second = await rotateRefreshToken(ctx.deps, { refreshToken: first.refreshToken, appId: app.appId });
    clock().advance(60_000);
    // The successor used, the parent again: a replay (within the retry window it would be a retry).
    await rotateRefreshToken(ctx.deps, { refreshToken: second.refreshToken, appId: app.appId });
    await reason(rotateRefreshToken(ctx.deps, { refreshToken: first.refreshToken, appId: app.appId }));
    const scoped = await adminStats(ctx.deps, [app.appId]);
    expect(scoped).toMatchObject({ apps: 1, liveRefreshTokens: 0, last24h: { replays: 1 } });
    expect(await adminStats(ctx.deps, [])).toMatchObject({ users: 0, apps: 0, activeSessions: 0, liveRefreshTokens: 0 });
    const all = await adminStats(ctx.deps, undefined);
    expect(all.apps).toBeGreaterThanOrEqual(2);
    expect(all.last24h.replays).toBeGreaterThanOrEqual(1);
  });
});
