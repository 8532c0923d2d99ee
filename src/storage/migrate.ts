// Applies migrations/NNNN_name.sql in order, once each, recorded in schema_migrations with the SHA-256
// of the file. Identical SQL on Postgres and PGlite. One transaction under an advisory lock, so processes
// starting together on one database never apply a migration twice, and a failing migration leaves
// nothing half-applied. A landed migration that was edited afterwards is refused (MigrationChangedError):
// the database ran the old text, so the new one would never run there; fixes go in a new migration.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import type { Db } from './db.js';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));
const LOCK_KEY = 0x6b6d6967; // "kmig"

export interface Migration {
  name: string;
  sql: string;
  /** SHA-256 (hex) of the text with line endings normalised, so a CRLF checkout is not "changed". */
  checksum: string;
}

export class MigrationChangedError extends Error {
  constructor(
    readonly file: string,
    readonly recorded: string,
    readonly current: string,
  ) {
    super(
      `migrations/${file} was changed after this database applied it (recorded sha256 ${recorded.slice(0, 12)}…, ` +
        `file has ${current.slice(0, 12)}…). A migration that has landed must never be edited: restore the file ` +
        `and put the change in a new migration.`,
    );
    this.name = 'MigrationChangedError';
  }
}

export const migrationChecksum = (text: string) => createHash('sha256').update(text.replace(/\r\n/g, '\n')).digest('hex');

export function listMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((name) => {
      const text = readFileSync(`${dir}/${name}`, 'utf8');
      return { name, sql: text, checksum: migrationChecksum(text) };
    });
}

/** Returns the names applied by this call (empty when the database was up to date). */
export async function migrate(db: Db, dir = MIGRATIONS_DIR): Promise<string[]> {
  const migrations = listMigrations(dir);
  return db.transaction().execute(async (trx) => {
    // A migration (or the wait for another process's) may take longer than DATABASE_STATEMENT_TIMEOUT_MS.
    await sql`set local statement_timeout = 0`.execute(trx);
    await sql`select pg_advisory_xact_lock(${LOCK_KEY})`.execute(trx);
    await sql`create table if not exists schema_migrations (
      name text primary key, applied_at timestamptz not null default now())`.execute(trx);
    await sql`alter table schema_migrations add column if not exists checksum text`.execute(trx);
    const done = new Map(
      (await trx.selectFrom('schema_migrations').select(['name', 'checksum']).execute()).map((r) => [r.name, r.checksum]),
    );
    const applied: string[] = [];
    for (const m of migrations) {
      if (done.has(m.name)) {
        const recorded = done.get(m.name);
        if (recorded === null || recorded === undefined) {
          // Applied before checksums were recorded: the file as it is now becomes the reference. (0003
          // was edited once before that; 0009 repairs databases that ran its first text.)
          await trx.updateTable('schema_migrations').set({ checksum: m.checksum }).where('name', '=', m.name).execute();
        } else if (recorded !== m.checksum) {
          throw new MigrationChangedError(m.name, recorded, m.checksum);
        }
        continue;
      }
      await sql.raw(m.sql).execute(trx);
      await trx.insertInto('schema_migrations').values({ name: m.name, checksum: m.checksum }).execute();
      applied.push(m.name);
    }
    return applied;
  });
}
