// Queries whose cost stays flat as history grows (issue 19): after a bulk insert of a user's long
// rotation history (statistics stale, as after an import or a burst), the session list and the token
// inventory find their rows through the indexes of migration 0011 and read no older token of a
// family. Both databases. Also: 0011 fills in the sign-in of the families already there, so the
// session list answers what the former query (every token of the family read) answered.
import { CompiledQuery, sql, type Compilable } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listUserSessions, SESSION_PAGE } from '../../src/domain/tokens/token-inventory.js';
import {
  inUserIndexOrder,
  listRefreshTokens,
  LIVE_FAMILIES_SQL,
  listLiveFamilies,
  refreshTokensQuery,
} from '../../src/domain/tokens/token-inventory-store.js';
import type { Db } from '../../src/storage/db.js';
import { migrate } from '../../src/storage/migrate.js';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { createTestDatabase } from '../helpers/db.js';
import { makeApp, makeUser } from '../helpers/factories.js';
import { systemClock } from '../../src/lib/clock.js';

const FAMILIES = 200;
const ROTATIONS = 30;
const OTHERS = 20_000;

/**
 * `families` families of `rotations` tokens each for one user, as rotation leaves them: every token
 * but the last rotated, each the parent of the next; the first from the device that signed in, the
 * rest from the app's backend. `withSignIn`: with the columns of 0011, as rotation now writes them.
 */
async function insertHistory(
  db: Db,
  o: { appId: string; userId: string; families: number; rotations: number; withSignIn: boolean; tag: string },
): Promise<void> {
  const jti = (f: string, k: string) => `md5(${o.tag ? `'${o.tag}' || ` : ''}'jti-' || ${f} || '-' || ${k})::uuid`;
  const signIn = o.withSignIn ? ', family_started_at, family_user_agent, family_ip' : '';
  const signInValues = o.withSignIn ? `, t0 + f * interval '1 hour', 'device-' || f, '10.0.' || (f % 250) || '.1'` : '';
  await sql
    .raw(
      `insert into refresh_tokens (jti, token_hash, family_id, parent_jti, app_id, user_id, claims, created_at, expires_at,
                                   last_used_at, rotated_at, successor_jti, user_agent, ip${signIn})
       select ${jti('f', 'k')}, md5('${o.tag}h' || f || '-' || k) || md5('${o.tag}x' || f || '-' || k),
              md5('${o.tag}fam-' || f)::uuid, case when k > 0 then ${jti('f', 'k - 1')} end,
              '${o.appId}'::uuid, '${o.userId}'::uuid, '{}', t0 + f * interval '1 hour' + k * interval '1 second',
              now() + interval '30 days',
              case when k < ${o.rotations - 1} then t0 + f * interval '1 hour' + (k + 1) * interval '1 second' end,
              case when k < ${o.rotations - 1} then t0 + f * interval '1 hour' + (k + 1) * interval '1 second' end,
              case when k < ${o.rotations - 1} then ${jti('f', 'k + 1')} end,
              case when k = 0 then 'device-' || f else 'backend' end,
              case when k = 0 then '10.0.' || (f % 250) || '.1' else '10.9.9.9' end${signInValues}
         from generate_series(1, ${o.families}) f, generate_series(0, ${o.rotations - 1}) k,
              (select now() - interval '20 days' as t0) base`,
    )
    .execute(db);
}

/** Other users' tokens, one per family: history that is not this user's. */
async function insertOthers(db: Db, appId: string, userId: string, n: number): Promise<void> {
  await sql`insert into refresh_tokens (token_hash, family_id, app_id, user_id, claims, expires_at, family_started_at)
            select md5('o' || g) || md5('p' || g), gen_random_uuid(), ${appId}::uuid, ${userId}::uuid, '{}',
                   now() + interval '1 day', now()
              from generate_series(1, ${n}) g`.execute(db);
}

async function explain(db: Db, query: Compilable | CompiledQuery): Promise<string> {
  const c = 'compile' in query ? query.compile() : query;
  const res = await db.executeQuery<{ 'QUERY PLAN': string }>(CompiledQuery.raw(`explain ${c.sql}`, [...c.parameters]));
  return res.rows.map((r) => r['QUERY PLAN']).join('\n');
}

/** Plan nodes that read refresh_tokens (one line each in EXPLAIN's text). */
const scansOfRefreshTokens = (plan: string) => plan.split('\n').filter((l) => / on refresh_tokens\b/.test(l));

describe('history plans (after a bulk insert, statistics stale)', () => {
  let ctx: TestContext;
  let userId: string;
  let appId: string;
  let otherId: string;
  beforeAll(async () => {
    ctx = await createTestContext();
    const { app } = await makeApp(ctx.deps);
    const { user } = await makeUser(ctx.deps);
    const other = await makeUser(ctx.deps);
    userId = user.id;
    appId = app.appId;
    otherId = other.user.id;
    await sql`analyze refresh_tokens`.execute(ctx.deps.db);
    await insertHistory(ctx.deps.db, { appId: app.appId, userId, families: FAMILIES, rotations: ROTATIONS, withSignIn: true, tag: '' });
    await insertOthers(ctx.deps.db, app.appId, other.user.id, OTHERS);
  }, 120_000);
  afterAll(() => ctx.close());

  /** Every page of the user's session list, following next_cursor. */
  async function allSessions() {
    const pages = [];
    let cursor: string | undefined;
    do {
      const page = await listUserSessions(ctx.deps, userId, { cursor });
      expect(page.sessions.length).toBeLessThanOrEqual(SESSION_PAGE.default);
      pages.push(page.sessions);
      cursor = page.next;
    } while (cursor !== undefined);
    const ids = pages.flat().map((x) => x.id);
    expect(new Set(ids).size).toBe(ids.length);
    return ids;
  }

  async function expectFlatPlans() {
    // The session list, first page and a later one: each live family's one token, by the live index,
    // as far as the page goes, and nothing else of refresh_tokens (the cursor's own row by primary key).
    const live = await ctx.deps.db
      .selectFrom('refresh_tokens')
      .select('jti')
      .where('user_id', '=', userId)
      .where('successor_jti', 'is', null)
      .orderBy('created_at', 'desc')
      .orderBy('jti')
      .offset(100)
      .limit(1)
      .executeTakeFirstOrThrow();
    for (const after of [null, live.jti]) {
      const sessions = await inUserIndexOrder(ctx.deps.db, (trx) =>
        explain(trx, CompiledQuery.raw(LIVE_FAMILIES_SQL, [userId, new Date(), after, SESSION_PAGE.default + 1])),
      );
      const scans = scansOfRefreshTokens(sessions);
      expect(scans, sessions).toHaveLength(after === null ? 1 : 2);
      expect(sessions).toMatch(/Index Scan using refresh_tokens_user_live_idx on refresh_tokens h/);
      if (after !== null) expect(sessions).toMatch(/Index Scan using refresh_tokens_pkey on refresh_tokens p/);
      expect(sessions).not.toMatch(/SubPlan|Seq Scan on refresh_tokens|Sort/);
    }
    // tokens list --user: the first rows of the user index, in order (no sort of the user's history).
    const tokens = await inUserIndexOrder(ctx.deps.db, (trx) => explain(trx, refreshTokensQuery(trx, { userId, limit: 100 })));
    expect(tokens).toMatch(/Index Scan using refresh_tokens_user_created_idx on refresh_tokens/);
    expect(tokens).not.toMatch(/Seq Scan on refresh_tokens|Sort/);
    // tokens list --user --active: the live index, in order.
    const active = await inUserIndexOrder(ctx.deps.db, (trx) =>
      explain(trx, refreshTokensQuery(trx, { userId, liveAt: new Date(), limit: 100 })),
    );
    expect(active).toMatch(/Index Scan using refresh_tokens_user_live_idx on refresh_tokens/);
    expect(active).not.toMatch(/Seq Scan on refresh_tokens|Sort/);
  }

  it('the session list and tokens list --user read only what they answer, by index', async () => {
    await expectFlatPlans();
    expect(await allSessions()).toHaveLength(FAMILIES);
    expect(await listRefreshTokens(ctx.deps.db, { userId, limit: 100 })).toHaveLength(100);
  });

  it('and the same once the statistics are up to date', async () => {
    await sql`analyze refresh_tokens`.execute(ctx.deps.db);
    await expectFlatPlans();
  });

  it('and when the user holds most of the table (where the planner chose a sequential scan)', async () => {
    // Most rows are the user's history, and other users' live tokens make "not rotated" common.
    await sql`delete from refresh_tokens where user_id <> ${userId}`.execute(ctx.deps.db);
    await insertOthers(ctx.deps.db, appId, otherId, 2_000);
    await sql`analyze refresh_tokens`.execute(ctx.deps.db);
    await expectFlatPlans();
    expect(await allSessions()).toHaveLength(FAMILIES);
  });
});

describe('0011 fills in the sign-in of existing families', () => {
  it('so the session list answers as the former query did (first token of the family, last rotation)', async () => {
    const db = await createTestDatabase();
    try {
      // The database as it was before 0011, with history written the old way.
      await sql`drop index refresh_tokens_user_live_idx`.execute(db.db);
      await sql`drop index refresh_tokens_user_created_idx`.execute(db.db);
      await sql`create index refresh_tokens_user_idx on refresh_tokens (user_id)`.execute(db.db);
      await sql`alter table refresh_tokens drop column family_started_at, drop column family_user_agent, drop column family_ip`.execute(
        db.db,
      );
      await db.db.deleteFrom('schema_migrations').where('name', '=', '0011_flat_history.sql').execute();
      const { app } = await makeApp({ db: db.db, clock: systemClock });
      const { user } = await makeUser({ db: db.db, clock: systemClock });
      await insertHistory(db.db, { appId: app.appId, userId: user.id, families: 20, rotations: 5, withSignIn: false, tag: 'b' });
      // One family revoked (not listed), one whose token expired (not listed).
      await sql`update refresh_tokens set revoked_at = now() where family_id = md5('bfam-1')::uuid`.execute(db.db);
      await sql`update refresh_tokens set expires_at = now() - interval '1 second' where family_id = md5('bfam-2')::uuid`.execute(db.db);
      // The former query: four lookups of the family's tokens for each live one.
      const former = await sql<Record<string, unknown>>`
        select h.family_id, h.expires_at,
               (select f.user_agent from refresh_tokens f where f.family_id = h.family_id order by f.created_at limit 1) as user_agent,
               (select f.ip from refresh_tokens f where f.family_id = h.family_id order by f.created_at limit 1) as ip,
               (select min(f.created_at) from refresh_tokens f where f.family_id = h.family_id) as started_at,
               (select max(f.last_used_at) from refresh_tokens f where f.family_id = h.family_id) as last_used_at
          from refresh_tokens h
         where h.user_id = ${user.id} and h.rotated_at is null and h.revoked_at is null and h.expires_at > now()
         order by h.created_at desc`.execute(db.db);
      expect(former.rows).toHaveLength(18);

      expect(await migrate(db.db)).toEqual(['0011_flat_history.sql']);
      const now = new Date();
      const rows = await listLiveFamilies(db.db, user.id, now, { limit: 100 });
      const pick = (r: Record<string, unknown>) => ({
        family_id: r.family_id,
        expires_at: new Date(r.expires_at as Date).toISOString(),
        user_agent: r.user_agent,
        ip: r.ip,
        started_at: new Date(r.started_at as Date).toISOString(),
        last_used_at: new Date(r.last_used_at as Date).toISOString(),
      });
      expect(rows.map((r) => pick({ ...r }))).toEqual(former.rows.map(pick));
      expect(rows[0]).toMatchObject({ user_agent: 'device-20', ip: '10.0.20.1' });
    } finally {
      await db.close();
    }
  }, 120_000);
});
