// Once per test run: build a migrated database image every test file starts from.
//  - embedded (default): a PGlite snapshot tarball in .test-cache/
//  - Postgres (TEST_DATABASE_URL set): a template database, dropped again at the end
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { openEmbeddedInMemory, openPostgres } from '../../src/storage/db.js';
import { migrate } from '../../src/storage/migrate.js';

const CACHE = join(process.cwd(), '.test-cache');

declare module 'vitest' {
  export interface ProvidedContext {
    pgliteSnapshot: string;
    pgTemplate: string;
  }
}

export async function setup(project: TestProject) {
  mkdirSync(CACHE, { recursive: true });
  const url = process.env.TEST_DATABASE_URL;
  if (!url) {
    const h = await openEmbeddedInMemory();
    await migrate(h.db);
    const blob = await h.pglite.dumpDataDir('gzip');
    const file = join(CACHE, `pglite-${process.pid}.tar.gz`);
    writeFileSync(file, Buffer.from(await blob.arrayBuffer()));
    await h.close();
    project.provide('pgliteSnapshot', file);
    project.provide('pgTemplate', '');
    return;
  }
  const template = `km_template_${process.pid}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`drop database if exists ${template}`);
  await admin.query(`create database ${template}`);
  const h = openPostgres(withDatabase(url, template));
  await migrate(h.db);
  await h.close();
  project.provide('pgliteSnapshot', '');
  project.provide('pgTemplate', template);
  return async () => {
    await admin.query(`drop database if exists ${template} with (force)`);
    await admin.end();
  };
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}
