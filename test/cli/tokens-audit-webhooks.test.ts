// The real `keymaster` CLI (runCli, in-process) against a real database: Postgres when TEST_DATABASE_URL
// is set, otherwise an embedded database in a temporary data dir (the CLI opens it like the server would).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createDeps, createLogger } from '../../src/deps.js';
import { issueTokens, rotateRefreshToken } from '../../src/domain/tokens/refresh-tokens.js';
import { sha256 } from '../../src/lib/crypto.js';
import { TEST_SECRET } from '../helpers/app.js';
import { runCliInProcess } from '../helpers/cli.js';
import { createTestDatabase, onPostgres, type TestDatabase } from '../helpers/db.js';
import { makeApp, makeUser, member } from '../helpers/factories.js';

let env: Record<string, string>;
let database: TestDatabase | undefined;
let dataDir: string | undefined;
const seed = { appId: '', email: '', userId: '', familyId: '', refreshToken: '' };

const cli = (...args: string[]) => runCliInProcess(env, args);

beforeAll(async () => {
  if (onPostgres()) {
    database = await createTestDatabase();
    env = { DATABASE_URL: database.url!, KEYMASTER_SECRET: TEST_SECRET, LOG_LEVEL: 'error' };
  } else {
    dataDir = mkdtempSync(join(tmpdir(), 'km-cli-'));
    env = { KEYMASTER_DATA_DIR: dataDir, KEYMASTER_SECRET: TEST_SECRET, LOG_LEVEL: 'error' };
  }
  const deps = await createDeps(loadConfig(env), { role: 'cli', log: createLogger({ logLevel: 'silent' }) });
  try {
    const { app } = await makeApp(deps);
    const { user } = await makeUser(deps);
    const first = await issueTokens(
      deps,
      await member(deps, user, app, ['user']),
      app,
      {},
      { userAgent: 'Firefox/140', ip: '203.0.113.5' },
    );
    const second = await rotateRefreshToken(deps, { refreshToken: first.refreshToken, appId: app.appId });
    Object.assign(seed, {
      appId: app.appId,
      email: user.email,
      userId: user.id,
      familyId: first.familyId,
      refreshToken: second.refreshToken,
    });
  } finally {
    await deps.close();
  }
});

afterAll(async () => {
  await database?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('keymaster tokens', () => {
  it('list --json shows every seed-001 field; the table shows the same tokens', async () => {
    const res = await cli('tokens', 'list', '--user', seed.email, '--json');
    expect(res.code).toBe(0);
    const rows = JSON.parse(res.stdout) as Record<string, unknown>[];
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({
      audience: seed.appId,
      family_id: seed.familyId,
      user_id: seed.userId,
      state: 'active',
      lifetime_seconds: 30 * 86_400,
      revoked_at: null,
      last_used_at: null,
      claims: { email: seed.email, name: 'Test User', roles: ['user'] },
      token_hash_prefix: sha256(seed.refreshToken).slice(0, 12),
      device: { user_agent: null, ip: null },
    });
    expect(rows[1]).toMatchObject({ state: 'rotated', device: { user_agent: 'Firefox/140', ip: '203.0.113.5' } });
    for (const k of ['jti', 'created_at', 'expires_at', 'revoked_reason']) expect(rows[0]).toHaveProperty(k);

    const table = await cli('tokens', 'list', '--app', seed.appId);
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^jti\s+family\s+audience\s+user\s+state/);
    expect(table.stdout).toContain(sha256(seed.refreshToken).slice(0, 12));
    expect(table.stdout).not.toContain(seed.refreshToken);
  });

  it('revoke JTI ends the family; bad arguments exit 2 with one line', async () => {
    const [head] = JSON.parse((await cli('tokens', 'list', '--user', seed.userId, '--active', '--json')).stdout) as { jti: string }[];
    const res = await cli('tokens', 'revoke', head!.jti, '--json');
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toEqual({ revoked: 2, sessions: 0 });
    expect(JSON.parse((await cli('tokens', 'list', '--user', seed.userId, '--active', '--json')).stdout)).toEqual([]);

    const none = await cli('tokens', 'revoke');
    expect(none.code).toBe(2);
    expect(none.stderr).toBe('keymaster: give exactly one of JTI, --family ID or --user ID\n');
    const unknown = await cli('tokens', 'list', '--user', 'ghost@example.com');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe('keymaster: No user ghost@example.com\n');
  });

  it('audit list shows the CLI revocation with its actor', async () => {
    const res = await cli('audit', 'list', '--event', 'refresh_token.revoked', '--user', seed.email, '--json');
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toEqual([
      expect.objectContaining({
        event: 'refresh_token.revoked',
        user_id: seed.userId,
        app_id: seed.appId,
        data: { familyId: seed.familyId, revoked: 2, reason: 'admin', actor: 'cli', actor_id: userInfo().username, source: 'cli' },
      }),
    ]);
  });
});

describe('keymaster webhooks', () => {
  it('add prints the secret once; ping queues a delivery; deliveries lists it', async () => {
    const add = await cli(
      'webhooks',
      'add',
      '--app',
      seed.appId,
      '--url',
      'https://hooks.example.com/km',
      '--events',
      'user.login,user.logout',
      '--json',
    );
    expect(add.code).toBe(0);
    const hook = JSON.parse(add.stdout) as { id: string; secret: string; events: string[] };
    expect(hook.secret).toMatch(/^[0-9a-f]{64}$/);
    expect(hook.events).toEqual(['user.login', 'user.logout']);
    const list = await cli('webhooks', 'list', '--json');
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ id: hook.id, url: 'https://hooks.example.com/km' })]);
    expect(list.stdout).not.toContain(hook.secret);

    expect((await cli('webhooks', 'ping', hook.id)).code).toBe(0);
    const deliveries = JSON.parse((await cli('webhooks', 'deliveries', '--app', seed.appId, '--status', 'pending', '--json')).stdout);
    expect(deliveries).toEqual([expect.objectContaining({ webhook_id: hook.id, event: 'ping', status: 'pending', attempts: 0 })]);

    const bad = await cli('webhooks', 'add', '--app', seed.appId, '--url', 'https://x.example.com', '--events', 'user.nope');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(
      'keymaster: events.0: Invalid option: expected one of "user.signup"|"user.login"|"user.logout"|"user.role_changed"|"user.suspended"|"user.deleted"|"ping"\n',
    );
  });
});
