// The message catalogs (ICU MessageFormat, through FormatJS's intl-messageformat) and the translation
// function the pages and emails use (issue 16).
//
// HOW A PAGE ADDS ITS MESSAGES: add one file per locale, `locales/<locale>/<namespace>.json`, for
// every locale in LOCALES (src/i18n/locales.ts), e.g. locales/en/device.json, locales/de/device.json,
// locales/fr/device.json, locales/es/device.json, each a flat object `{ "heading": "…" }`. Its keys
// are then `<namespace>.<key>` (`device.heading`); templates call `it.t('device.heading', { … })`
// (text, escaped by eta's `<%= %>`) or `it.th('device.intro', { … })` (a message with <strong>/<code>
// tags, escaped here, output with `<%~ %>`) or `it.tx(text)` for a `{ key, values }` Text a route
// passed (a form error: `formError(reply, err).message`). The route renders with
// `renderPage(reply, 'device.eta', { title: "device.title", app, uiLocales })`: title and heading are
// message keys, and `uiLocales` is the journey's ui_locales if it has one (renderPage negotiates and
// sets <html lang> and Content-Language). No shared file needs editing: every file of the
// directory is loaded. test/i18n/catalog.test.ts then checks the new files have the same keys in every
// locale, parse, and that the templates hold no literal text outside these calls.
//
// Every message is parsed and compiled ONCE, at start-up (registerWebPlugins calls allCatalogs): a
// page render only formats (~7 µs for the sign-in page's messages and the negotiation).
// English is the reference: a key missing in another catalog is a test failure, and at run time falls
// back to the English text rather than showing a key.
import IntlMessageFormat from 'intl-messageformat';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DEFAULT_LOCALE, LOCALES, type Locale } from './locales.js';

export const MESSAGES_DIR = fileURLToPath(new URL('../../locales/', import.meta.url));

/** The tags a message may use; `th` renders them as these HTML elements, and nothing else. */
const HTML_TAGS = ['strong', 'code'] as const;

type Values = Record<string, string | number | Date | undefined>;

/**
 * A message and its values, translated where it is shown (a form's refusal, a link's label). A value
 * may itself be a Text, or a list of them (joined the locale's way: "a, b und c").
 */
export interface Text {
  key: string;
  values?: Readonly<Record<string, string | number | Date | undefined | Text | readonly Text[]>> | undefined;
}

interface Compiled {
  source: string;
  format: IntlMessageFormat;
  /** The same message with its literal text HTML-escaped, for `th` (made on first use). */
  html?: IntlMessageFormat;
}

export type Catalog = ReadonlyMap<string, Compiled>;

/** Reads and compiles `locales/<locale>/*.json`. Throws, naming the file and key, on a bad message. */
export function loadCatalog(locale: Locale, dir = MESSAGES_DIR): Map<string, Compiled> {
  const out = new Map<string, Compiled>();
  for (const file of readdirSync(`${dir}${locale}`).filter((f) => f.endsWith('.json'))) {
    const namespace = file.slice(0, -'.json'.length);
    const messages = JSON.parse(readFileSync(`${dir}${locale}/${file}`, 'utf8')) as Record<string, unknown>;
    for (const [key, source] of Object.entries(messages)) {
      if (typeof source !== 'string') throw new Error(`${locale}/${file}: ${key} is not a string`);
      try {
        out.set(`${namespace}.${key}`, { source, format: new IntlMessageFormat(source, locale) });
      } catch (err) {
        throw new Error(`${locale}/${file}: ${key} is not a valid ICU message: ${(err as Error).message}`, { cause: err });
      }
    }
  }
  return out;
}

let catalogs: ReadonlyMap<Locale, Catalog> | undefined;

/** Every locale's catalog, compiled once per process (immutable data, read from the files shipped). */
export function allCatalogs(): ReadonlyMap<Locale, Catalog> {
  catalogs ??= new Map(LOCALES.map((l) => [l, loadCatalog(l)]));
  return catalogs;
}

/** Is `key` a message of the English catalog (the reference every other catalog follows)? */
export function isMessageKey(key: string): boolean {
  return allCatalogs().get(DEFAULT_LOCALE)!.has(key);
}

/** The English source of `key` (for validating an app's override against it). */
export function englishSource(key: string): string | undefined {
  return allCatalogs().get(DEFAULT_LOCALE)!.get(key)?.source;
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

type Ast = ReturnType<IntlMessageFormat['getAst']>;
// The parser's element types (@formatjs/icu-messageformat-parser TYPE): literal 0, argument 1, number 2,
// date 3, time 4, select 5, plural 6, pound 7, tag 8.
const LITERAL = 0;
const TAG = 8;
const kind = (el: Ast[number]): number => el.type as number;

/** The AST with every literal escaped (tags stay tags; `th` maps them to HTML_TAGS only). */
function escapeAst(ast: Ast): Ast {
  return ast.map((el) => {
    const e = { ...el } as Record<string, unknown>;
    if (kind(el) === LITERAL) e.value = escapeHtml((el as { value: string }).value);
    if ('options' in el) {
      e.options = Object.fromEntries(Object.entries(el.options).map(([k, o]) => [k, { ...o, value: escapeAst(o.value) }]));
    }
    if ('children' in el) e.children = escapeAst(el.children);
    return e as unknown as Ast[number];
  });
}

const TAG_FNS = Object.fromEntries(HTML_TAGS.map((t) => [t, (chunks: unknown[]) => `<${t}>${chunks.join('')}</${t}>`]));

/** An argument's element type: 1 plain, 2 number, 3 date, 4 time, 5 select, 6 plural (named in ARG_KINDS). */
export const ARG_KINDS: Readonly<Record<number, string>> = { 1: 'plain', 2: 'number', 3: 'date', 4: 'time', 5: 'select', 6: 'plural' };

/** The arguments (with the element types each is used as) and tags a message uses (to check an override against its original). */
export function messageNames(source: string): { args: Set<string>; kinds: Map<string, Set<number>>; tags: Set<string> } {
  const args = new Set<string>();
  const kinds = new Map<string, Set<number>>();
  const tags = new Set<string>();
  const walk = (ast: Ast) => {
    for (const el of ast) {
      if (kind(el) > LITERAL && kind(el) < 7) {
        const name = (el as { value: string }).value;
        args.add(name);
        if (!kinds.has(name)) kinds.set(name, new Set());
        kinds.get(name)!.add(kind(el));
      }
      if (kind(el) === TAG) tags.add((el as { value: string }).value);
      if ('options' in el) for (const o of Object.values(el.options)) walk(o.value);
      if ('children' in el) walk(el.children);
    }
  };
  walk(new IntlMessageFormat(source, DEFAULT_LOCALE).getAst());
  return { args, kinds, tags };
}

/** Per-app texts: `{ 'login.heading': 'Willkommen' }` for one locale, validated on the app (text-overrides.ts). */
export type LocaleOverrides = Readonly<Record<string, string>>;

/** Where a failing override is reported (the server's logger, set at start-up; stderr until then). */
type OverrideWarning = (fields: { locale: Locale; key: string; err: string }, msg: string) => void;
let overrideWarning: OverrideWarning = (fields, msg) => process.emitWarning(`${msg}: ${fields.locale} ${fields.key}: ${fields.err}`);
export function onOverrideFailure(fn: OverrideWarning): void {
  overrideWarning = fn;
}
const warned = new Set<string>();
function warnOnce(locale: Locale, key: string, source: string, err: unknown): void {
  const id = `${locale}\u0000${key}\u0000${source}`;
  if (warned.has(id)) return;
  if (warned.size >= 1000) warned.clear();
  warned.add(id);
  overrideWarning({ locale, key, err: (err as Error).message }, 'an app text override failed to format; the catalog message was used');
}

// Compiled overrides, shared by every request of every app that uses the same text (bounded).
const overrideCache = new Map<string, Compiled>();
function compileOverride(locale: Locale, source: string): Compiled {
  const id = `${locale}\u0000${source}`;
  let hit = overrideCache.get(id);
  if (!hit) {
    if (overrideCache.size >= 1000) overrideCache.clear();
    hit = { source, format: new IntlMessageFormat(source, locale) };
    overrideCache.set(id, hit);
  }
  return hit;
}

/** Markup a template writes itself (a link inside a sentence): inserted by `th` as it is. */
export interface TrustedHtml {
  html: string;
}

const isText = (v: unknown): v is Text => typeof v === 'object' && v !== null && !(v instanceof Date) && 'key' in v;

const listFormats = new Map<Locale, Intl.ListFormat>();
function listFormat(locale: Locale): Intl.ListFormat {
  let f = listFormats.get(locale);
  if (!f) listFormats.set(locale, (f = new Intl.ListFormat(locale, { type: 'unit' })));
  return f;
}

export interface Translator {
  locale: Locale;
  /** The message as plain text (escape it where it is output: eta's `<%= %>` does). */
  t: (key: string, values?: Values) => string;
  /** The message as HTML: its text and values escaped, its <strong>/<code> tags kept (`<%~ %>`). */
  th: (key: string, values?: Record<string, Values[string] | TrustedHtml>) => string;
  /** A Text as plain text. */
  tx: (text: Text) => string;
}

/** A translator for `locale`, with the app's overrides for that locale (if any) taking precedence. */
export function translator(locale: Locale, overrides?: LocaleOverrides): Translator {
  const all = allCatalogs();
  const catalog = all.get(locale)!;
  const english = all.get(DEFAULT_LOCALE)!;
  const fromCatalog = (key: string): Compiled => {
    const found = catalog.get(key) ?? english.get(key);
    if (!found) throw new Error(`unknown message key ${key}`);
    return found;
  };
  // The app's text if it formats; one that throws (stored before today's checks, or a value of a kind
  // it did not expect) gives way to the catalog's message, so a page or an email never fails on it.
  const format = <T>(key: string, run: (m: Compiled) => T): T => {
    const custom = overrides?.[key];
    if (custom !== undefined) {
      try {
        return run(compileOverride(locale, custom));
      } catch (err) {
        warnOnce(locale, key, custom, err);
      }
    }
    return run(fromCatalog(key));
  };
  const t = (key: string, values?: Values) => format(key, (m) => String(m.format.format(values)));
  const tx = (text: Text): string => {
    if (!text.values) return t(text.key);
    const values: Values = {};
    for (const [k, v] of Object.entries(text.values)) {
      values[k] = Array.isArray(v) ? listFormat(locale).format(v.map(tx)) : isText(v) ? tx(v) : (v as Values[string]);
    }
    return t(text.key, values);
  };
  return {
    locale,
    t,
    tx,
    th: (key, values) => {
      const escaped: Record<string, unknown> = { ...TAG_FNS };
      for (const [k, v] of Object.entries(values ?? {})) {
        escaped[k] = typeof v === 'string' ? escapeHtml(v) : typeof v === 'object' && v !== null && 'html' in v ? v.html : v;
      }
      return format(key, (m) => {
        m.html ??= new IntlMessageFormat(escapeAst(m.format.getAst()), locale);
        const out = m.html.format(escaped as Values);
        return Array.isArray(out) ? out.join('') : String(out);
      });
    },
  };
}
