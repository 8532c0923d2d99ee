// `keymaster apps create|update --default-locale --text` (issue 16) as an admin runs it: a real process
// on a Postgres database (TEST_DATABASE_URL runs) or a fresh embedded data dir. Bad texts are refused
// by the domain's schema with a clear line and exit 2, and the app is left as it was.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliDatabase, runCliProcess, type CliDatabase } from '../helpers/cli.js';

let world: CliDatabase;
beforeAll(async () => {
  world = await createCliDatabase();
});
afterAll(() => world.close());

const cli = (args: string[]) => runCliProcess(world.env, args);

describe('apps --default-locale and --text', { timeout: 180_000 }, () => {
  it('sets, merges and removes texts; refuses bad ones with exit 2 and changes nothing', async () => {
    const created = await cli([
      ...['apps', 'create', '--name', 'Sprachen', '--redirect-uri', 'https://a.example.com/cb', '--default-locale', 'de'],
      ...['--text', 'de:login.heading=Willkommen', '--text', 'fr:layout.continueTo=vers <strong>{app}</strong>', '--json'],
    ]);
    expect(created.stderr).toBe('');
    const app = JSON.parse(created.stdout) as { app_id: string; default_locale: string; text_overrides: unknown };
    expect(app.default_locale).toBe('de');
    expect(app.text_overrides).toEqual({
      de: { 'login.heading': 'Willkommen' },
      fr: { 'layout.continueTo': 'vers <strong>{app}</strong>' },
    });

    const refused = await cli(['apps', 'update', app.app_id, '--text', 'de:login.submit=Los {user}', '--text', 'it:login.heading=Ciao']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toBe(
      "keymaster: textOverrides.de.login.submit: uses {user}, but the original message's arguments are none; " +
        'textOverrides.it: unknown locale it: use one of en, de, fr, es\n',
    );
    const badLocale = await cli(['apps', 'update', app.app_id, '--default-locale', 'xx']);
    expect(badLocale).toMatchObject({ code: 2, stderr: 'keymaster: defaultLocale: must be one of en, de, fr, es\n' });
    const malformed = await cli(['apps', 'update', app.app_id, '--text', 'login.heading']);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toContain('must be <locale>:<message key>=<text>');

    const updated = await cli(['apps', 'update', app.app_id, '--text', 'de:login.submit=Los', '--text', 'fr:layout.continueTo=', '--json']);
    expect(updated.stderr).toBe('');
    expect(JSON.parse(updated.stdout)).toMatchObject({
      default_locale: 'de',
      text_overrides: { de: { 'login.heading': 'Willkommen', 'login.submit': 'Los' } },
    });
    const cleared = await cli(['apps', 'update', app.app_id, '--clear-texts', '--default-locale', 'default']);
    expect(cleared.stdout).toContain('locale:         (English)');
    expect(cleared.stdout).not.toContain('text:');
  });
});
