// Named prepared statements (storage/prepared.ts): the refresh rotation runs as a prepared statement
// on Postgres, the same text unprepared with DATABASE_PREPARED_STATEMENTS=false, and either way it
// rotates. Postgres only: pg_prepared_statements lists one connection's statements, so each pool has one.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { issueTokens } from '../../src/domain/tokens/refresh-tokens.js';
import { rotateInOneStatement, ROTATE_SQL } from '../../src/domain/tokens/refresh-token-store.js';
import { randomToken, sha256 } from '../../src/lib/crypto.js';
import { openPostgres } from '../../src/storage/db.js';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { createTestDatabase, onPostgres } from '../helpers/db.js';
import { makeApp, makeUser, member } from '../helpers/factories.js';

describe.runIf(onPostgres())('prepared statements', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(() => ctx.close());

  async function rotateOnOwnConnection(preparedStatements: boolean) {
    const { app } = await makeApp(ctx.deps);
    const { user } = await makeUser(ctx.deps);
    const first = await issueTokens(ctx.deps, await member(ctx.deps, user, app), app);
    // One connection, so pg_prepared_statements below is the one that ran the rotation.
    const handle = openPostgres(ctx.database.url!, 1, preparedStatements);
    try {
      const now = new Date();
      const successor = {
        jti: crypto.randomUUID(),
        tokenHash: sha256(randomToken(32)),
        expiresAt: new Date(now.getTime() + 86_400_000),
        userAgent: null,
        ip: null,
        reuseUntil: null,
      };
      const rotated = await rotateInOneStatement(
        handle.db,
        { tokenHash: sha256(first.refreshToken), appId: app.appId, now, clientAuthenticated: false },
        successor,
      );
      const statements = await sql<{
        name: string;
      }>`select name from pg_prepared_statements where statement like '%update refresh_tokens%'`.execute(handle.db);
      return { rotated, names: statements.rows.map((r) => r.name), user };
    } finally {
      await handle.close();
    }
  }

  it('the refresh rotation runs as a named prepared statement', async () => {
    const { rotated, names, user } = await rotateOnOwnConnection(true);
    expect(rotated).toMatchObject({ user_id: user.id, claims: { email: user.email } });
    expect(names).toHaveLength(1);
    expect(names[0]).toMatch(/^km_\d+$/);
  });

  it('DATABASE_PREPARED_STATEMENTS=false runs it unprepared (PgBouncer in transaction mode)', async () => {
    expect(loadConfig({ DATABASE_PREPARED_STATEMENTS: 'false' }).databasePreparedStatements).toBe(false);
    expect(loadConfig({}).databasePreparedStatements).toBe(true);
    const { rotated, names, user } = await rotateOnOwnConnection(false);
    expect(rotated).toMatchObject({ user_id: user.id });
    expect(names).toEqual([]);
  });

  /** The rotation's generic plan after a bulk insert of `rows` live tokens of one user (ANALYZE before it, or never). */
  async function rotationPlanAfterBulkInsert(url: string, o: { analyze: boolean; rows: number }): Promise<string> {
    const handle = openPostgres(url, 1, false);
    try {
      const deps = { db: handle.db, clock: ctx.deps.clock };
      const { app } = await makeApp(deps);
      const { user } = await makeUser(deps);
      if (o.analyze) await sql`analyze refresh_tokens`.execute(handle.db);
      await sql`insert into refresh_tokens (token_hash, family_id, app_id, user_id, claims, expires_at, created_at)
                select md5(g::text) || md5((g + 1)::text), gen_random_uuid(), ${app.appId}::uuid, ${user.id}::uuid, '{}',
                       now() + interval '1 day', now()
                  from generate_series(1, ${o.rows}::int) g`.execute(handle.db);
      await sql`set plan_cache_mode = force_generic_plan`.execute(handle.db);
      await sql.raw(`prepare rotate_plan(jsonb) as ${ROTATE_SQL}`).execute(handle.db);
      const input = JSON.stringify([
        {
          now: new Date().toISOString(),
          successor_jti: crypto.randomUUID(),
          token_hash: 'x',
          app_id: app.appId,
          successor_hash: 'y',
          expires_at: new Date().toISOString(),
          user_agent: null,
          ip: null,
          reuse_until: null,
        },
      ]);
      // EXPLAIN EXECUTE takes no bind parameters: the (quote-free) input goes in as a literal.
      const plan = await sql.raw<{ 'QUERY PLAN': string }>(`explain execute rotate_plan('${input}'::jsonb)`).execute(handle.db);
      return plan.rows.map((r) => r['QUERY PLAN']).join('\n');
    } finally {
      await handle.close();
    }
  }

  function expectRotationByIndex(text: string) {
    expect(text, text).toContain('refresh_tokens_token_hash_key');
    expect(text, text).not.toMatch(/Seq Scan on refresh_tokens/);
    // The UPDATE takes its row by primary key, not by scanning an index of live tokens (0011's).
    expect(text, text).toMatch(/(Index Scan using|Bitmap Index Scan on) refresh_tokens_pkey\b/);
    expect(text, text).not.toContain('refresh_tokens_user_live_idx');
  }

  it('the rotation plan finds tokens by index even with stale statistics (a bulk insert after ANALYZE)', async () => {
    expectRotationByIndex(await rotationPlanAfterBulkInsert(ctx.database.url!, { analyze: true, rows: 20_000 }));
  });

  it('and on a table never analyzed (a fresh database, then a bulk insert: the bench)', async () => {
    const fresh = await createTestDatabase();
    try {
      expectRotationByIndex(await rotationPlanAfterBulkInsert(fresh.url!, { analyze: false, rows: 36_000 }));
    } finally {
      await fresh.close();
    }
  });
});
