// The embedded database: one process per data dir (lock file naming the holder), a stale lock is
// taken over, migrations are recorded once and are idempotent.
import { appendFileSync, cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { acquireDataDirLock, DataDirLockedError } from '../../src/storage/db.js';
import { listMigrations, migrate, MIGRATIONS_DIR, migrationChecksum, MigrationChangedError } from '../../src/storage/migrate.js';
import { loadConfig } from '../../src/config.js';
import { createDeps } from '../../src/deps.js';
import { TEST_SECRET } from '../helpers/app.js';
import { createTestDatabase } from '../helpers/db.js';

describe('data dir lock', () => {
  it('refuses a second holder and names the first', () => {
    const dir = mkdtempSync(join(tmpdir(), 'km-lock-'));
    const release = acquireDataDirLock(dir, 'server');
    try {
      expect(() => acquireDataDirLock(dir, 'cli')).toThrow(DataDirLockedError);
      expect(() => acquireDataDirLock(dir, 'cli')).toThrow(new RegExp(`server with pid ${process.pid}`));
    } finally {
      release();
    }
    const again = acquireDataDirLock(dir, 'cli');
    again();
  });

  it('takes over a stale lock left by a dead process', () => {
    const dir = mkdtempSync(join(tmpdir(), 'km-lock-'));
    const host = hostname();
    writeFileSync(join(dir, 'keymaster.lock'), `999999 server ${host}\n`);
    const release = acquireDataDirLock(dir, 'cli');
    expect(readFileSync(join(dir, 'keymaster.lock'), 'utf8')).toContain(`${process.pid} cli`);
    release();
  });
});

describe('migrations', () => {
  it('are numbered, applied once, and a second run applies nothing', async () => {
    const names = listMigrations().map((m) => m.name);
    expect(names[0]).toBe('0001_init.sql');
    const db = await createTestDatabase();
    try {
      expect(await migrate(db.db)).toEqual([]);
      const rows = await db.db.selectFrom('schema_migrations').select('name').orderBy('name').execute();
      expect(rows.map((r) => r.name)).toEqual(names);
    } finally {
      await db.close();
    }
  });

  it("record each file's checksum and refuse to start when a landed migration was edited", async () => {
    const db = await createTestDatabase();
    try {
      const rows = await db.db.selectFrom('schema_migrations').select(['name', 'checksum']).orderBy('name').execute();
      expect(rows).toEqual(listMigrations().map((m) => ({ name: m.name, checksum: m.checksum })));
      // A copy of the migrations with 0003 edited, as if someone changed it after it landed.
      const dir = mkdtempSync(join(tmpdir(), 'km-migrations-'));
      cpSync(MIGRATIONS_DIR, dir, { recursive: true });
      appendFileSync(join(dir, '0003_oidc.sql'), '\nALTER TABLE apps ADD COLUMN edited_later text;\n');
      writeFileSync(join(dir, '9999_new.sql'), 'CREATE TABLE should_not_exist (x int);\n');
      const refused = migrate(db.db, dir);
      await expect(refused).rejects.toThrow(MigrationChangedError);
      await expect(migrate(db.db, dir)).rejects.toThrow(/migrations\/0003_oidc\.sql was changed after this database applied it/);
      // Nothing of the run was applied: not the later migration, not the checksum.
      const tables = await sql<{
        n: number;
      }>`select count(*)::int as n from information_schema.tables where table_name = 'should_not_exist'`.execute(db.db);
      expect(tables.rows[0]?.n).toBe(0);
      expect(await migrate(db.db)).toEqual([]);
      // A CRLF checkout of the same text is not a change.
      expect(migrationChecksum('a;\r\nb;\r\n')).toBe(migrationChecksum('a;\nb;\n'));
    } finally {
      await db.close();
    }
  });

  it('the server refuses to start on a database whose record of a migration differs from the file', async () => {
    const db = await createTestDatabase();
    try {
      await db.db
        .updateTable('schema_migrations')
        .set({ checksum: 'f'.repeat(64) })
        .where('name', '=', '0005_lifecycle.sql')
        .execute();
      const config = loadConfig({ KEYMASTER_SECRET: TEST_SECRET, LOG_LEVEL: 'silent' });
      const database = { ...db, close: async () => {} };
      await expect(createDeps(config, { database })).rejects.toThrow(/migrations\/0005_lifecycle\.sql was changed/);
    } finally {
      await db.close();
    }
  });

  it('fill in the checksums of migrations applied before checksums were kept', async () => {
    const db = await createTestDatabase();
    try {
      await db.db.updateTable('schema_migrations').set({ checksum: null }).execute();
      expect(await migrate(db.db)).toEqual([]);
      const rows = await db.db.selectFrom('schema_migrations').select('checksum').where('checksum', 'is', null).execute();
      expect(rows).toEqual([]);
    } finally {
      await db.close();
    }
  });

  it('0009 repairs a database that applied the first text of 0003 (no authorization_codes.replayed_at)', async () => {
    const db = await createTestDatabase();
    const hasColumn = async () =>
      (
        await sql<{ n: number }>`select count(*)::int as n from information_schema.columns
          where table_name = 'authorization_codes' and column_name = 'replayed_at'`.execute(db.db)
      ).rows[0]?.n;
    try {
      await sql`alter table authorization_codes drop column replayed_at`.execute(db.db);
      await db.db.deleteFrom('schema_migrations').where('name', '=', '0009_repair_0003.sql').execute();
      expect(await migrate(db.db)).toEqual(['0009_repair_0003.sql']);
      expect(await hasColumn()).toBe(1);
    } finally {
      await db.close();
    }
  });
});
