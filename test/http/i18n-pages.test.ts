// Hosted pages in the reader's language (issue 16): every page, rendered in German, French and
// Spanish, shows none of the English catalog's text; the language is ui_locales (carried through the
// journey), then Accept-Language, then the app's default_locale, then English; an app's own texts are
// shown (escaped) in their locale.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCatalog } from '../../src/i18n/catalog.js';
import type { Locale } from '../../src/i18n/locales.js';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { DEFAULT_REDIRECT, makeApp, makeUser } from '../helpers/factories.js';
import { cookieHeader, cookiesOf, csrfTokenOf, form, FORM } from '../helpers/http.js';
import { signIn } from '../helpers/sign-in.js';

const BROWSER = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx?.close());

const q = (appId: string, extra: Record<string, string> = {}) =>
  new URLSearchParams({ app_id: appId, redirect_uri: DEFAULT_REDIRECT, ...extra }).toString();

/** The text a reader sees or hears: text nodes and the attributes read out, entities decoded. */
function visibleText(html: string): string {
  const attrs = [...html.matchAll(/\s(?:alt|title|placeholder|aria-label|data-label)="([^"]*)"/g)].map((m) => m[1]);
  const text = html
    .replace(/<(script|style)\b[^>]*>[\s\S]*?<\/\1>/g, ' ')
    .replace(/<[^>]*>/g, ' ')
    .concat(' ', attrs.join(' '));
  return text
    .replace(/&#39;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ');
}

/**
 * The English-only phrases: the literal runs (two words or more) of every English message whose
 * translation into `locale` differs. None may appear on a page in that locale.
 */
function englishOnly(locale: Locale): string[] {
  const english = loadCatalog('en');
  const other = loadCatalog(locale);
  const phrases = new Set<string>();
  for (const [key, m] of english) {
    if (other.get(key)!.source === m.source) continue;
    for (const run of m.source.split(/[{}]|<\/?\w+>/)) {
      const t = run.replace(/\s+/g, ' ').trim();
      if (t.split(' ').length >= 2 && !/^(one|other|select|plural)\b/.test(t)) phrases.add(t);
    }
  }
  return [...phrases];
}

/** Every hosted page (and its refusals), fetched with `headers`. */
async function allPages(headers: Record<string, string>): Promise<Record<string, string>> {
  const { app } = await makeApp(ctx.deps, { name: 'Acme', logoUrl: 'https://cdn.example.com/logo.png' });
  const { user, password } = await makeUser(ctx.deps);
  const get = async (url: string, h: Record<string, string> = {}) => (await ctx.app.inject({ url, headers: { ...headers, ...h } })).body;
  const post = async (path: string, fields: Record<string, string>) => {
    const page = await ctx.app.inject({ url: path, headers });
    const hidden: Record<string, string> = {};
    for (const m of page.body.matchAll(/type="hidden" name="([^"]+)" value="([^"]*)"/g)) hidden[m[1]!] = m[2]!.replaceAll('&amp;', '&');
    const res = await ctx.app.inject({
      method: 'POST',
      url: path.split('?')[0]!,
      headers: { ...headers, ...FORM, cookie: cookieHeader(cookiesOf(page)) },
      payload: form({ ...hidden, _csrf: csrfTokenOf(page.body), ...fields }),
    });
    return res.body;
  };
  const { sso } = await signIn(ctx, app.appId, user.email, password);
  return {
    login: await get(`/login?${q(app.appId)}`),
    loginRefused: await post(`/login?${q(app.appId)}`, { email: user.email, password: 'wrong-password' }),
    loginEmpty: await post(`/login?${q(app.appId)}`, { email: '', password: '' }),
    register: await get(`/account/register?${q(app.appId)}`),
    registerWeak: await post(`/account/register?${q(app.appId)}`, { email: 'new@example.com', password: 'short' }),
    registerTaken: await post(`/account/register?${q(app.appId)}`, { email: user.email, password: 'Another-Good-Pass-1' }),
    forgot: await get(`/account/forgot-password?${q(app.appId)}`),
    forgotSent: await post(`/account/forgot-password?${q(app.appId)}`, { email: 'nobody@example.com' }),
    resend: await get(`/account/verify/resend?${q(app.appId)}`),
    resendSent: await post(`/account/verify/resend?${q(app.appId)}`, { email: 'nobody@example.com' }),
    verify: await get(`/account/verify?token=abc&${q(app.appId)}`),
    verifyDead: await post(`/account/verify?token=abc&${q(app.appId)}`, {}),
    resetDead: await get(`/account/reset-password?token=abc&${q(app.appId)}`),
    notFound: await get('/no/such/page', { accept: BROWSER }),
    unknownApp: await get(`/login?${q('00000000-0000-4000-8000-000000000000')}`),
    logoutConfirm: await get(`/sso/logout?app_id=${app.appId}`, { cookie: `km_sso=${sso}` }),
    signedOut: await get(`/sso/logout?app_id=${app.appId}`),
    home: await get('/', { accept: BROWSER }),
  };
}

describe('every page in every language', () => {
  for (const locale of ['de', 'fr', 'es'] as const) {
    it(`${locale}: no page shows a text of the English catalog, and <html lang> says ${locale}`, async () => {
      const pages = await allPages({ 'accept-language': `${locale};q=0.9, en;q=0.5` });
      const phrases = englishOnly(locale);
      expect(phrases.length).toBeGreaterThan(100);
      for (const [name, html] of Object.entries(pages)) {
        expect(html, name).toContain(`<html lang="${locale}">`);
        const text = visibleText(html);
        expect(
          phrases.filter((p) => text.includes(p)),
          name,
        ).toEqual([]);
      }
      // Spot checks that the pages say what they should, not only what they should not.
      const expected = {
        de: ['E-Mail-Adresse oder Passwort ist falsch.', 'mindestens 8 Zeichen', 'Zur Startseite', 'Sie wurden von Acme abgemeldet.'],
        fr: [
          'Adresse e-mail ou mot de passe incorrect.',
          'au moins 8 caractères',
          "Aller à la page d'accueil",
          'Vous avez été déconnecté de Acme.',
        ],
        es: [
          'El correo electrónico o la contraseña no son correctos.',
          'al menos 8 caracteres',
          'Ir a la página de inicio',
          'Se ha cerrado tu sesión en Acme.',
        ],
      }[locale];
      const all = Object.values(pages).map(visibleText).join(' ');
      for (const e of expected) expect(all).toContain(e);
    });
  }

  it('en: the same pages are in English (the reference the others are checked against)', async () => {
    const pages = await allPages({});
    expect(pages.login).toContain('<html lang="en">');
    expect(visibleText(pages.loginRefused!)).toContain('Incorrect email or password.');
    expect(visibleText(pages.notFound!)).toContain('Go to the start page');
    // The check above can fail: English pages are full of the phrases it looks for.
    const text = Object.values(pages).map(visibleText).join(' ');
    expect(englishOnly('de').filter((p) => text.includes(p)).length).toBeGreaterThan(40);
  });
});

describe('negotiation', () => {
  const langOf = async (url: string, headers: Record<string, string> = {}) => {
    const res = await ctx.app.inject({ url, headers });
    expect(res.statusCode).toBe(200);
    const lang = /<html lang="([a-z]+)">/.exec(res.body)![1];
    expect(res.headers['content-language']).toBe(lang);
    return lang;
  };

  it('discovery names the languages ui_locales may ask for (OIDC Discovery §3)', async () => {
    const doc = (await ctx.app.inject({ url: '/.well-known/openid-configuration' })).json<{ ui_locales_supported: string[] }>();
    expect(doc.ui_locales_supported).toEqual(['en', 'de', 'fr', 'es']);
  });

  it('ui_locales beats Accept-Language, which beats the app default, which beats English', async () => {
    const { app } = await makeApp(ctx.deps, { defaultLocale: 'es' });
    expect(await langOf(`/login?${q(app.appId, { ui_locales: 'fr-CA de' })}`, { 'accept-language': 'de' })).toBe('fr');
    expect(await langOf(`/login?${q(app.appId)}`, { 'accept-language': 'de' })).toBe('de');
    expect(await langOf(`/login?${q(app.appId)}`)).toBe('es');
    const { app: plain } = await makeApp(ctx.deps);
    expect(await langOf(`/login?${q(plain.appId)}`)).toBe('en');
  });

  it('region tags fall under their language, q-values order the list, unsupported tags fall through', async () => {
    const { app } = await makeApp(ctx.deps, { defaultLocale: 'fr' });
    expect(await langOf(`/login?${q(app.appId)}`, { 'accept-language': 'de-CH' })).toBe('de');
    expect(await langOf(`/login?${q(app.appId)}`, { 'accept-language': 'ja, es;q=0.3, de;q=0.8' })).toBe('de');
    expect(await langOf(`/login?${q(app.appId)}`, { 'accept-language': 'ja, zh-TW;q=0.9, de;q=0' })).toBe('fr');
    expect(await langOf(`/login?${q(app.appId, { ui_locales: 'ja tlh' })}`, { 'accept-language': 'es' })).toBe('es');
    // Junk is a preference that matches nothing, never a refusal.
    expect(await langOf(`/login?${q(app.appId, { ui_locales: '<script>' })}`, { 'accept-language': ';;;,q=2' })).toBe('fr');
  });

  it('/authorize ui_locales stays with the whole journey: sign-in page, account pages, and back', async () => {
    const { app } = await makeApp(ctx.deps);
    const authorize = await ctx.app.inject({
      url: `/authorize?${new URLSearchParams({ client_id: app.appId, redirect_uri: DEFAULT_REDIRECT, response_type: 'code', scope: 'openid', ui_locales: 'es-MX en' })}`,
      headers: { 'accept-language': 'de' },
    });
    expect(authorize.statusCode).toBe(200);
    expect(authorize.body).toContain('<html lang="es">');
    expect(authorize.body).toContain('name="ui_locales" value="es"');
    const register = /href="(\/account\/register\?[^"]+)"/.exec(authorize.body)![1]!.replaceAll('&amp;', '&');
    expect(register).toContain('ui_locales=es');
    const page = await ctx.app.inject({ url: register, headers: { 'accept-language': 'de' } });
    expect(page.body).toContain('<html lang="es">');
    expect(page.body).toContain('Crear cuenta');
    const back = /href="(\/login\?[^"]+)"/.exec(page.body)![1]!.replaceAll('&amp;', '&');
    expect(new URL(back, 'http://x').searchParams.get('authz')).toBeTruthy();
    expect(await langOf(back, { 'accept-language': 'de' })).toBe('es');
    // A refused sign-in re-renders in the same language: the form carried it.
    const post = await ctx.app.inject({
      method: 'POST',
      url: '/login',
      headers: { ...FORM, 'accept-language': 'de', cookie: cookieHeader(cookiesOf(authorize)) },
      payload: form({
        _csrf: csrfTokenOf(authorize.body),
        ...Object.fromEntries(
          [...authorize.body.matchAll(/type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1]!, m[2]!.replaceAll('&amp;', '&')]),
        ),
        email: 'nobody@example.com',
        password: 'wrong',
      }),
    });
    expect(post.statusCode).toBe(401);
    expect(post.body).toContain('<html lang="es">');
    expect(post.body).toContain('El correo electrónico o la contraseña no son correctos.');
  });
});

describe('per-app text overrides', () => {
  it('an app’s text is shown in its locale, escaped; other locales keep the catalog', async () => {
    const { app } = await makeApp(ctx.deps, {
      name: 'Acme <Beta>',
      textOverrides: {
        // ICU quoting gives a literal <b> (a bare <b> is a tag, refused: the original has none).
        de: { 'login.heading': "Willkommen '<b>'bei'</b>' \"uns\" & mehr", 'layout.continueTo': 'zurück zu <strong>{app}</strong>!' },
      },
    });
    const de = await ctx.app.inject({ url: `/login?${q(app.appId)}`, headers: { 'accept-language': 'de' } });
    expect(de.body).toContain('<h1>Willkommen &lt;b&gt;bei&lt;/b&gt; &quot;uns&quot; &amp; mehr</h1>');
    expect(de.body).not.toContain('<b>bei</b>');
    expect(de.body).toContain('zurück zu <strong>Acme &lt;Beta&gt;</strong>!');
    expect(de.body).toContain('<title>Anmelden');
    const en = await ctx.app.inject({ url: `/login?${q(app.appId)}` });
    expect(en.body).toContain('<h1>Sign in</h1>');
  });

  it('an override that fails to format falls back to the catalog message, warned once', async () => {
    const { app } = await makeApp(ctx.deps, { name: 'Fallback' });
    // Stored before kinds were checked: {app} as a date throws when the page formats it.
    await ctx.deps.db
      .updateTable('apps')
      .set({ text_overrides: JSON.stringify({ de: { 'layout.continueTo': 'fort zu {app, date}', 'login.heading': 'Hallo' } }) })
      .where('app_id', '=', app.appId)
      .execute();
    for (let i = 0; i < 2; i++) {
      const de = await ctx.app.inject({ url: `/login?${q(app.appId)}`, headers: { 'accept-language': 'de' } });
      expect(de.statusCode).toBe(200);
      expect(de.body).toContain('<h1>Hallo</h1>');
      expect(de.body).not.toContain('fort zu');
      expect(de.body).toContain('weiter zu <strong>Fallback</strong>');
    }
    const warnings = ctx
      .logText()
      .split('\n')
      .filter((l) => l.includes('an app text override failed to format'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('layout.continueTo');
  });
});
