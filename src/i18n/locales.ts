// The languages the hosted pages and emails speak, and how a request picks one (issue 16): the OIDC
// `ui_locales` of the request (OIDC Core §3.1.2.1, carried through the pending sign-in), then the
// browser's Accept-Language (RFC 9110 §12.5.4, q-values), then the app's default_locale, then English.
// Tags are matched on their primary language subtag: de-CH, de-AT and de all get German.

export const LOCALES = ['en', 'de', 'fr', 'es'] as const;
export type Locale = (typeof LOCALES)[number];
export const DEFAULT_LOCALE: Locale = 'en';

export function isLocale(v: unknown): v is Locale {
  return typeof v === 'string' && (LOCALES as readonly string[]).includes(v);
}

/** The supported locale a BCP 47 tag falls under (`de-CH` → `de`), or undefined. */
export function matchLocale(tag: string): Locale | undefined {
  const primary = tag.trim().split(/[-_]/, 1)[0]!.toLowerCase();
  return isLocale(primary) ? primary : undefined;
}

/** Accept-Language's tags best first (q=0 means "not this one"); at most 20 are looked at. */
function acceptLanguageTags(header: string): string[] {
  const entries: { tag: string; q: number; i: number }[] = [];
  for (const [i, part] of header.split(',', 20).entries()) {
    const [tag, ...params] = part.split(';');
    let q = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([01](?:\.\d{0,3})?)\s*$/i.exec(p);
      if (m) q = Number(m[1]);
    }
    if (tag && tag.trim() && q > 0) entries.push({ tag: tag.trim(), q, i });
  }
  return entries.sort((a, b) => b.q - a.q || a.i - b.i).map((e) => e.tag);
}

export interface LocaleHints {
  /** OIDC `ui_locales`: space-separated BCP 47 tags, preferred first. */
  uiLocales?: string | undefined;
  /** The Accept-Language header. */
  acceptLanguage?: string | undefined;
  /** The app's default_locale. */
  appDefault?: string | null | undefined;
}

/**
 * The first supported locale an OIDC `ui_locales` value names, or undefined: what the pending sign-in
 * carries on from /authorize (a short, checked value in place of the client's free text).
 */
export function uiLocaleOf(uiLocales: unknown): Locale | undefined {
  if (typeof uiLocales !== 'string') return undefined;
  for (const tag of uiLocales.split(' ', 10)) {
    const hit = tag && matchLocale(tag);
    if (hit) return hit;
  }
  return undefined;
}

/** The one place that decides a page's (or an email's) language. */
export function negotiateLocale(hints: LocaleHints): Locale {
  const asked = uiLocaleOf(hints.uiLocales);
  if (asked) return asked;
  if (hints.acceptLanguage) {
    for (const tag of acceptLanguageTags(hints.acceptLanguage.slice(0, 1000))) {
      const hit = matchLocale(tag);
      if (hit) return hit;
    }
  }
  return isLocale(hints.appDefault) ? hints.appDefault : DEFAULT_LOCALE;
}
