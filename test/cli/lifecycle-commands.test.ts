// keymaster keys list|rotate, apps update --reuse-interval, stats, prune — run as real CLI processes
// against this file's database (Postgres) or a private embedded data dir (PGlite).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_SECRET } from '../helpers/app.js';
import { createCliDatabase, runCliProcess, type CliDatabase } from '../helpers/cli.js';

let world: CliDatabase;
beforeAll(async () => {
  world = await createCliDatabase({ extra: { KEYMASTER_SECRET: TEST_SECRET, LOG_LEVEL: 'warn' } });
});
afterAll(() => world.close());

const cli = (...args: string[]) => runCliProcess(world.env, args);

// Each command is a fresh process (tsx + database open): slow on embedded PGlite, hence the timeout.
describe('lifecycle CLI commands', { timeout: 120_000 }, () => {
  it('keys rotate publishes a next key that keys list shows beside the active one', async () => {
    const rotated = await cli('keys', 'rotate', '--json');
    expect(rotated.code).toBe(0);
    const { kid, state, activate_at } = JSON.parse(rotated.stdout) as { kid: string; state: string; activate_at: string };
    expect(state).toBe('next');
    expect(new Date(activate_at).getTime()).toBeGreaterThan(Date.now() + 290_000);
    const listed = await cli('keys', 'list', '--json');
    expect(listed.code).toBe(0);
    const keys = JSON.parse(listed.stdout) as { kid: string; state: string }[];
    expect(keys.map((k) => k.state).sort()).toEqual(['active', 'next']);
    expect(keys.find((k) => k.state === 'next')!.kid).toBe(kid);
  });

  it('apps update --reuse-interval sets the per-app grace; bad values exit 2 and change nothing', async () => {
    const created = await cli('apps', 'create', '--name', 'CLI App', '--redirect-uri', 'https://cli.example.com/cb', '--json');
    expect(created.code).toBe(0);
    const appId = (JSON.parse(created.stdout) as { app_id: string }).app_id;
    const strict = await cli('apps', 'update', appId, '--reuse-interval', '0', '--json');
    expect(strict.code).toBe(0);
    expect(JSON.parse(strict.stdout).refresh_reuse_interval).toBe(0);
    const bad = await cli('apps', 'update', appId, '--reuse-interval', '301');
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    const shown = await cli('apps', 'show', appId, '--json');
    expect(JSON.parse(shown.stdout).refresh_reuse_interval).toBe(0);
  });

  it('stats lists tables with rows and sizes; prune reports per-target batches', async () => {
    const stats = await cli('stats', '--json');
    expect(stats.code).toBe(0);
    const rows = JSON.parse(stats.stdout) as { table: string; rows: number; bytes: number }[];
    expect(rows.find((r) => r.table === 'signing_keys')!.rows).toBe(2);
    expect(rows.find((r) => r.table === 'apps')!.rows).toBe(1);
    const pruned = await cli('prune', '--batch-size', '50', '--json');
    expect(pruned.code).toBe(0);
    expect((JSON.parse(pruned.stdout) as { name: string }[]).map((r) => r.name)).toEqual(
      expect.arrayContaining(['refresh_tokens', 'sessions', 'rate_limits']),
    );
    expect((await cli('prune', '--batch-size', 'zero')).code).toBe(2);
  });

  it('apps create refuses an http: callback on a real host (exit 2) unless --development; update --no-development re-checks', async () => {
    const refused = await cli('apps', 'create', '--name', 'Plain', '--redirect-uri', 'http://dev.example.test/cb');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/only on a loopback host/);
    const dev = await cli('apps', 'create', '--name', 'Dev', '--redirect-uri', 'http://dev.example.test/cb', '--development', '--json');
    expect(dev.code).toBe(0);
    const app = JSON.parse(dev.stdout) as { app_id: string; development: boolean };
    expect(app.development).toBe(true);
    expect((await cli('apps', 'update', app.app_id, '--no-development')).code).toBe(2);
    const kept = await cli('apps', 'update', app.app_id, '--name', 'Dev 2', '--json');
    expect(JSON.parse(kept.stdout)).toMatchObject({ name: 'Dev 2', development: true });
  });

  // Seven processes: twice the file's per-test allowance on embedded PGlite.
  it(
    'apps create/update --backchannel-logout-uri registers, refuses a bad URI (exit 2, unchanged), and --no-backchannel-logout-uri clears',
    { timeout: 240_000 },
    async () => {
      const uri = 'https://rp.example.com/backchannel?tenant=1';
      const created = await cli(
        'apps',
        'create',
        '--name',
        'BCL',
        '--redirect-uri',
        'https://rp.example.com/cb',
        '--backchannel-logout-uri',
        uri,
        '--json',
      );
      expect(created.code).toBe(0);
      const app = JSON.parse(created.stdout) as { app_id: string; backchannel_logout_uri: string | null };
      expect(app.backchannel_logout_uri).toBe(uri);
      for (const bad of ['http://rp.example.com/bcl', 'https://rp.example.com/bcl#f']) {
        const refused = await cli('apps', 'update', app.app_id, '--backchannel-logout-uri', bad);
        expect(refused.code, bad).toBe(2);
        expect(refused.stderr.trim().split('\n')).toHaveLength(1);
      }
      expect(JSON.parse((await cli('apps', 'show', app.app_id, '--json')).stdout).backchannel_logout_uri).toBe(uri);
      const cleared = await cli('apps', 'update', app.app_id, '--no-backchannel-logout-uri', '--json');
      expect(JSON.parse(cleared.stdout).backchannel_logout_uri).toBeNull();
      const again = await cli('apps', 'update', app.app_id, '--backchannel-logout-uri', 'http://127.0.0.1:9/bcl', '--json');
      expect(JSON.parse(again.stdout).backchannel_logout_uri).toBe('http://127.0.0.1:9/bcl');
      expect(
        JSON.parse((await cli('apps', 'update', app.app_id, '--backchannel-logout-uri', '', '--json')).stdout).backchannel_logout_uri,
      ).toBeNull();
    },
  );
  it('apps create/update --resource (repeatable) registers RFC 8707 resources; a relative or fragment URI exits 2', async () => {
    const cb = 'https://app.example.com/cb';
    const created = await cli('apps', 'create', '--name', 'Api', '--redirect-uri', cb, '--resource', 'https://api.example.com/', '--json');
    expect(created.code).toBe(0);
    const app = JSON.parse(created.stdout) as { app_id: string; resources: string[] };
    expect(app.resources).toEqual(['https://api.example.com/']);
    const updated = await cli(
      'apps',
      'update',
      app.app_id,
      '--resource',
      'urn:example:a',
      '--resource',
      'https://b.example.com/',
      '--json',
    );
    expect(JSON.parse(updated.stdout)).toMatchObject({ resources: ['urn:example:a', 'https://b.example.com/'] });
    for (const bad of ['relative/path', 'https://api.example.com/#frag']) {
      const refused = await cli('apps', 'update', app.app_id, '--resource', bad);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/absolute URI without a fragment/);
    }
    const shown = await cli('apps', 'show', app.app_id);
    expect(shown.stdout).toMatch(/resources: +urn:example:a https:\/\/b\.example\.com\//);
  });
});
