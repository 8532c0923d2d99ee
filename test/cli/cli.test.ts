// The keymaster CLI as an admin runs it: a real process (src/cli/bin.js), on a Postgres database
// (TEST_DATABASE_URL runs) or a fresh embedded data dir.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliDatabase, runCliProcess, type CliDatabase } from '../helpers/cli.js';
import { acquireDataDirLock } from '../../src/storage/db.js';

let world: CliDatabase;
beforeAll(async () => {
  world = await createCliDatabase();
});
afterAll(() => world.close());

const cli = (args: string[], extraEnv: Record<string, string> = {}) => runCliProcess(world.env, args, { env: extraEnv });

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// Each call is a new process that opens the database (a fresh embedded one takes seconds): allow time.
describe('keymaster CLI', { timeout: 180_000 }, () => {
  it('apps create --json prints the app with its secret once; list/show never show it again', async () => {
    const created = await cli([
      'apps',
      'create',
      '--name',
      'Demo',
      '--redirect-uri',
      'https://a.example.com/cb',
      '--redirect-uri',
      'https://b.example.com/cb',
      '--logout-uri',
      'https://a.example.com/',
      '--color',
      '#112233',
      '--json',
    ]);
    expect(created.code).toBe(0);
    const app = JSON.parse(created.stdout);
    expect(app.app_id).toMatch(UUID);
    expect(app.client_secret).toMatch(/^[0-9a-f]{64}$/);
    expect(app).toMatchObject({ name: 'Demo', redirect_uris: ['https://a.example.com/cb', 'https://b.example.com/cb'] });
    const show = await cli(['apps', 'show', app.app_id, '--json']);
    expect(JSON.parse(show.stdout).app_id).toBe(app.app_id);
    const list = await cli(['apps', 'list']);
    expect(list.stdout).toContain(app.app_id);
    expect(show.stdout + list.stdout).not.toContain(app.client_secret);
    const rotated = await cli(['apps', 'rotate-secret', app.app_id, '--json']);
    expect(JSON.parse(rotated.stdout).client_secret).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.parse(rotated.stdout).client_secret).not.toBe(app.client_secret);
    // First-party by default; --third-party / --no-third-party switch the consent screen on and off.
    expect(app.third_party).toBe(false);
    const third = await cli(['apps', 'update', app.app_id, '--third-party', '--json']);
    expect(JSON.parse(third.stdout).third_party).toBe(true);
    const renamed = await cli(['apps', 'update', app.app_id, '--name', 'Demo 2', '--json']);
    expect(JSON.parse(renamed.stdout).third_party).toBe(true);
    const first = await cli(['apps', 'update', app.app_id, '--no-third-party', '--json']);
    expect(JSON.parse(first.stdout).third_party).toBe(false);
    const created3p = await cli(['apps', 'create', '--name', 'Gadget', '--redirect-uri', 'https://g.example.com/cb', '--third-party']);
    expect(created3p.code).toBe(0);
    expect(created3p.stdout).toContain('third_party:    yes');
  });

  it('users create --json and users list', async () => {
    const app = await cli(['apps', 'create', '--name', 'Jane App', '--redirect-uri', 'https://jane.example/cb', '--json']);
    const appId = JSON.parse(app.stdout).app_id as string;
    const created = await cli([
      'users',
      'create',
      '--email',
      'Jane@Example.com',
      '--password',
      'Sup3r-secret!',
      '--name',
      'Jane Doe',
      '--roles',
      'user,admin',
      '--app',
      appId,
      '--verified',
      '--json',
    ]);
    expect(created.code).toBe(0);
    const user = JSON.parse(created.stdout);
    expect(user.id).toMatch(UUID);
    expect(user).toMatchObject({
      email: 'Jane@Example.com',
      app_id: appId,
      roles: ['user', 'admin'],
      legacy_roles: [],
      email_verified: true,
    });
    const dup = await cli(['users', 'create', '--email', 'jane@example.com', '--password', 'x']);
    expect(dup.code).toBe(2);
    expect(dup.stderr.trim()).toBe('keymaster: Email already registered');
    const list = await cli(['users', 'list', '--json']);
    expect(JSON.parse(list.stdout).map((u: { email: string }) => u.email)).toContain('Jane@Example.com');
    expect(list.stdout).not.toContain('argon2');
  });

  it.each([
    [['apps', 'create', '--name', 'X'], /required option '--redirect-uri/],
    [['apps', 'create', '--name', 'X', '--redirect-uri', 'not a url'], /redirectUris\.0: must be an absolute URI/],
    [['apps', 'create', '--name', 'X', '--redirect-uri', 'https://x/cb', '--color', 'red'], /colour/],
    [['users', 'create', '--email', 'not-an-email', '--password', 'x'], /email/],
    [['users', 'create', '--email', 'a@b.co', '--password', 'x', '--roles', 'bad role!'], /Invalid role/],
    [['users', 'create', '--email', 'a@b.co', '--password', 'x', '--roles', 'user'], /--roles needs --app/],
    [['bogus'], /unknown command 'bogus'/],
  ])('bad arguments %j → one line on stderr, exit 2', async (args, message) => {
    const res = await cli(args);
    expect(res.code).toBe(2);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(res.stderr).toMatch(message);
  });

  it.runIf(!process.env.TEST_DATABASE_URL)('says to stop the server or use Postgres when the data dir is in use', async () => {
    const release = acquireDataDirLock(world.dataDir!, 'server');
    try {
      const res = await cli(['apps', 'list']);
      expect(res.code).toBe(1);
      expect(res.stderr).toContain(`in use by the Keymaster server with pid ${process.pid}`);
      expect(res.stderr).toContain('Stop the server first, or set DATABASE_URL');
    } finally {
      release();
    }
  });
});
