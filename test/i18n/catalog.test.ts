// No page or email has an untranslated string (issue 16), checked statically: every catalog has the
// same files and keys as English and every message parses with no argument or tag the English one
// lacks; every template's text nodes and human-facing attributes come from translation calls only;
// every key a template or route names exists. (test/http/i18n-pages.test.ts renders the pages.)
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { REASONS, appError } from '../../src/errors.js';
import { MESSAGES_DIR, isMessageKey, loadCatalog, messageNames, translator } from '../../src/i18n/catalog.js';
import { LOCALES } from '../../src/i18n/locales.js';
import { VIEWS_DIR } from '../../src/http/plugins/web.js';
import { pageText } from '../../src/http/error-handler.js';

const files = (locale: string) => readdirSync(`${MESSAGES_DIR}${locale}`).sort();
const messages = (locale: string, file: string) =>
  JSON.parse(readFileSync(`${MESSAGES_DIR}${locale}/${file}`, 'utf8')) as Record<string, string>;

describe('catalogs', () => {
  it('every locale has the files and keys of English, and nothing else', () => {
    for (const locale of LOCALES) {
      expect(files(locale), locale).toEqual(files('en'));
      for (const file of files('en'))
        expect(Object.keys(messages(locale, file)).sort(), `${locale}/${file}`).toEqual(Object.keys(messages('en', file)).sort());
    }
  });

  it('every message parses, and uses only the arguments and tags of its English original', () => {
    const english = loadCatalog('en');
    for (const locale of LOCALES) {
      const catalog = loadCatalog(locale); // throws on a message that does not parse
      expect(catalog.size).toBe(english.size);
      for (const [key, m] of catalog) {
        const mine = messageNames(m.source);
        const theirs = messageNames(english.get(key)!.source);
        expect(
          [...mine.args].filter((a) => !theirs.args.has(a)),
          `${locale} ${key}`,
        ).toEqual([]);
        expect(
          [...mine.tags].filter((a) => !theirs.tags.has(a)),
          `${locale} ${key}`,
        ).toEqual([]);
      }
    }
  });

  it('a translation is not left in English (beyond words that are the same in both languages)', () => {
    const same = new Set(['account.name', 'errors.unknown_app', 'layout.errorTitle']);
    for (const locale of LOCALES.filter((l) => l !== 'en')) {
      const english = loadCatalog('en');
      const untranslated = [...loadCatalog(locale)].filter(([k, m]) => m.source === english.get(k)!.source && !same.has(k)).map(([k]) => k);
      expect(untranslated, locale).toEqual([]);
    }
  });

  it('error messages are keyed by real reasons', () => {
    const extra = /^(fallback|problem_\w+)$/;
    const unknown = Object.keys(messages('en', 'errors.json')).filter((k) => !(k in REASONS) && !extra.test(k));
    expect(unknown).toEqual([]);
  });

  it('counts are plurals: "1 minute", "15 minutes", "einer Minute", "15 Minuten"', () => {
    const locked = (s: number) => appError('account_locked', { retryAfter: s });
    expect(translator('en').tx(pageText(locked(60)))).toContain('Try again in 1 minute,');
    expect(translator('en').tx(pageText(locked(900)))).toContain('Try again in 15 minutes,');
    expect(translator('de').tx(pageText(locked(60)))).toContain('in einer Minute noch einmal');
    expect(translator('de').tx(pageText(locked(850)))).toContain('in 15 Minuten noch einmal');
    expect(translator('fr').tx(pageText(appError('rate_limited', { retryAfter: 120 })))).toBe(
      'Trop de tentatives. Réessayez dans 2 minutes.',
    );
    expect(translator('es').tx(pageText(appError('rate_limited', { retryAfter: 30 })))).toBe(
      'Demasiados intentos. Vuelve a intentarlo dentro de 1 minuto.',
    );
  });

  it('lists are joined the language’s way, and a reason without a message is the generic refusal', () => {
    const weak = appError('password_too_weak', { problems: [{ rule: 'min_length', min: 12 }, { rule: 'digit' }, { rule: 'symbol' }] });
    expect(translator('en').tx(pageText(weak))).toBe('Password too weak: needs at least 12 characters, a digit, a symbol.');
    expect(translator('de').tx(pageText(weak))).toBe(
      'Das Passwort ist zu schwach: Es braucht mindestens 12 Zeichen, eine Ziffer und ein Sonderzeichen.',
    );
    expect(translator('fr').tx(pageText(appError('webhook_not_found', { id: 'x' })))).toBe('Cette demande ne peut pas aboutir.');
  });

  it('th escapes the text and the values and keeps only its own tags', () => {
    const tr = translator('en', { 'layout.continueTo': 'weiter <strong>{app}</strong> & "mehr"' });
    expect(tr.th('layout.continueTo', { app: '<script>x</script>' })).toBe(
      'weiter <strong>&lt;script&gt;x&lt;/script&gt;</strong> &amp; &quot;mehr&quot;',
    );
  });
});

/** A template with every eta tag replaced by a marker: what is left is the template's own text. */
const DYNAMIC = '\u0001';
const templates = () =>
  [...readdirSync(VIEWS_DIR).filter((f) => f.endsWith('.eta')), ...readdirSync(`${VIEWS_DIR}emails`).map((f) => `emails/${f}`)].filter(
    (f) => f.endsWith('.eta'),
  );

/** Human text a template writes itself: text nodes and the attributes people read or hear. */
export function literalText(source: string): string[] {
  const found: string[] = [];
  const html = source.replace(/<%[\s\S]*?%>/g, DYNAMIC);
  for (const m of html.matchAll(/\s(placeholder|aria-label|aria-description|title|alt|data-label|label|content)="([^"]*)"/g)) {
    // <meta content> carries machine values (viewport, robots, color scheme).
    if (m[1] === 'content') continue;
    if (m[2]!.replaceAll(DYNAMIC, '').trim()) found.push(`${m[1]}="${m[2]}"`);
  }
  const text = html
    .replace(/<(script|style)[\s\S]*?<\/\1>/g, ' ')
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&[a-z#0-9]+;/gi, ' ');
  for (const chunk of text.split(DYNAMIC)) {
    const words = chunk.replace(/[\s·.,:;!?()\-–—|/]+/g, '');
    if (words) found.push(chunk.trim());
  }
  return found;
}

describe('templates', () => {
  it('the scan finds text and attributes a template writes itself', () => {
    expect(literalText('<p>Hello <%= it.name %></p><input placeholder="Your email"><img alt="<%= it.t(\'x\') %>">')).toEqual([
      'placeholder="Your email"',
      'Hello',
    ]);
    expect(literalText('<p><%= it.t(\'a\') %> · <%= it.app.name %>.</p><meta name="robots" content="noindex">')).toEqual([]);
  });

  it('no template has literal human text outside translation calls', () => {
    for (const file of templates()) expect(literalText(readFileSync(`${VIEWS_DIR}${file}`, 'utf8')), file).toEqual([]);
  });

  it('every message key named by a template or a route exists', () => {
    const named = new Set<string>();
    for (const file of templates()) {
      for (const m of readFileSync(`${VIEWS_DIR}${file}`, 'utf8').matchAll(/\b(?:t|th)\(\s*'([\w.]+)'|key: '([\w.]+)'/g))
        named.add(m[1] ?? m[2]!);
    }
    const src = new URL('../../src/', import.meta.url);
    for (const file of readdirSync(src, { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('.ts'))) {
      const text = readFileSync(new URL(file, src), 'utf8');
      for (const m of text.matchAll(/\b(?:key|title|heading): '([a-z]+\.[\w]+)'/g)) named.add(m[1]!);
    }
    expect(named.size).toBeGreaterThan(40);
    expect([...named].filter((k) => !isMessageKey(k))).toEqual([]);
  });
});
