// Per-app texts (issue 16): an app may replace any catalog message, per locale, e.g.
// {"de": {"login.heading": "Willkommen"}}. An override is data from an operator, shown on pages that
// sign users in, so it is held to the original's shape: a supported locale, a known key, a valid ICU
// message using only the arguments and tags the English original uses (a text cannot reach a value
// the page never meant to show), at most MAX_OVERRIDE_LENGTH characters. Pages escape it like any
// message (catalog.ts: `t` is escaped by eta, `th` escapes literals and keeps only <strong>/<code>).
import { z } from 'zod';
import { ARG_KINDS, englishSource, messageNames } from '../../i18n/catalog.js';
import { LOCALES } from '../../i18n/locales.js';

export const MAX_OVERRIDE_LENGTH = 500;
const MAX_OVERRIDES_PER_LOCALE = 200;

export const DefaultLocale = z.enum(LOCALES, { error: `must be one of ${LOCALES.join(', ')}` });

/** Why `text` cannot replace message `key` (the caller names the key), or undefined when it can. */
export function overrideProblem(key: string, text: string): string | undefined {
  const original = englishSource(key);
  if (original === undefined) return 'not a message key (see locales/en/*.json: <file>.<key>)';
  if (text.length === 0) return 'the text is empty';
  if (text.length > MAX_OVERRIDE_LENGTH) return `the text is longer than ${MAX_OVERRIDE_LENGTH} characters`;
  let names;
  try {
    names = messageNames(text);
  } catch (err) {
    return `not a valid ICU message (${(err as Error).message})`;
  }
  const allowed = messageNames(original);
  const badArgs = [...names.args].filter((a) => !allowed.args.has(a));
  if (badArgs.length) {
    const known = [...allowed.args].map((a) => `{${a}}`).join(', ') || 'none';
    return `uses ${badArgs.map((a) => `{${a}}`).join(', ')}, but the original message's arguments are ${known}`;
  }
  // Same kind as the original (a plain {app} cannot become a date, a plural or a select): a value of
  // the wrong kind would make the message throw when a page or an email formats it.
  for (const [name, used] of names.kinds) {
    const original = allowed.kinds.get(name)!;
    const wrong = [...used].find((k) => !original.has(k));
    if (wrong !== undefined) {
      const as = [...original].map((k) => ARG_KINDS[k]).join(' or ');
      return `uses {${name}} as ${ARG_KINDS[wrong]}, but in the original message it is ${as}`;
    }
  }
  const badTags = [...names.tags].filter((t) => !allowed.tags.has(t));
  if (badTags.length) return `uses the tag <${badTags.join('>, <')}>, which the original message does not`;
  return undefined;
}

export const TextOverrides = z.record(z.string(), z.record(z.string(), z.string())).superRefine((all, ctx) => {
  for (const [locale, texts] of Object.entries(all)) {
    if (!(LOCALES as readonly string[]).includes(locale)) {
      ctx.addIssue({ code: 'custom', path: [locale], message: `unknown locale ${locale}: use one of ${LOCALES.join(', ')}` });
      continue;
    }
    if (Object.keys(texts).length > MAX_OVERRIDES_PER_LOCALE) {
      ctx.addIssue({ code: 'custom', path: [locale], message: `at most ${MAX_OVERRIDES_PER_LOCALE} texts per locale` });
    }
    for (const [key, text] of Object.entries(texts)) {
      const problem = overrideProblem(key, text);
      if (problem) ctx.addIssue({ code: 'custom', path: [locale, key], message: problem });
    }
  }
});
export type TextOverrides = z.infer<typeof TextOverrides>;
