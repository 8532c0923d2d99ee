// default_transaction_isolation = serializable (a private cluster started here): real serialization
// failures and deadlocks are run again by storage/retry.ts, transactions from the start and
// autocommit statements alone, a bounded number of times; the server's journeys pass on it.
// Postgres runs only.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createDeps, createLogger, type Deps } from '../../src/deps.js';
import { issueTokens } from '../../src/domain/tokens/refresh-tokens.js';
import { openPostgres, type DbHandle } from '../../src/storage/db.js';
import { MAX_ATTEMPTS, withRetries } from '../../src/storage/retry.js';
import { DatabaseUnavailableError } from '../../src/storage/unavailable.js';
import { TEST_SECRET } from '../helpers/app.js';
import { onPostgres } from '../helpers/db.js';
import { makeApp, makeUser, member } from '../helpers/factories.js';
import { startPrivateCluster, type PrivateCluster } from '../helpers/pg-cluster.js';

/** Resolves once `n` callers have arrived: both transactions have read before either writes. */
function barrier(n: number) {
  let arrived = 0;
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return () => {
    if (++arrived === n) open();
    return opened;
  };
}

describe.runIf(onPostgres())('serializable isolation (private cluster)', () => {
  let cluster: PrivateCluster;
  let handle: DbHandle;
  beforeAll(async () => {
    cluster = await startPrivateCluster({ default_transaction_isolation: "'serializable'", deadlock_timeout: "'100ms'" });
    await cluster.createDatabase('ser');
    handle = openPostgres(cluster.url('ser'), 4);
    await sql`create table skew (id int primary key, v int not null)`.execute(handle.db);
  }, 60_000);
  afterAll(async () => {
    await handle?.close();
    await cluster?.stop();
  }, 30_000);

  it('the cluster really is serializable', async () => {
    const r = await sql<{ level: string }>`select current_setting('transaction_isolation') as level`.execute(handle.db);
    expect(r.rows[0]!.level).toBe('serializable');
  });

  it('write skew: of two transactions that read what the other writes, the loser runs again and sees the winner', async () => {
    await sql`truncate skew`.execute(handle.db);
    const bothRead = barrier(2);
    let runs = 0;
    // Each counts the rows and inserts one numbered by the count: serially that gives 0 and 1.
    const insertNext = (id: number) =>
      handle.db.transaction().execute(async (trx) => {
        runs++;
        const { n } = (await sql<{ n: number }>`select count(*)::int as n from skew`.execute(trx)).rows[0]!;
        if (runs <= 2) await bothRead();
        await sql`insert into skew (id, v) values (${id}, ${n})`.execute(trx);
        return n;
      });
    const results = await Promise.all([insertNext(1), insertNext(2)]);
    expect(results.sort()).toEqual([0, 1]);
    // One transaction ran again (more than once when its retry met the winner still uncommitted).
    expect(runs).toBeGreaterThanOrEqual(3);
    const rows = await sql<{ v: number }>`select v from skew order by v`.execute(handle.db);
    expect(rows.rows.map((r) => r.v)).toEqual([0, 1]);
  });

  it('a deadlock (40P01): the victim runs again and both transactions commit', async () => {
    await sql`truncate skew`.execute(handle.db);
    await sql`insert into skew (id, v) values (1, 0), (2, 0)`.execute(handle.db);
    const bothLocked = barrier(2);
    let runs = 0;
    const bump = (first: number, second: number) =>
      handle.db.transaction().execute(async (trx) => {
        runs++;
        await sql`select v from skew where id = ${first} for update`.execute(trx);
        if (runs <= 2) await bothLocked();
        await sql`select v from skew where id = ${second} for update`.execute(trx);
        await sql`update skew set v = v + 1 where id in (${first}, ${second})`.execute(trx);
      });
    await Promise.all([bump(1, 2), bump(2, 1)]);
    // The victim ran again; its retry may meet the survivor's commit (40001 at serializable) and run once more.
    expect(runs).toBeGreaterThanOrEqual(3);
    const rows = await sql<{ v: number }>`select v from skew order by id`.execute(handle.db);
    expect(rows.rows.map((r) => r.v)).toEqual([2, 2]);
  });

  it('an autocommit statement is sent again alone: concurrent updates of one row all land', async () => {
    await sql`truncate skew`.execute(handle.db);
    await sql`insert into skew (id, v) values (1, 0)`.execute(handle.db);
    // At serializable, an UPDATE of a row another transaction changed since its snapshot fails with
    // 40001 (read committed would wait and re-check it instead). Each failure of one writer is another
    // writer's commit, so with MAX_ATTEMPTS writers every one lands within its attempts; with more, the
    // last could run out of them by design (8 writers failed 1 CI run in several under load).
    await Promise.all(
      Array.from({ length: MAX_ATTEMPTS }, () =>
        sql`update skew set v = v + 1 where id = 1 and pg_sleep(0.01) is not null`.execute(handle.db),
      ),
    );
    const rows = await sql<{ v: number }>`select v from skew`.execute(handle.db);
    expect(rows.rows[0]!.v).toBe(MAX_ATTEMPTS);
  });

  it(`the retries are bounded: ${MAX_ATTEMPTS} attempts, then the contention error goes up (503)`, async () => {
    let attempts = 0;
    const conflict = new DatabaseUnavailableError('contention', Object.assign(new Error('could not serialize access'), { code: '40001' }));
    await expect(
      withRetries(async () => {
        attempts++;
        throw conflict;
      }),
    ).rejects.toBe(conflict);
    expect(attempts).toBe(MAX_ATTEMPTS);
    expect(conflict.retryAfterSeconds).toBe(1);
    // Anything else is not retried.
    attempts = 0;
    await expect(
      withRetries(async () => {
        attempts++;
        throw Object.assign(new Error('duplicate key'), { code: '23505' });
      }),
    ).rejects.toThrow('duplicate key');
    expect(attempts).toBe(1);
  });

  describe('the server on a serializable database', () => {
    // Two servers on one database (two processes' rotation batches): one token presented to both at
    // once conflicts in Postgres, not in one batcher.
    const servers: { deps: Deps; app: Awaited<ReturnType<typeof buildApp>> }[] = [];
    let deps: Deps;
    beforeAll(async () => {
      await cluster.createDatabase('keymaster');
      const url = cluster.url('keymaster');
      const config = loadConfig({
        KEYMASTER_SECRET: TEST_SECRET,
        DATABASE_URL: url,
        LOG_LEVEL: 'silent',
        KEYMASTER_RATE_LIMIT_SCALE: '1000',
      });
      for (let i = 0; i < 2; i++) {
        const d = await createDeps(config, { database: openPostgres(url, 8), log: createLogger(config) });
        const app = await buildApp(d);
        await app.ready();
        servers.push({ deps: d, app });
      }
      deps = servers[0]!.deps;
    }, 60_000);
    afterAll(async () => {
      for (const s of servers) {
        await s.app.close();
        await s.deps.close();
      }
    });

    const refresh = (appId: string, token: string, server = 0) =>
      servers[server]!.app.inject({ method: 'POST', url: '/token/refresh', payload: { refresh_token: token, app_id: appId } });

    it('one token refreshed 10 times on each of two servers at once: all 200, one successor, one live token', async () => {
      const { app: client } = await makeApp(deps);
      const { user } = await makeUser(deps);
      for (let round = 0; round < 5; round++) {
        const set = await issueTokens(deps, await member(deps, user, client), client);
        const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => refresh(client.appId, set.refreshToken, i % 2)));
        expect(answers.map((a) => a.statusCode)).toEqual(answers.map(() => 200));
        expect(new Set(answers.map((a) => a.json().refresh_token)).size).toBe(1);
        const rows = await deps.db.selectFrom('refresh_tokens').selectAll().where('family_id', '=', set.familyId).execute();
        expect(rows.filter((r) => !r.rotated_at && !r.revoked_at)).toHaveLength(1);
        expect(rows.filter((r) => r.revoked_at)).toHaveLength(0);
      }
    });

    it('40 chains rotating at once (rotation batches) all advance', async () => {
      const { app: client } = await makeApp(deps);
      const { user } = await makeUser(deps);
      const tokens = await Promise.all(
        Array.from({ length: 40 }, async () => (await issueTokens(deps, await member(deps, user, client), client)).refreshToken),
      );
      for (let round = 0; round < 3; round++) {
        const answers = await Promise.all(tokens.map((t, i) => refresh(client.appId, t, i % 2)));
        expect(answers.map((a) => a.statusCode)).toEqual(answers.map(() => 200));
        answers.forEach((a, i) => (tokens[i] = a.json().refresh_token as string));
      }
      const live = await deps.db
        .selectFrom('refresh_tokens')
        .select('jti')
        .where('user_id', '=', user.id)
        .where('rotated_at', 'is', null)
        .where('revoked_at', 'is', null)
        .execute();
      expect(live).toHaveLength(40);
    });
  });
});
