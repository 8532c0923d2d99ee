// `keymaster users update` and `users unlock` as an admin runs them: a real process on a Postgres
// database (TEST_DATABASE_URL runs) or a fresh embedded data dir.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliDatabase, runCliProcess, type CliDatabase } from '../helpers/cli.js';
import { loadConfig } from '../../src/config.js';
import { openDatabase } from '../../src/storage/db.js';
import { verify } from 'argon2';

let world: CliDatabase;
beforeAll(async () => {
  world = await createCliDatabase();
});
afterAll(() => world.close());

const cli = (args: string[], extraEnv: Record<string, string> = {}) => runCliProcess(world.env, args, { env: extraEnv });

describe('keymaster users update | unlock', { timeout: 120_000 }, () => {
  it('updates name, roles, verification and disabled state; unlocks a locked account', async () => {
    const created = await cli(['users', 'create', '--email', 'ops@example.com', '--password', 'Sup3r-secret!', '--json']);
    expect(created.code).toBe(0);
    const id = JSON.parse(created.stdout).id as string;
    const app = await cli(['apps', 'create', '--name', 'Ops App', '--redirect-uri', 'https://ops.example/cb', '--json']);
    const appId = JSON.parse(app.stdout).app_id as string;
    // Roles are per app (issue 14): --roles needs --app.
    const noApp = await cli(['users', 'update', 'ops@example.com', '--roles', 'user']);
    expect(noApp.code).toBe(2);
    expect(noApp.stderr.trim()).toBe('keymaster: --roles needs --app: roles are per app');

    const updated = await cli([
      'users',
      'update',
      'OPS@example.com',
      '--name',
      'Ops Person',
      '--roles',
      'user,admin',
      '--app',
      appId,
      '--verified',
      '--disable',
      '--json',
    ]);
    expect(updated.code).toBe(0);
    expect(JSON.parse(updated.stdout)).toMatchObject({
      id,
      name: 'Ops Person',
      app_id: appId,
      roles: ['user', 'admin'],
      legacy_roles: [],
      email_verified: true,
      disabled: true,
    });

    // Lock the account directly in the database (as ten failures would), then unlock it by id.
    const handle = await openDatabase(loadConfig({ ...world.env }), 'cli');
    await handle.db
      .updateTable('users')
      .set({ failed_logins: 10, locked_until: new Date(Date.now() + 3_600_000) })
      .where('id', '=', id)
      .execute();
    await handle.close();

    const unlocked = await cli(['users', 'unlock', id, '--json']);
    expect(unlocked.code).toBe(0);
    expect(JSON.parse(unlocked.stdout)).toMatchObject({ id, locked_until: null });
    const enabled = await cli(['users', 'update', id, '--enable', '--unverified', '--json']);
    expect(JSON.parse(enabled.stdout)).toMatchObject({ disabled: false, email_verified: false, name: 'Ops Person' });
  });

  it('bad arguments exit 2 with one line', async () => {
    const none = await cli(['users', 'update', 'ops@example.com']);
    expect(none.code).toBe(2);
    expect(none.stderr.trim().split('\n')).toHaveLength(1);
    expect(none.stderr).toContain('nothing to update');
    const unknown = await cli(['users', 'unlock', 'nobody@example.com']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('No user nobody@example.com');
  });

  it('users create reads the password from KEYMASTER_PASSWORD when --password is absent', async () => {
    const missing = await cli(['users', 'create', '--email', 'env@example.com']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('give --password or set KEYMASTER_PASSWORD');
    const created = await cli(['users', 'create', '--email', 'env@example.com', '--verified', '--json'], {
      KEYMASTER_PASSWORD: 'From-the-env-1!',
    });
    expect(created.code).toBe(0);
    const db = await openDatabase(loadConfig({ ...world.env }), 'cli');
    try {
      const row = await db.db.selectFrom('users').select('password_hash').where('email', '=', 'env@example.com').executeTakeFirstOrThrow();
      expect(await verify(row.password_hash!, 'From-the-env-1!')).toBe(true);
    } finally {
      await db.close();
    }
  });
});
