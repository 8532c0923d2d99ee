// keymaster admin create|grant|revoke|list, tenants create|list, apps update --tenant: a real CLI
// process on a Postgres database (TEST_DATABASE_URL runs) or a fresh embedded data dir, no server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliDatabase, runCliProcess, type CliDatabase } from '../helpers/cli.js';
import { DEFAULT_PASSWORD } from '../helpers/factories.js';

let world: CliDatabase;
beforeAll(async () => {
  world = await createCliDatabase({ prefix: 'km-admin-' });
});
afterAll(() => world.close());

/** Runs the CLI with `stdin` piped in (never a terminal: nothing can be asked). */
const cli = (args: string[], stdin = '') => runCliProcess(world.env, args, { stdin });

describe('keymaster admin and tenants', { timeout: 180_000 }, () => {
  it('admin create needs a password for a new user (stdin, never an option), checks the policy, and is idempotent', async () => {
    const none = await cli(['admin', 'create', '--email', 'boss@example.com']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('--password-stdin');
    const asOption = await cli(['admin', 'create', '--email', 'boss@example.com', '--password', DEFAULT_PASSWORD]);
    expect(asOption.code).toBe(2);
    const weak = await cli(['admin', 'create', '--email', 'boss@example.com', '--password-stdin'], 'weak\n');
    expect(weak.code).toBe(2);
    expect(weak.stderr).toMatch(/Password too weak/);
    const made = await cli(
      ['admin', 'create', '--email', 'boss@example.com', '--name', 'Boss', '--password-stdin', '--json'],
      `${DEFAULT_PASSWORD}\n`,
    );
    expect(made.code).toBe(0);
    expect(made.json()).toMatchObject({ email: 'boss@example.com', user_created: true, grant_created: true });
    const again = await cli(['admin', 'create', '--email', 'boss@example.com', '--json']);
    expect(again.code).toBe(0);
    expect(again.json()).toMatchObject({ user_created: false, grant_created: false, grant_id: made.json().grant_id });
    const list = await cli(['admin', 'list', '--json']);
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ email: 'boss@example.com', tier: 'platform_admin' })]);
  });

  it('grant checks the tier and its scope; revoke removes the grant; every change is audited as cli', async () => {
    const app = JSON.parse(
      (await cli(['apps', 'create', '--name', 'Scoped', '--redirect-uri', 'https://s.example.com/cb', '--json'])).stdout,
    ) as {
      app_id: string;
    };
    await cli(['admin', 'create', '--email', 'helper@example.com', '--password-stdin'], `${DEFAULT_PASSWORD}\n`);
    expect((await cli(['admin', 'grant', 'helper@example.com', '--tier', 'app_admin'])).code).toBe(2);
    expect((await cli(['admin', 'grant', 'helper@example.com', '--tier', 'owner', '--app', app.app_id])).code).toBe(2);
    expect((await cli(['admin', 'grant', 'nobody@example.com', '--tier', 'manager', '--app', app.app_id])).code).toBe(2);
    expect(
      (await cli(['admin', 'grant', 'helper@example.com', '--tier', 'manager', '--app', '00000000-0000-4000-8000-000000000000'])).code,
    ).toBe(2);
    const granted = await cli(['admin', 'grant', 'helper@example.com', '--tier', 'manager', '--app', app.app_id, '--json']);
    expect(granted.code).toBe(0);
    const grantId = granted.json().grant_id as string;
    expect((await cli(['admin', 'revoke', grantId])).code).toBe(0);
    expect((await cli(['admin', 'revoke', grantId])).code).toBe(2);
    const audit = await cli(['audit', 'list', '--json']);
    const events = JSON.parse(audit.stdout) as { event: string; data: { actor?: string; grant_id?: string } }[];
    const mine = events.filter((e) => e.data.grant_id === grantId);
    expect(mine.map((e) => e.event).sort()).toEqual(['admin.granted', 'admin.revoked']);
    expect(mine.every((e) => e.data.actor === 'cli')).toBe(true);
  });

  it('revoke never removes the last live platform admin (the Admin API rule), and changes nothing then', async () => {
    const platform = async () =>
      (JSON.parse((await cli(['admin', 'list', '--json'])).stdout) as { id: string; email: string; tier: string }[]).filter(
        (g) => g.tier === 'platform_admin',
      );
    const before = await platform();
    expect(before.length).toBeGreaterThanOrEqual(2); // boss@ and helper@ above
    for (const g of before.slice(1)) expect((await cli(['admin', 'revoke', g.id])).code).toBe(0);
    const last = await cli(['admin', 'revoke', before[0]!.id]);
    expect(last.code).not.toBe(0);
    expect(last.stderr).toContain('The last platform admin cannot be revoked');
    expect((await platform()).map((g) => g.id)).toEqual([before[0]!.id]);
  });

  it('tenants create|list and apps update --tenant (alone it changes nothing else)', async () => {
    const tenant = await cli(['tenants', 'create', '--name', 'Acme', '--json']);
    expect(tenant.code).toBe(0);
    const tenantId = tenant.json().id as string;
    expect((await cli(['tenants', 'create', '--name', ' '])).code).toBe(2);
    expect(JSON.parse((await cli(['tenants', 'list', '--json'])).stdout)).toEqual(
      expect.arrayContaining([expect.objectContaining({ id: tenantId, name: 'Acme' })]),
    );
    const app = JSON.parse(
      (
        await cli([
          'apps',
          'create',
          '--name',
          'Owned',
          '--redirect-uri',
          'https://o.example.com/cb',
          '--third-party',
          '--development',
          '--json',
        ])
      ).stdout,
    ) as Record<string, unknown>;
    const moved = await cli(['apps', 'update', app.app_id as string, '--tenant', tenantId, '--json']);
    expect(moved.code).toBe(0);
    expect(moved.json()).toMatchObject({ tenant_id: tenantId, third_party: true, development: true, name: 'Owned' });
    expect((await cli(['apps', 'update', app.app_id as string, '--tenant', '00000000-0000-4000-8000-000000000000'])).code).toBe(2);
    const back = await cli(['apps', 'update', app.app_id as string, '--tenant', 'none', '--json']);
    expect(back.json()).toMatchObject({ tenant_id: null, third_party: true });
    const grant = await cli(['admin', 'grant', 'boss@example.com', '--tier', 'tenant_admin', '--tenant', tenantId, '--json']);
    expect(grant.code).toBe(0);
  });
});
