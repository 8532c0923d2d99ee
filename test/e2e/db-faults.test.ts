// Database faults under load: a private Postgres cluster (started here, never the shared one) serves
// two single-process servers and one KEYMASTER_WORKERS=2 cluster, while refresh chains rotate their
// tokens through all three. The database is swept with pg_terminate_backend, stopped and started
// (fast shutdown: 57P01 to every session), and its backends are SIGKILLed (sockets end with no message,
// the postmaster resets). Afterwards: no process exited, no family was revoked, every chain still has
// a working token, and every refusal in between was 503 temporarily_unavailable with Retry-After.
// Before that, in this process: each timeout (pool acquisition, statement, idle in transaction, a server
// that stops answering) ends in its DatabaseUnavailableError, a 503 in each route's error shape, and
// /readyz telling saturated from slow (unreachable is seen while the cluster is down, below).
// Postgres runs only: embedded PGlite has no server to lose.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createDeps, createLogger, type Deps } from '../../src/deps.js';
import { issueTokens } from '../../src/domain/tokens/refresh-tokens.js';
import { openPostgres } from '../../src/storage/db.js';
import { DatabaseUnavailableError } from '../../src/storage/unavailable.js';
import { freePort, TEST_SECRET } from '../helpers/app.js';
import { onPostgres } from '../helpers/db.js';
import { DEFAULT_REDIRECT, makeApp, makeUser, member } from '../helpers/factories.js';
import { startPrivateCluster, type PrivateCluster } from '../helpers/pg-cluster.js';
import { isAlive, spawnServer, type ServerProcess } from '../helpers/server-process.js';

const CHAINS = 12;

interface Chain {
  token: string;
  ok: number;
  unavailable: number;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

let cluster: PrivateCluster;
beforeAll(async () => {
  if (onPostgres()) cluster = await startPrivateCluster();
}, 60_000);
afterAll(() => cluster?.stop(), 30_000);

describe.runIf(onPostgres())('database timeouts (private cluster)', () => {
  const url = () => cluster.url('timeouts');
  beforeAll(() => cluster.createDatabase('timeouts'));

  /** A server in this process on a pool of one connection, with short timeouts. */
  async function serverOnOneConnection(timeouts: { acquireMs?: number; statementMs?: number; idleInTransactionMs?: number }) {
    const config = loadConfig({ KEYMASTER_SECRET: TEST_SECRET, DATABASE_URL: url(), LOG_LEVEL: 'silent' });
    const database = openPostgres(url(), 1, true, { timeouts });
    const deps = await createDeps(config, { database, log: createLogger(config) });
    const app = await buildApp(deps);
    await app.ready();
    return { deps, app, database, close: () => app.close().then(() => deps.close()) };
  }

  it('a saturated pool answers 503 + Retry-After in each route shape, and /readyz says saturated', async () => {
    const s = await serverOnOneConnection({ acquireMs: 100 });
    try {
      const { app: client } = await makeApp(s.deps);
      const { user } = await makeUser(s.deps);
      const tokens = await issueTokens(s.deps, await member(s.deps, user, client), client);
      await s.deps.db.connection().execute(async () => {
        // The pool's only connection is held here.
        const oauth = await s.app.inject({
          method: 'POST',
          url: '/token/refresh',
          payload: { refresh_token: tokens.refreshToken, app_id: client.appId },
        });
        expect(oauth.statusCode).toBe(503);
        expect(oauth.headers['retry-after']).toBe('1');
        expect(oauth.json()).toEqual({ error: 'temporarily_unavailable', error_description: expect.any(String) });
        const detail = await s.app.inject({
          method: 'POST',
          url: '/api/v1/auth/refresh',
          payload: { refresh_token: tokens.refreshToken },
        });
        expect(detail.statusCode).toBe(503);
        expect(detail.headers['retry-after']).toBe('1');
        expect(detail.json()).toEqual({ error: 'temporarily_unavailable', retry_after: 1, detail: expect.any(String) });
        const page = await s.app.inject({ url: `/login?app_id=${client.appId}&redirect_uri=${encodeURIComponent(DEFAULT_REDIRECT)}` });
        expect(page.statusCode).toBe(503);
        expect(page.headers['content-type']).toMatch(/^text\/html/);
        expect(page.headers['retry-after']).toBe('1');
        const ready = await s.app.inject({ url: '/readyz' });
        expect(ready.statusCode).toBe(503);
        expect(ready.json()).toMatchObject({ status: 'unavailable', reason: 'saturated' });
      });
      // The connection is back: the same token refreshes (nothing was spent by the refusals).
      const again = await s.app.inject({
        method: 'POST',
        url: '/token/refresh',
        payload: { refresh_token: tokens.refreshToken, app_id: client.appId },
      });
      expect(again.statusCode).toBe(200);
      expect((await s.app.inject({ url: '/readyz' })).statusCode).toBe(200);
    } finally {
      await s.close();
    }
  });

  it('statement and idle-in-transaction timeouts end in DatabaseUnavailableError (slow)', async () => {
    const s = await serverOnOneConnection({ statementMs: 200, idleInTransactionMs: 200 });
    try {
      const slow = await sql`select pg_sleep(2)`.execute(s.deps.db).catch((e: unknown) => e);
      expect(slow).toBeInstanceOf(DatabaseUnavailableError);
      expect(slow).toMatchObject({ reason: 'slow', sqlstate: '57014' });
      const idle = await s.deps.db
        .transaction()
        .execute(async (trx) => {
          await sql`select 1`.execute(trx);
          await pause(600); // idle in the transaction past its timeout: the server ends the session
          await sql`select 1`.execute(trx);
        })
        .catch((e: unknown) => e);
      expect(idle).toBeInstanceOf(DatabaseUnavailableError);
      expect(idle).toMatchObject({ reason: 'slow', sqlstate: '25P03' });
      // The pool replaced the connection.
      expect((await sql<{ one: number }>`select 1 as one`.execute(s.deps.db)).rows).toEqual([{ one: 1 }]);
    } finally {
      await s.close();
    }
  });

  it('a server that stops answering: /readyz says slow, the watchdog cuts the connection, the next request works', async () => {
    const s = await serverOnOneConnection({ statementMs: 300 });
    try {
      const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(s.deps.db);
      const pid = rows[0]!.pid;
      process.kill(pid, 'SIGSTOP'); // the pool's only backend hangs; the cluster is this file's own
      try {
        const hung = sql`select 1`.execute(s.deps.db).catch((e: unknown) => e);
        while (s.database.poolStats!().idle > 0) await new Promise((r) => setImmediate(r)); // it holds the connection
        const ready = await s.app.inject({ url: '/readyz' });
        expect(ready.statusCode).toBe(503);
        expect(ready.json()).toMatchObject({ status: 'unavailable', reason: 'slow' });
        expect(await hung).toMatchObject({ name: 'DatabaseUnavailableError', reason: 'slow' });
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      expect((await s.app.inject({ url: '/readyz' })).statusCode).toBe(200);
    } finally {
      await s.close();
    }
  });
});

describe.runIf(onPostgres())('database faults under load (private cluster)', () => {
  let deps: Deps;
  let appId: string;
  const servers: ServerProcess[] = [];
  const chains: Chain[] = [];
  const unexpected: string[] = [];
  let running = true;
  let load: Promise<void>;

  beforeAll(async () => {
    await cluster.createDatabase('keymaster');
    const url = cluster.url('keymaster');
    const config = loadConfig({ KEYMASTER_SECRET: TEST_SECRET, DATABASE_URL: url, LOG_LEVEL: 'silent' });
    deps = await createDeps(config, { database: openPostgres(url, 2), log: createLogger(config) });
    const { app } = await makeApp(deps);
    appId = app.appId;
    const { user } = await makeUser(deps);
    for (let i = 0; i < CHAINS; i++)
      chains.push({ token: (await issueTokens(deps, await member(deps, user, app), app)).refreshToken, ok: 0, unavailable: 0 });
    const env = {
      DATABASE_URL: url,
      DATABASE_POOL_MAX: '4',
      KEYMASTER_SECRET: TEST_SECRET,
      KEYMASTER_RATE_LIMIT_SCALE: '1000',
      KEYMASTER_REQUEST_LOG: 'false',
      KEYMASTER_WEBHOOK_POLL_MS: '500',
      KEYMASTER_KEY_POLL_SECONDS: '1',
      KEYMASTER_PRUNE_INTERVAL_SECONDS: '1',
    };
    const [pa, pb, pc] = [await freePort(), await freePort(), await freePort()];
    servers.push(
      ...(await Promise.all([spawnServer(pa, env), spawnServer(pb, env), spawnServer(pc, { ...env, KEYMASTER_WORKERS: '2' }, 2)])),
    );
    load = Promise.all(chains.map((c, i) => drive(c, i))).then(() => undefined);
  }, 120_000);

  afterAll(async () => {
    running = false;
    await load;
    await Promise.all(servers.map((s) => s.stop()));
    await deps?.close();
  }, 60_000);

  /** One chain: refresh, keep the new token; on 503 keep the old one and retry (on the next server). */
  async function drive(chain: Chain, i: number): Promise<void> {
    for (let n = 0; running; n++) {
      const s = servers[(i + n) % servers.length]!;
      let res: Response;
      try {
        res = await fetch(`${s.url}/token/refresh`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ refresh_token: chain.token, app_id: appId }),
        });
      } catch (err) {
        unexpected.push(`${s.url}: ${(err as Error).message}`);
        await pause(100);
        continue;
      }
      const body = (await res.json()) as Record<string, unknown>;
      if (res.status === 200) {
        chain.token = body.refresh_token as string;
        chain.ok++;
      } else if (res.status === 503 && body.error === 'temporarily_unavailable' && Number(res.headers.get('retry-after')) > 0) {
        chain.unavailable++;
        await pause(100); // a client honouring Retry-After would wait longer; the test only needs it to come back
      } else {
        unexpected.push(`${s.url}: ${res.status} ${JSON.stringify(body)}`);
        await pause(100);
      }
    }
  }

  /** Resolves once every chain has rotated `more` times since the call (the servers recovered). */
  async function everyChainAdvances(more: number, what: string): Promise<void> {
    const from = chains.map((c) => c.ok);
    const deadline = Date.now() + 45_000;
    while (!chains.every((c, i) => c.ok >= from[i]! + more)) {
      if (Date.now() > deadline) {
        const problems = servers.flatMap((s, i) => s.logs.filter((l) => (l.level as number) >= 40).map((l) => ({ s: i, ...l })));
        console.error(JSON.stringify(problems.slice(-40), null, 1), unexpected.slice(-10));
        throw new Error(`chains did not recover after ${what}: ${JSON.stringify(chains.map((c) => c.ok))}`);
      }
      await pause(100);
    }
  }

  const readyz = async (s: ServerProcess) => {
    const res = await fetch(`${s.url}/readyz`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it('survives a terminate sweep, a fast restart and killed backends; no family revoked, every chain intact', async () => {
    await everyChainAdvances(2, 'warm-up');

    const terminated = await cluster.terminateAll();
    expect(terminated).toBeGreaterThan(0);
    await everyChainAdvances(3, 'pg_terminate_backend of every session');

    await cluster.pause('fast');
    // While the database is down, readiness says why (and the load keeps getting 503s).
    const down = await readyz(servers[0]!);
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ status: 'unavailable', reason: 'unreachable', error: 'temporarily_unavailable' });
    await pause(500);
    await cluster.resume();
    await everyChainAdvances(3, 'a fast stop and start');

    const killed = await cluster.killBackends();
    expect(killed).toBeGreaterThan(0);
    await everyChainAdvances(3, 'SIGKILLed backends and the postmaster reset');

    running = false;
    await load;

    // Every process is alive: the two single servers, the cluster's primary and both its workers.
    const pids = [servers[0]!.child.pid!, servers[1]!.child.pid!, servers[2]!.child.pid!, ...servers[2]!.serverPids];
    const alive = pids.filter(isAlive).length;
    expect(servers.flatMap((s) => s.logs).filter((l) => l.event === 'worker.exited')).toEqual([]);
    for (const s of servers) expect((await readyz(s)).status).toBe(200);

    // No family revoked, no replay recorded.
    const revoked = await deps.db.selectFrom('refresh_tokens').select('jti').where('revoked_at', 'is not', null).execute();
    const replays = await deps.db.selectFrom('audit_events').select('id').where('event', '=', 'refresh_token.replay').execute();
    // Every chain's last token still refreshes.
    const finals = await Promise.all(
      chains.map((c, i) =>
        fetch(`${servers[i % servers.length]!.url}/token/refresh`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ refresh_token: c.token, app_id: appId }),
        }).then((r) => r.status),
      ),
    );
    const lost = servers.flatMap((s) => s.logs).filter((l) => l.event === 'db.connection_lost').length;
    console.info(
      `db faults: ${alive}/${pids.length} processes alive, ${revoked.length} tokens revoked, ${replays.length} replays, ` +
        `${finals.filter((s) => s === 200).length}/${CHAINS} chains intact, ${chains.reduce((n, c) => n + c.ok, 0)} rotations, ` +
        `${chains.reduce((n, c) => n + c.unavailable, 0)} answered 503, ${lost} connections lost and replaced`,
    );
    expect(unexpected).toEqual([]);
    expect(alive).toBe(pids.length);
    expect(revoked).toEqual([]);
    expect(replays).toEqual([]);
    expect(finals).toEqual(chains.map(() => 200));
    // The faults reached the servers' pools (idle and checked-out clients both report through here).
    expect(lost).toBeGreaterThan(0);
  }, 240_000);
});
