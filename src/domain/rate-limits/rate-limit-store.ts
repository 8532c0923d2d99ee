// rate_limits queries: one upsert counts a hit and restarts the window when it has passed.
import { sql } from 'kysely';
import type { Db } from '../../storage/db.js';

export async function incrementCounter(
  db: Db,
  key: string,
  now: Date,
  windowSeconds: number,
): Promise<{ count: number; windowStart: Date }> {
  const [row] = await incrementCounters(db, [{ key, by: 1 }], now, windowSeconds);
  return row!;
}

/**
 * Adds `by` to each key's counter in one statement (the batched counters flush many keys at once) and
 * restarts a window that has passed. All keys share one window length.
 */
export async function incrementCounters(
  db: Db,
  hits: { key: string; by: number }[],
  now: Date,
  windowSeconds: number,
): Promise<{ key: string; count: number; windowStart: Date }[]> {
  // Asynchronous commit for this one statement (set_config(..., true) lasts until its implicit
  // transaction commits): every request from one address updates the same row, and with a synchronous
  // commit the row lock is held through the WAL flush, which serialised all of them (~1 fsync each).
  // A crash of Postgres may forget the last few hundred ms of counts; nothing else is affected.
  const values = sql.join(hits.map((h) => sql`(${h.key}::text, ${h.by}::int)`));
  const res = await sql<{ key: string; count: number; window_start: Date }>`
    with async_commit as (select set_config('synchronous_commit', 'off', true))
    insert into rate_limits (key, window_start, count)
    select v.key, ${now}::timestamptz, v.by from (values ${values}) as v(key, by), async_commit
    on conflict (key) do update set
      count = case when rate_limits.window_start <= ${now}::timestamptz - make_interval(secs => ${windowSeconds}) then excluded.count else rate_limits.count + excluded.count end,
      window_start = case when rate_limits.window_start <= ${now}::timestamptz - make_interval(secs => ${windowSeconds}) then ${now} else rate_limits.window_start end
    returning key, count, window_start`.execute(db);
  return res.rows.map((r) => ({ key: r.key, count: r.count, windowStart: r.window_start }));
}

export async function readCounter(db: Db, key: string): Promise<{ count: number; window_start: Date } | undefined> {
  return db.selectFrom('rate_limits').select(['count', 'window_start']).where('key', '=', key).executeTakeFirst();
}

export async function deleteCounter(db: Db, key: string): Promise<void> {
  await db.deleteFrom('rate_limits').where('key', '=', key).execute();
}

export async function deleteExpiredCounters(db: Db, before: Date, limit: number): Promise<number> {
  const res =
    await sql`delete from rate_limits where key in (select key from rate_limits where window_start < ${before} limit ${limit})`.execute(db);
  return Number(res.numAffectedRows ?? 0);
}
