// The management listener of a real server process (src/management.ts, src/main.ts): /metrics and
// health on 127.0.0.1 and their own port by default, /metrics a 404 on the public port, and under
// KEYMASTER_WORKERS > 1 one scrape of the primary that covers every worker.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, TEST_SECRET } from './helpers/app.js';
import { createTestDatabase, onPostgres, type TestDatabase } from './helpers/db.js';
import { spawnServer, type ServerProcess } from './helpers/server-process.js';

let database: TestDatabase | undefined;
const dataDirs: string[] = [];
const servers: ServerProcess[] = [];
beforeAll(async () => {
  if (onPostgres()) database = await createTestDatabase();
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  await database?.close();
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
}, 60_000);

/** Postgres, or an embedded database of its own (one process per data directory). */
function dbEnv(): Record<string, string> {
  if (database?.url) return { DATABASE_URL: database.url };
  dataDirs.push(mkdtempSync(join(tmpdir(), 'km-management-')));
  return { KEYMASTER_DATA_DIR: dataDirs.at(-1)! };
}

async function start(env: Record<string, string>, processes = 1) {
  const [port, managementPort] = [await freePort(), await freePort()];
  const server = await spawnServer(
    port,
    {
      KEYMASTER_SECRET: TEST_SECRET,
      ...dbEnv(),
      KEYMASTER_MANAGEMENT_ENABLED: 'true',
      KEYMASTER_MANAGEMENT_PORT: String(managementPort),
      ...env,
    },
    processes,
  );
  servers.push(server);
  return { server, management: `http://127.0.0.1:${managementPort}`, managementPort };
}

/** Every sample of `name` whose labels include all of `labels`, with its labels. */
function samples(text: string, name: string, labels: Record<string, string>) {
  const out: { labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)\{([^}]*)\} (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const l = Object.fromEntries([...m[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1]!, x[2]!]));
    if (Object.entries(labels).every(([k, v]) => l[k] === v)) out.push({ labels: l, value: Number(m[3]) });
  }
  return out;
}

function refusesConnection(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, host);
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

describe('the management listener', () => {
  it('serves /metrics, /healthz and /readyz on 127.0.0.1 only; the public port has health but no /metrics', async () => {
    const { server, management, managementPort } = await start({});
    expect(server.logs.find((l) => l.event === 'server.started')).toMatchObject({ management: `127.0.0.1:${managementPort}` });
    for (let i = 0; i < 3; i++) expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const scrape = await fetch(`${management}/metrics`);
    expect(scrape.status).toBe(200);
    const text = await scrape.text();
    expect(samples(text, 'keymaster_http_requests_total', { route: '/healthz', status: '200' })[0]?.value).toBe(3);
    expect(text).toContain('keymaster_process_cpu_seconds_total');
    expect(await (await fetch(`${management}/healthz`)).json()).toEqual({ status: 'ok' });
    expect(await (await fetch(`${management}/readyz`)).json()).toEqual({ status: 'ok' });
    expect((await fetch(`${server.url}/metrics`)).status).toBe(404);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    // Bound to loopback: another address of this host is refused (when the host has one).
    const external = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal);
    if (external) expect(await refusesConnection(external.address, managementPort)).toBe(true);
  }, 90_000);

  it('KEYMASTER_MANAGEMENT_ENABLED=false: no listener; KEYMASTER_METRICS_TOKEN opens /metrics on the public port to the token', async () => {
    const token = 'metrics-token-0123456789';
    const { server, managementPort } = await start({ KEYMASTER_MANAGEMENT_ENABLED: 'false', KEYMASTER_METRICS_TOKEN: token });
    expect(await refusesConnection('127.0.0.1', managementPort)).toBe(true);
    expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
    const ok = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('keymaster_http_requests_total');
  }, 90_000);

  it.skipIf(!onPostgres())(
    'KEYMASTER_WORKERS=2: the primary serves it, and one scrape holds every worker’s series',
    async () => {
      const { server, management } = await start({ KEYMASTER_WORKERS: '2' }, 2);
      const N = 20;
      for (let i = 0; i < N; i++) expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      const text = await (await fetch(`${management}/metrics`)).text();
      const healthz = samples(text, 'keymaster_http_requests_total', { route: '/healthz', status: '200' });
      // Each worker's count under its own label, and together every request.
      expect(new Set(healthz.map((s) => s.labels.worker))).toEqual(new Set(['1', '2']));
      expect(healthz.reduce((sum, s) => sum + s.value, 0)).toBe(N);
      expect(
        samples(text, 'keymaster_db_pool_connections', { state: 'max' })
          .map((s) => s.labels.worker)
          .sort(),
      ).toEqual(['1', '2']);
      expect(await (await fetch(`${management}/readyz`)).json()).toEqual({ status: 'ok' });
      expect((await fetch(`${server.url}/metrics`)).status).toBe(404);
    },
    120_000,
  );
});
