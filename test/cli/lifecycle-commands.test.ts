// keymaster keys list|rotate, apps update --reuse-interval, stats, prune — run as real CLI processes
// against this file's database (Postgres) or a private embedded data dir (PGlite).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_SECRET } from '../helpers/app.js';
import { createTestDatabase, onPostgres, type TestDatabase } from '../helpers/db.js';

let database: TestDatabase | undefined;
let dataDir: string | undefined;

beforeAll(async () => {
  if (onPostgres()) database = await createTestDatabase();
  else dataDir = mkdtempSync(join(tmpdir(), 'km-cli-'));
});
afterAll(async () => {
  await database?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

function cli(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, KEYMASTER_SECRET: TEST_SECRET, LOG_LEVEL: 'warn' };
  if (database) env.DATABASE_URL = database.url!;
  else env.KEYMASTER_DATA_DIR = dataDir!;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, out, err })));
}

// Each command is a fresh process (tsx + database open): slow on embedded PGlite, hence the timeout.
describe('lifecycle CLI commands', { timeout: 120_000 }, () => {
  it('keys rotate publishes a next key that keys list shows beside the active one', async () => {
    const rotated = await cli('keys', 'rotate', '--json');
    expect(rotated.code).toBe(0);
    const { kid, state, activate_at } = JSON.parse(rotated.out) as { kid: string; state: string; activate_at: string };
    expect(state).toBe('next');
    expect(new Date(activate_at).getTime()).toBeGreaterThan(Date.now() + 290_000);
    const listed = await cli('keys', 'list', '--json');
    expect(listed.code).toBe(0);
    const keys = JSON.parse(listed.out) as { kid: string; state: string }[];
    expect(keys.map((k) => k.state).sort()).toEqual(['active', 'next']);
    expect(keys.find((k) => k.state === 'next')!.kid).toBe(kid);
  });

  it('apps update --reuse-interval sets the per-app grace; bad values exit 2 and change nothing', async () => {
    const created = await cli('apps', 'create', '--name', 'CLI App', '--redirect-uri', 'https://cli.example.com/cb', '--json');
    expect(created.code).toBe(0);
    const appId = (JSON.parse(created.out) as { app_id: string }).app_id;
    const strict = await cli('apps', 'update', appId, '--reuse-interval', '0', '--json');
    expect(strict.code).toBe(0);
    expect(JSON.parse(strict.out).refresh_reuse_interval).toBe(0);
    const bad = await cli('apps', 'update', appId, '--reuse-interval', '301');
    expect(bad.code).toBe(2);
    expect(bad.err.trim().split('\n')).toHaveLength(1);
    const shown = await cli('apps', 'show', appId, '--json');
    expect(JSON.parse(shown.out).refresh_reuse_interval).toBe(0);
  });

  it('stats lists tables with rows and sizes; prune reports per-target batches', async () => {
    const stats = await cli('stats', '--json');
    expect(stats.code).toBe(0);
    const rows = JSON.parse(stats.out) as { table: string; rows: number; bytes: number }[];
    expect(rows.find((r) => r.table === 'signing_keys')!.rows).toBe(2);
    expect(rows.find((r) => r.table === 'apps')!.rows).toBe(1);
    const pruned = await cli('prune', '--batch-size', '50', '--json');
    expect(pruned.code).toBe(0);
    expect((JSON.parse(pruned.out) as { name: string }[]).map((r) => r.name)).toEqual(
      expect.arrayContaining(['refresh_tokens', 'sessions', 'rate_limits']),
    );
    expect((await cli('prune', '--batch-size', 'zero')).code).toBe(2);
  });

  it('apps create refuses an http: callback on a real host (exit 2) unless --development; update --no-development re-checks', async () => {
    const refused = await cli('apps', 'create', '--name', 'Plain', '--redirect-uri', 'http://dev.example.test/cb');
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/only on a loopback host/);
    const dev = await cli('apps', 'create', '--name', 'Dev', '--redirect-uri', 'http://dev.example.test/cb', '--development', '--json');
    expect(dev.code).toBe(0);
    const app = JSON.parse(dev.out) as { app_id: string; development: boolean };
    expect(app.development).toBe(true);
    expect((await cli('apps', 'update', app.app_id, '--no-development')).code).toBe(2);
    const kept = await cli('apps', 'update', app.app_id, '--name', 'Dev 2', '--json');
    expect(JSON.parse(kept.out)).toMatchObject({ name: 'Dev 2', development: true });
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
      const app = JSON.parse(created.out) as { app_id: string; backchannel_logout_uri: string | null };
      expect(app.backchannel_logout_uri).toBe(uri);
      for (const bad of ['http://rp.example.com/bcl', 'https://rp.example.com/bcl#f']) {
        const refused = await cli('apps', 'update', app.app_id, '--backchannel-logout-uri', bad);
        expect(refused.code, bad).toBe(2);
        expect(refused.err.trim().split('\n')).toHaveLength(1);
      }
      expect(JSON.parse((await cli('apps', 'show', app.app_id, '--json')).out).backchannel_logout_uri).toBe(uri);
      const cleared = await cli('apps', 'update', app.app_id, '--no-backchannel-logout-uri', '--json');
      expect(JSON.parse(cleared.out).backchannel_logout_uri).toBeNull();
      const again = await cli('apps', 'update', app.app_id, '--backchannel-logout-uri', 'http://127.0.0.1:9/bcl', '--json');
      expect(JSON.parse(again.out).backchannel_logout_uri).toBe('http://127.0.0.1:9/bcl');
      expect(
        JSON.parse((await cli('apps', 'update', app.app_id, '--backchannel-logout-uri', '', '--json')).out).backchannel_logout_uri,
      ).toBeNull();
    },
  );
});
