// The CLI while the server runs (issue 14). Embedded database: a real server process holds the data
// folder, and `keymaster …` runs its commands inside it over <dataDir>/admin.sock, with the same
// output and exit codes as a local run, and the server's caches see each change at once. Postgres:
// no socket; the CLI opens the shared database itself, as before.
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, TEST_SECRET } from '../helpers/app.js';
import { runCliProcess } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { DEFAULT_PASSWORD } from '../helpers/factories.js';
import { spawnServer, type ServerProcess } from '../helpers/server-process.js';

const embedded = !process.env.TEST_DATABASE_URL;
let database: TestDatabase | undefined;
let server: ServerProcess;
let dataDir: string;
let env: Record<string, string>;

beforeAll(async () => {
  database = embedded ? undefined : await createTestDatabase();
  dataDir = mkdtempSync(join(tmpdir(), 'km-socket-'));
  env = { KEYMASTER_DATA_DIR: dataDir, ...(database && { DATABASE_URL: database.url, KEYMASTER_SECRET: TEST_SECRET }) };
  // A socket file left by a server that was killed: the next start replaces it.
  if (embedded) writeFileSync(join(dataDir, 'admin.sock'), 'stale');
  const port = await freePort();
  server = await spawnServer(port, { ...env, KEYMASTER_ISSUER: `http://127.0.0.1:${port}` });
}, 90_000);
afterAll(async () => {
  await server?.stop();
  await database?.close();
});

const cli = (args: string[], opts: { stdin?: string; env?: Record<string, string> } = {}) => runCliProcess(env, args, opts);

/** One raw request on the admin socket. */
function rawRequest(request: object): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const socket = connect(join(dataDir, 'admin.sock'));
    let raw = '';
    socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('data', (d) => (raw += d.toString()));
    socket.on('error', reject);
    socket.on('end', () => resolve(JSON.parse(raw) as Record<string, unknown>));
  });
}

const clientCredentials = (appId: string, secret: string) =>
  fetch(`${server.url}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${appId}:${secret}`).toString('base64')}`,
    },
    body: 'grant_type=client_credentials',
  });

describe('the CLI while the server runs', { timeout: 120_000 }, () => {
  it('the server logs one setup link at start while there is no admin', () => {
    const links = server.logs.filter((l) => l.event === 'setup.link_issued');
    expect(links).toHaveLength(1);
    expect(links[0]!.msg).toMatch(new RegExp(`${server.url.replace(/[.]/g, '\\.')}/setup\\?token=[0-9a-f]{64}`));
  });

  it.runIf(embedded)('listens on a 0600 Unix socket with a 0600 token file (the stale socket was replaced)', () => {
    expect(statSync(join(dataDir, 'admin.sock')).isSocket()).toBe(true);
    expect(statSync(join(dataDir, 'admin.sock')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dataDir, 'admin.token')).mode & 0o777).toBe(0o600);
    // Nothing secret in the log: not the socket token.
    expect(JSON.stringify(server.logs)).not.toContain(readFileSync(join(dataDir, 'admin.token'), 'utf8').trim());
  });

  it.runIf(!embedded)('on Postgres there is no socket: the CLI opens the shared database itself', () => {
    expect(existsSync(join(dataDir, 'admin.sock'))).toBe(false);
  });

  it('apps create --json exits 0 and the running server serves the app at once', async () => {
    const created = await cli(['apps', 'create', '--name', 'Socket Demo', '--redirect-uri', 'https://demo.example.com/cb', '--json']);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const app = JSON.parse(created.stdout) as { app_id: string; client_secret: string };
    expect(app.client_secret).toMatch(/^[0-9a-f]{64}$/);
    const login = await fetch(`${server.url}/login?app_id=${app.app_id}&redirect_uri=${encodeURIComponent('https://demo.example.com/cb')}`);
    expect(login.status).toBe(200);
    expect(await login.text()).toContain('Socket Demo');
    // Audited as a CLI change, with who ran it, when run inside the server as when run alone.
    const audit = await cli(['audit', 'list', '--app', app.app_id, '--event', 'app.created', '--json']);
    expect(JSON.parse(audit.stdout)).toEqual([
      expect.objectContaining({ data: expect.objectContaining({ actor: 'cli', actor_id: userInfo().username, source: 'cli' }) }),
    ]);
  });

  it('bad commands give the exit codes of a local run; migrate says why it cannot run', async () => {
    const bogus = await cli(['apps', 'bogus']);
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toContain("unknown command 'bogus'");
    const missing = await cli(['apps', 'show', '00000000-0000-4000-8000-000000000000']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/No app with id/);
    const badTier = await cli(['admin', 'grant', 'nobody@example.com', '--tier', 'root']);
    expect(badTier.code).toBe(2);
    if (embedded) {
      const migrate = await cli(['migrate']);
      expect(migrate.code).toBe(2);
      expect(migrate.stderr).toContain('cannot run while the server runs');
    }
  });

  it('admin create --password-stdin makes the first admin; the setup link then stops working', async () => {
    const token = /setup\?token=([0-9a-f]{64})/.exec(server.logs.find((l) => l.event === 'setup.link_issued')!.msg as string)![1]!;
    expect((await fetch(`${server.url}/setup?token=${token}`)).status).toBe(200);
    const made = await cli(['admin', 'create', '--email', 'root@example.com', '--name', 'Root', '--password-stdin', '--json'], {
      stdin: `${DEFAULT_PASSWORD}\n`,
    });
    expect(made.stderr).toBe('');
    expect(made.code).toBe(0);
    expect(JSON.parse(made.stdout)).toMatchObject({ email: 'root@example.com', user_created: true, grant_created: true });
    expect((await fetch(`${server.url}/setup?token=${token}`)).status).toBe(403);
    const list = await cli(['admin', 'list', '--json']);
    expect((JSON.parse(list.stdout) as { tier: string }[]).map((g) => g.tier)).toEqual(['platform_admin']);
    const tenant = JSON.parse((await cli(['tenants', 'create', '--name', 'Acme', '--json'])).stdout) as { id: string };
    const granted = await cli(['admin', 'grant', 'root@example.com', '--tier', 'tenant_admin', '--tenant', tenant.id, '--json']);
    expect(granted.code).toBe(0);
    const revoked = await cli(['admin', 'revoke', (JSON.parse(granted.stdout) as { grant_id: string }).grant_id]);
    expect(revoked.code).toBe(0);
  });

  // On Postgres the CLI is another process: the server's cache then follows within its 1 s bound (app-cache.ts).
  it.runIf(embedded)('a secret rotated with the CLI stops working at the server at once (its app cache sees the change)', async () => {
    const app = JSON.parse(
      (
        await cli([
          'apps',
          'create',
          '--name',
          'Service',
          '--redirect-uri',
          'https://svc.example.com/cb',
          '--grant-types',
          'client_credentials',
          '--json',
        ])
      ).stdout,
    ) as { app_id: string; client_secret: string };
    expect((await clientCredentials(app.app_id, app.client_secret)).status).toBe(200);
    // Keep the server's cached copy of the app fresh while the CLI runs (its entries live up to 1 s).
    let warm = true;
    const warmer = (async () => {
      while (warm) {
        await clientCredentials(app.app_id, app.client_secret);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const rotated = await cli(['apps', 'rotate-secret', app.app_id, '--json']);
    const old = await clientCredentials(app.app_id, app.client_secret);
    warm = false;
    await warmer;
    expect(rotated.code).toBe(0);
    expect(old.status).toBe(401);
    const fresh = (JSON.parse(rotated.stdout) as { client_secret: string }).client_secret;
    expect((await clientCredentials(app.app_id, fresh)).status).toBe(200);
  });

  it.runIf(embedded)('a request without the right token is refused and runs nothing', async () => {
    const argv = ['tenants', 'create', '--name', 'Intruder'];
    const wrong = await rawRequest({ token: 'f'.repeat(64), argv, cwd: '/' });
    expect(wrong.error).toMatch(/wrong or missing token/);
    expect(wrong.code).toBeUndefined();
    const none = await rawRequest({ argv, cwd: '/' });
    expect(none.error).toBeDefined();
    const tenants = await cli(['tenants', 'list', '--json']);
    expect(tenants.stdout).not.toContain('Intruder');
    expect(server.logs.some((l) => l.event === 'admin_socket.refused')).toBe(true);
  });

  it.runIf(embedded)('the socket and token file are removed when the server stops', async () => {
    await server.stop();
    expect(existsSync(join(dataDir, 'admin.sock'))).toBe(false);
    expect(existsSync(join(dataDir, 'admin.token'))).toBe(false);
    // With no server, the CLI opens the data folder itself again.
    const list = await cli(['tenants', 'list', '--json']);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ name: 'Acme' })]);
  });
});
