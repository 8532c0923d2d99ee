// Locale negotiation (issue 16): OIDC ui_locales (Core §3.1.2.1), then Accept-Language with its
// q-values (RFC 9110 §12.5.4), then the app's default, then English; region tags count as their language.
import { describe, expect, it } from 'vitest';
import { matchLocale, negotiateLocale, uiLocaleOf } from '../../src/i18n/locales.js';

describe('negotiateLocale', () => {
  it('ui_locales beats Accept-Language beats the app default beats English', () => {
    expect(negotiateLocale({ uiLocales: 'fr', acceptLanguage: 'de', appDefault: 'es' })).toBe('fr');
    expect(negotiateLocale({ acceptLanguage: 'de', appDefault: 'es' })).toBe('de');
    expect(negotiateLocale({ appDefault: 'es' })).toBe('es');
    expect(negotiateLocale({})).toBe('en');
  });

  it('takes the first supported tag of ui_locales, in its order', () => {
    expect(negotiateLocale({ uiLocales: 'ja tlh es-MX fr', acceptLanguage: 'de' })).toBe('es');
    expect(negotiateLocale({ uiLocales: 'ja', acceptLanguage: 'de' })).toBe('de');
    expect(uiLocaleOf('  DE-at ')).toBe('de');
    expect(uiLocaleOf('x-klingon')).toBeUndefined();
    expect(uiLocaleOf(42)).toBeUndefined();
  });

  it('orders Accept-Language by q, keeps header order on ties, skips q=0, *, and unsupported tags', () => {
    expect(negotiateLocale({ acceptLanguage: 'es;q=0.5, fr;q=0.9, de;q=0.7' })).toBe('fr');
    expect(negotiateLocale({ acceptLanguage: 'ja, de-CH;q=0.8, fr;q=0.8' })).toBe('de');
    expect(negotiateLocale({ acceptLanguage: 'de;q=0, *;q=0.5, es;q=0.1', appDefault: 'fr' })).toBe('es');
    expect(negotiateLocale({ acceptLanguage: '*', appDefault: 'fr' })).toBe('fr');
    expect(negotiateLocale({ acceptLanguage: 'zh-Hant-TW, ko', appDefault: null })).toBe('en');
  });

  it('junk is no preference, never an error', () => {
    expect(negotiateLocale({ acceptLanguage: ';;;,,q=2;de', appDefault: 'es' })).toBe('es');
    expect(negotiateLocale({ acceptLanguage: 'de;q=abc' })).toBe('de');
    expect(negotiateLocale({ acceptLanguage: 'x'.repeat(5000) })).toBe('en');
    expect(negotiateLocale({ appDefault: 'xx' })).toBe('en');
    expect(matchLocale('fr_FR')).toBe('fr');
  });
});
