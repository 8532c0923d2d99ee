// A private, migrated database for one test file: PGlite restored from the run's snapshot, or a
// Postgres database cloned from the run's template (CREATE DATABASE … TEMPLATE is a file copy: fast).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { inject } from 'vitest';
import { openEmbeddedInMemory, openPostgres, type DbHandle } from '../../src/storage/db.js';

export const onPostgres = () => Boolean(process.env.TEST_DATABASE_URL);

export interface TestDatabase extends DbHandle {
  /** Set on Postgres: a URL other processes (a second server, the CLI) can use. */
  url: string | undefined;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) {
    const snapshot = new Blob([readFileSync(inject('pgliteSnapshot'))]);
    const h = await openEmbeddedInMemory(snapshot);
    return { db: h.db, kind: h.kind, probe: h.probe, close: h.close, url: undefined };
  }
  const name = `km_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`create database ${name} template ${inject('pgTemplate')}`);
  } finally {
    await admin.end();
  }
  const u = new URL(url);
  u.pathname = `/${name}`;
  const h = openPostgres(u.toString(), 20);
  return {
    db: h.db,
    kind: h.kind,
    url: u.toString(),
    poolStats: h.poolStats,
    probe: h.probe,
    close: async () => {
      await h.close();
      const a = new pg.Client({ connectionString: url });
      await a.connect();
      await a.query(`drop database if exists ${name} with (force)`).finally(() => a.end());
    },
  };
}
