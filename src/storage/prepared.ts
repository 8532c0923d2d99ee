// Named prepared statements for the hottest static SQL. Postgres parses, analyses and plans a
// statement on every execution unless it is prepared; for the refresh rotation (a CTE that updates,
// joins and inserts) that was a large part of Postgres's CPU per refresh (figures: docs/PERFORMANCE.md). A text
// registered here runs as a named statement on each pool connection that executes it (pg prepares it
// on first use per connection and keeps it until the connection closes). Only static texts are
// registered, so the set of statements per connection stays small and fixed.
//
// Off with DATABASE_PREPARED_STATEMENTS=false, for poolers that cannot keep a named statement across
// transactions (PgBouncer in transaction mode before 1.21). PGlite runs every text unprepared.
const names = new Map<string, string>();

/** Registers `sql` as a prepared statement and returns it unchanged (use at module level, once per text). */
export function prepared(sql: string): string {
  if (!names.has(sql)) names.set(sql, `km_${names.size + 1}`);
  return sql;
}

/** The statement name `sql` runs under, if it was registered. */
export function preparedName(sql: string): string | undefined {
  return names.get(sql);
}
