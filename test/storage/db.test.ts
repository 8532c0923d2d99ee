// The embedded database: one process per data dir (lock file naming the holder), a stale lock is
// taken over, migrations are recorded once and are idempotent.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquireDataDirLock, DataDirLockedError } from '../../src/storage/db.js';
import { listMigrations, migrate } from '../../src/storage/migrate.js';
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
});
