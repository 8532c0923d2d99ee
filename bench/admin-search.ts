// The admin user search case of `npm run bench` (BENCH_CASES=adminsearch; issue 14): GET
// /admin/users?search=<prefix> with BENCH_ADMIN_USERS (1,000,000) users in Postgres, on a database of
// its own. The users are written by Postgres in one INSERT … SELECT generate_series; their emails and
// names start with hex digits spread evenly (md5), so a prefix of n characters matches about
// users / 16^n of them, as a real directory's initials would.
import type pg from 'pg';

/**
 * `n` users without a password, in one statement on a connection of its own (the server's 10-s
 * statement timeout does not apply); returns how long Postgres took (ms).
 */
export async function seedSearchUsers(client: pg.Client, n: number): Promise<number> {
  const t0 = performance.now();
  await client.query('set statement_timeout = 0');
  await client.query(
    `insert into users (email, name, email_verified_at, created_at)
     select md5('e' || g) || '.' || g || '@example.com', substr(md5('n' || g), 1, 8) || ' ' || substr(md5('s' || g), 1, 10), now(),
            now() - g * interval '1 second'
       from generate_series(1, $1::int) g`,
    [n],
  );
  return performance.now() - t0;
}

/**
 * The search queries the bench asks: a prefix of four hex digits (~30 matches per million: 15 by email,
 * 15 by name), of two (~7,800) and of one (~125,000, an eighth of the directory).
 */
export function searchPrefixes(): [label: string, prefix: string][] {
  return [
    ['narrow', '3fa2'],
    ['broad', '3f'],
    ['one letter', '3'],
  ];
}
