// Housekeeping queries: batched deletes that several processes may run at once, and table stats.
// A batch locks its rows with FOR UPDATE SKIP LOCKED, so concurrent runs take disjoint rows and never
// wait on each other; `ctid = ANY(ARRAY(…))` makes the outer statement a TID scan.
import { sql, type RawBuilder } from 'kysely';
import type { Db } from '../../storage/db.js';

export async function deleteBatch(db: Db, table: string, where: RawBuilder<unknown>, limit: number): Promise<number> {
  const t = sql.table(table);
  const res = await sql`delete from ${t} where ctid = any(array(
      select ctid from ${t} where ${where} limit ${limit} for update skip locked))`.execute(db);
  return Number(res.numAffectedRows ?? 0);
}

export async function listTables(db: Db): Promise<string[]> {
  const res = await sql<{ name: string }>`select table_name as name from information_schema.tables
      where table_schema = current_schema() and table_type = 'BASE TABLE' order by table_name`.execute(db);
  return res.rows.map((r) => r.name);
}

export async function tableStats(db: Db, table: string): Promise<{ rows: number; bytes: number }> {
  const res = await sql<{ rows: number; bytes: number }>`select
      (select count(*) from ${sql.table(table)})::int8 as rows,
      pg_total_relation_size(${table}::regclass)::int8 as bytes`.execute(db);
  const r = res.rows[0]!;
  return { rows: Number(r.rows), bytes: Number(r.bytes) };
}
