// `keymaster members …`, `invites …` and the apps' access options (issue 14) as an admin runs them:
// a real process on a Postgres database (TEST_DATABASE_URL runs) or a fresh embedded data dir.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliDatabase, runCliProcess, type CliDatabase } from '../helpers/cli.js';

let world: CliDatabase;
beforeAll(async () => {
  world = await createCliDatabase();
});
afterAll(() => world.close());

const cli = (args: string[]) => runCliProcess(world.env, args);
const json = async (args: string[]) => {
  const res = await cli([...args, '--json']);
  if (res.code !== 0) throw new Error(`${args.join(' ')}: ${res.code} ${res.stderr}`);
  return JSON.parse(res.stdout) as Record<string, unknown>;
};

describe('keymaster members | invites | apps access options', { timeout: 180_000 }, () => {
  it('an invite app with its roles; members roles/suspend/activate/approve/remove; invites create/list/revoke', async () => {
    const app = await json([
      'apps',
      'create',
      '--name',
      'Team App',
      '--redirect-uri',
      'https://team.example/cb',
      '--registration-policy',
      'invite',
      '--available-roles',
      'viewer,editor',
      '--auto-assign-roles',
      'viewer',
    ]);
    expect(app).toMatchObject({ registration_policy: 'invite', available_roles: ['viewer', 'editor'], auto_assign_roles: ['viewer'] });
    const appId = app.app_id as string;
    const updated = await json(['apps', 'update', appId, '--registration-policy', 'approval']);
    expect(updated).toMatchObject({ registration_policy: 'approval', available_roles: ['viewer', 'editor'] });
    const badAuto = await cli(['apps', 'update', appId, '--auto-assign-roles', 'owner']);
    expect(badAuto.code).toBe(2);
    expect(badAuto.stderr).toMatch(/Role "owner" is not available in this app/);

    const user = await json(['users', 'create', '--email', 'member@example.com', '--password', 'Sup3r-secret!', '--verified']);
    const m = await json(['members', 'roles', 'member@example.com', '--app', appId, '--set', 'editor']);
    expect(m).toMatchObject({ user_id: user.id, app_id: appId, roles: ['editor'], status: 'active' });
    const refused = await cli(['members', 'roles', 'member@example.com', '--app', appId, '--set', 'admin']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/not available in this app/);

    expect(await json(['members', 'suspend', 'member@example.com', '--app', appId])).toMatchObject({ status: 'suspended' });
    expect(await json(['members', 'list', '--app', appId, '--status', 'suspended'])).toMatchObject({
      items: [{ user_id: user.id, status: 'suspended' }],
      next_cursor: null,
    });
    expect(await json(['members', 'activate', 'member@example.com', '--app', appId])).toMatchObject({ status: 'active' });
    const notPending = await cli(['members', 'approve', 'member@example.com', '--app', appId]);
    expect(notPending.code).toBe(2);
    expect(notPending.stderr.trim()).toBe('keymaster: The membership is not waiting for approval');
    expect(await json(['members', 'remove', 'member@example.com', '--app', appId])).toMatchObject({ removed: true });
    const gone = await cli(['members', 'remove', 'member@example.com', '--app', appId]);
    expect(gone.code).toBe(2);
    expect((await json(['members', 'list', '--app', appId])).items).toEqual([]);

    const invite = await json(['invites', 'create', '--app', appId, '--email', 'new@example.com', '--roles', 'viewer', '--hours', '24']);
    expect(invite).toMatchObject({ email: 'new@example.com', roles: ['viewer'], status: 'open' });
    expect(invite.code).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    const listed = await json(['invites', 'list', '--app', appId]);
    expect((listed.items as { id: string }[]).map((i) => i.id)).toEqual([invite.id]);
    expect(await json(['invites', 'revoke', invite.id as string, '--app', appId])).toMatchObject({ status: 'revoked' });
    const tooLong = await cli(['invites', 'create', '--app', appId, '--email', 'x@example.com', '--hours', '9999']);
    expect(tooLong.code).toBe(2);
  });
});
