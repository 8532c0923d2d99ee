// rate_limits queries: one upsert counts a hit and restarts the window when it has passed.
import { sql } from 'kysely';
import type { Db } from '../../storage/db.js';

export async function incrementCounter(db: Db, key: string, now: Date, windowSeconds: number): Promise<{ count: number; windowStart: Date }> {
  // Asynchronous commit for this one statement (set_config(..., true) lasts until its implicit
  // transaction commits): every request from one address updates the same row, and with a synchronous
  // commit the row lock is held through the WAL flush, which serialised all of them (~1 fsync each).
  // A crash of Postgres may forget the last few hundred ms of counts; nothing else is affected.
  const res = await sql<{ count: number; window_start: Date }>`
    with async_commit as (select set_config('synchronous_commit', 'off', true))
    insert into rate_limits (key, window_start, count) select ${key}, ${now}::timestamptz, 1 from async_commit
    on conflict (key) do update set
      count = case when rate_limits.window_start <= ${now}::timestamptz - make_interval(secs => ${windowSeconds}) then 1 else rate_limits.count + 1 end,
      window_start = case when rate_limits.window_start <= ${now}::timestamptz - make_interval(secs => ${windowSeconds}) then ${now} else rate_limits.window_start end
    returning count, window_start`.execute(db);
  const row = res.rows[0]!;
  return { count: row.count, windowStart: row.window_start };
}

export async function readCounter(db: Db, key: string): Promise<{ count: number; window_start: Date } | undefined> {
  return db.selectFrom('rate_limits').select(['count', 'window_start']).where('key', '=', key).executeTakeFirst();
}

export async function deleteCounter(db: Db, key: string): Promise<void> {
  await db.deleteFrom('rate_limits').where('key', '=', key).execute();
}

export async function deleteExpiredCounters(db: Db, before: Date, limit: number): Promise<number> {
  const res = await sql`delete from rate_limits where key in (select key from rate_limits where window_start < ${before} limit ${limit})`.execute(db);
  return Number(res.numAffectedRows ?? 0);
}
