// The history case of `npm run bench` (BENCH_CASES=history; issue 19): how the session list, the token
// inventory and refresh behave when refresh_tokens holds a long history. bench/run.ts runs it on a
// database of its own, so the other cases keep measuring a table that holds only their tokens.
//
// The history is written in bulk by Postgres (generate_series) in the shape rotation leaves it: each
// family a chain of tokens, every one but the last rotated, the first from the signing-in device and
// the rest from the app's backend, the family's sign-in copied into each (migration 0011).
import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import type { Deps } from '../src/deps.js';

export interface HistoryShape {
  families: number;
  rotations: number;
}

/**
 * `shape.families` families of `shape.rotations` tokens for each user of `userIds`, about 20,000 rows
 * per statement (within DATABASE_STATEMENT_TIMEOUT_MS). `onProgress` gets the rows written so far.
 */
export async function writeHistory(
  db: Deps['db'],
  o: { appId: string; userIds: string[]; shape: HistoryShape; onProgress?: (rows: number) => void },
): Promise<number> {
  const { families, rotations } = o.shape;
  let rows = 0;
  const step = Math.max(1, Math.floor(20_000 / rotations));
  for (const userId of o.userIds)
    for (let from = 1; from <= families; from += step) {
      const to = Math.min(families, from + step - 1);
      // md5 of the user and position: distinct, repeatable ids without a round trip per row.
      await sql`
      insert into refresh_tokens (jti, token_hash, family_id, parent_jti, app_id, user_id, claims, created_at, expires_at,
                                  last_used_at, rotated_at, successor_jti, user_agent, ip,
                                  family_started_at, family_user_agent, family_ip)
      select md5(${userId} || '/' || f || '/' || k)::uuid,
             md5('h' || ${userId} || '/' || f || '/' || k) || md5('x' || ${userId} || '/' || f || '/' || k),
             md5('f' || ${userId} || '/' || f)::uuid,
             case when k > 0 then md5(${userId} || '/' || f || '/' || (k - 1))::uuid end,
             ${o.appId}::uuid, ${userId}::uuid, '{"email":"history@example.com","name":"History","roles":["user"]}',
             t0 + f * interval '1 minute' + k * interval '1 second', now() + interval '30 days',
             case when k < ${rotations - 1} then t0 + f * interval '1 minute' + (k + 1) * interval '1 second' end,
             case when k < ${rotations - 1} then t0 + f * interval '1 minute' + (k + 1) * interval '1 second' end,
             case when k < ${rotations - 1} then md5(${userId} || '/' || f || '/' || (k + 1))::uuid end,
             case when k = 0 then 'Mozilla/5.0 (device ' || f || ')' else 'app-backend/1.0' end,
             case when k = 0 then '10.1.' || (f % 250) || '.' || (f % 199) else '10.9.9.9' end,
             t0 + f * interval '1 minute', 'Mozilla/5.0 (device ' || f || ')', '10.1.' || (f % 250) || '.' || (f % 199)
        from generate_series(${from}::int, ${to}::int) f, generate_series(0, ${rotations - 1}::int) k,
             (select now() - interval '25 days' as t0) base`.execute(db);
      rows += (to - from + 1) * rotations;
      o.onProgress?.(rows);
    }
  return rows;
}

/** `n` users without a password (they only own history). */
export async function createHistoryUsers(db: Deps['db'], n: number, tag: string): Promise<string[]> {
  const res = await sql<{ id: string }>`
    insert into users (email, name, roles, email_verified_at)
    select 'history-' || ${tag} || '-' || g || '@example.com', 'History ' || g, '{user}', now()
      from generate_series(1, ${n}::int) g
    returning id`.execute(db);
  return res.rows.map((r) => r.id);
}

export interface Timed {
  calls: number;
  p50: number;
  p99: number;
  perSecond: number;
}

/** Calls `fn` one after another (after `warmup` calls), `calls` times; latency percentiles in ms. */
export async function timeCalls(fn: () => Promise<unknown>, calls: number, warmup = Math.min(20, calls)): Promise<Timed> {
  for (let i = 0; i < warmup; i++) await fn();
  const ms: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) {
    const s = performance.now();
    await fn();
    ms.push(performance.now() - s);
  }
  const total = performance.now() - t0;
  ms.sort((a, b) => a - b);
  const at = (q: number) => ms[Math.min(ms.length - 1, Math.ceil(q * ms.length) - 1)]!;
  return { calls, p50: at(0.5), p99: at(0.99), perSecond: (calls * 1000) / total };
}
