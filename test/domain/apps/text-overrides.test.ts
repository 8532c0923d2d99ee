// Per-app texts (issue 16): a supported locale, a known message key, valid ICU that uses only the
// original's arguments and tags, at most 500 characters; a refusal names what is wrong and leaves the
// app as it was; the app (and the cached copy the token paths read) carries what was stored.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ZodError } from 'zod';
import { findCachedApp, getApp, updateApp } from '../../../src/domain/apps/apps.js';
import { createTestContext, type TestContext } from '../../helpers/app.js';
import { makeApp } from '../../helpers/factories.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx?.close());

const issuesOf = async (p: Promise<unknown>) => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ZodError);
  return (err as ZodError).issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('text overrides and the default locale', () => {
  it('are stored, returned and cached', async () => {
    const { app } = await makeApp(ctx.deps, {
      defaultLocale: 'de',
      textOverrides: { de: { 'layout.continueTo': 'Willkommen bei <strong>{app}</strong>' } },
    });
    expect(app.defaultLocale).toBe('de');
    const row = await ctx.deps.db
      .selectFrom('apps')
      .select(['default_locale', 'text_overrides'])
      .where('app_id', '=', app.appId)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ default_locale: 'de', text_overrides: { de: { 'layout.continueTo': 'Willkommen bei <strong>{app}</strong>' } } });
    const cached = await findCachedApp(ctx.deps, app.appId);
    expect(cached?.app.textOverrides).toEqual({ de: { 'layout.continueTo': 'Willkommen bei <strong>{app}</strong>' } });
    const updated = await updateApp(ctx.deps, app.appId, { defaultLocale: null, textOverrides: { fr: { 'login.submit': 'Entrer' } } });
    expect(updated).toMatchObject({ defaultLocale: null, textOverrides: { fr: { 'login.submit': 'Entrer' } } });
    expect((await findCachedApp(ctx.deps, app.appId))?.app.textOverrides).toEqual({ fr: { 'login.submit': 'Entrer' } });
  });

  it('bad overrides are refused with a clear message, and nothing is written', async () => {
    const before = (await ctx.deps.db.selectFrom('apps').select('app_id').execute()).length;
    const bad = {
      ja: { 'login.heading': 'ようこそ' },
      de: {
        'login.nope': 'x',
        'login.heading': 'Hallo {email}',
        'layout.continueTo': 'zu <a>{app}</a>',
        'login.submit': 'Los {',
        'login.email': 'x'.repeat(501),
        'login.password': '',
      },
    };
    expect(await issuesOf(makeApp(ctx.deps, { textOverrides: bad }))).toEqual([
      'textOverrides.ja: unknown locale ja: use one of en, de, fr, es',
      'textOverrides.de.login.nope: not a message key (see locales/en/*.json: <file>.<key>)',
      "textOverrides.de.login.heading: uses {email}, but the original message's arguments are none",
      'textOverrides.de.layout.continueTo: uses the tag <a>, which the original message does not',
      'textOverrides.de.login.submit: not a valid ICU message (EXPECT_ARGUMENT_CLOSING_BRACE)',
      'textOverrides.de.login.email: the text is longer than 500 characters',
      'textOverrides.de.login.password: the text is empty',
    ]);
    expect(await issuesOf(makeApp(ctx.deps, { defaultLocale: 'ja' as 'de' }))).toEqual(['defaultLocale: must be one of en, de, fr, es']);
    expect((await ctx.deps.db.selectFrom('apps').select('app_id').execute()).length).toBe(before);

    const { app } = await makeApp(ctx.deps, { textOverrides: { de: { 'login.heading': 'Hallo' } } });
    expect(
      await issuesOf(
        updateApp(ctx.deps, app.appId, { textOverrides: { de: { 'errors.account_locked': 'Gesperrt für {hours} Stunden' } } }),
      ),
    ).toEqual(["textOverrides.de.errors.account_locked: uses {hours}, but the original message's arguments are {minutes}"]);
    expect((await getApp(ctx.deps, app.appId)).textOverrides).toEqual({ de: { 'login.heading': 'Hallo' } });
  });

  it('an argument keeps the kind it has in the original (plain, date, plural)', async () => {
    const bad = {
      de: {
        'layout.continueTo': 'weiter zu {app, date}',
        'errors.account_locked': 'Gesperrt für {minutes} Minuten',
        'login.heading': 'Hallo',
      },
      fr: { 'layout.continueTo': '{app, plural, one {#} other {#}}' },
    };
    expect(await issuesOf(makeApp(ctx.deps, { textOverrides: bad }))).toEqual([
      'textOverrides.de.layout.continueTo: uses {app} as date, but in the original message it is plain',
      'textOverrides.de.errors.account_locked: uses {minutes} as plain, but in the original message it is plural',
      'textOverrides.fr.layout.continueTo: uses {app} as plural, but in the original message it is plain',
    ]);
    // The same kinds, worded otherwise, are fine.
    const { app } = await makeApp(ctx.deps, {
      textOverrides: { de: { 'errors.account_locked': 'Gesperrt: {minutes, plural, one {eine Minute} other {# Minuten}}' } },
    });
    expect((await getApp(ctx.deps, app.appId)).textOverrides.de).toHaveProperty('errors.account_locked');
  });
});
