// The brand colour an admin picks never makes a page unreadable: the palette derived from it meets
// WCAG 2.2 AA for every #rrggbb (fast-check), and /branding/<app>.css serves it. Keymaster's favicon,
// and https-only logos (an http: image would be blocked by the pages' own CSP).
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/domain/apps/apps.js';
import { brandPalette, contrast, DARK_SURFACE, LIGHT_SURFACE } from '../../src/lib/brand-palette.js';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { makeApp } from '../helpers/factories.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx?.close());

const hex = fc
  .tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }))
  .map((rgb) => `#${rgb.map((c) => c.toString(16).padStart(2, '0')).join('')}`);

describe('brand palette', () => {
  it('contrast() matches WCAG reference values', () => {
    expect(contrast('#000000', '#ffffff')).toBeCloseTo(21, 5);
    expect(contrast('#ffffff', '#f5c518')).toBeCloseTo(1.63, 2);
    expect(contrast('#8a91a0', '#ffffff')).toBeCloseTo(3.16, 2);
  });

  it('for any brand colour: text on it ≥ 4.5:1, links and focus ring ≥ 4.5:1 on the light and dark surface', () => {
    fc.assert(
      fc.property(hex, (brand) => {
        const p = brandPalette(brand);
        expect(p.brand).toBe(brand);
        expect(contrast(p.onBrand, brand)).toBeGreaterThanOrEqual(4.5);
        expect(contrast(p.ink, LIGHT_SURFACE)).toBeGreaterThanOrEqual(4.5);
        expect(contrast(p.inkDark, DARK_SURFACE)).toBeGreaterThanOrEqual(4.5);
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps a colour that already passes (links stay the colour the admin chose)', () => {
    expect(brandPalette('#0b7285')).toMatchObject({ onBrand: '#ffffff', ink: '#0b7285' });
  });

  it('/branding/<app>.css: a light brand gets dark text and a darkened ink', async () => {
    const { app } = await makeApp(ctx.deps, { primaryColor: '#f5c518' });
    const res = await ctx.app.inject({ url: `/branding/${app.appId}.css` });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('--brand: #f5c518;');
    expect(res.body).toContain('--on-brand: #000000;');
    const ink = /--brand-ink: (#[0-9a-f]{6});/.exec(res.body)?.[1];
    expect(ink && contrast(ink, '#ffffff')).toBeGreaterThanOrEqual(4.5);
  });

  it('the shared stylesheet carries the default palette; the favicon is served', async () => {
    const css = await ctx.app.inject({ url: '/assets/keymaster.css' });
    expect(css.body).toMatch(/^:root \{ --brand: #2f5bea; --on-brand: #ffffff;/);
    for (const url of ['/favicon.ico', '/assets/favicon.svg']) {
      const res = await ctx.app.inject({ url });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^image\/svg\+xml/);
      expect(res.body).toContain('<svg');
    }
  });
});

describe('app logos', () => {
  it('are https only: an http: logo is refused with a clear message', async () => {
    await expect(
      createApp(ctx.deps, { name: 'L', redirectUris: ['https://a.example/cb'], logoUrl: 'http://a.example/logo.png' }),
    ).rejects.toThrow(/https:\/\/ URL/);
    const { app } = await makeApp(ctx.deps, { logoUrl: 'https://a.example/logo.png' });
    expect(app.logoUrl).toBe('https://a.example/logo.png');
    const page = await ctx.app.inject({ url: `/login?app_id=${app.appId}&redirect_uri=${encodeURIComponent(app.redirectUris[0]!)}` });
    expect(page.body).toContain('<link rel="icon" href="https://a.example/logo.png">');
  });
});
