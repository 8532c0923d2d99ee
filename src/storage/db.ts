// Opens the database: Postgres through pg when DATABASE_URL is set, else embedded PGlite in the data
// dir, guarded by a lock file so two processes never open the same directory (PGlite is single-process).
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { PgliteDialect } from './pglite-dialect.js';
import { DURABLE_START_PARAMS, DurableNodeFS } from './pglite-durable.js';
import { RetryingKysely, retryingDialect } from './retry.js';
import { createResilientPool, type DatabaseProbe, type PoolStats, type PostgresOptions } from './postgres.js';
import type { Database } from './schema.js';

// Same JS types on both engines: int8 → number (counts, ids; all far below 2^53).
pg.types.setTypeParser(20, (v) => Number(v));
const PGLITE_PARSERS = { 20: (v: string) => Number(v) };

export type Db = Kysely<Database>;

export interface DbHandle {
  readonly db: Db;
  readonly kind: 'postgres' | 'embedded';
  /** Postgres only: the pool's current use, for /metrics and /readyz. */
  poolStats?(): PoolStats;
  /** Runs `select 1` within timeoutMs and says why not (/readyz). */
  probe(timeoutMs: number): Promise<DatabaseProbe>;
  close(): Promise<void>;
}

export class DataDirLockedError extends Error {
  constructor(
    readonly lockFile: string,
    readonly holder: string,
  ) {
    super(`The embedded database in ${resolve(lockFile, '..')} is in use by ${holder}.`);
    this.name = 'DataDirLockedError';
  }
}

export async function openDatabase(config: Config, role: 'server' | 'cli' = 'server', log?: Pick<Logger, 'warn'>): Promise<DbHandle> {
  if (config.databaseUrl) {
    return openPostgres(config.databaseUrl, config.databasePoolMax, config.databasePreparedStatements, {
      timeouts: config.databaseTimeouts,
      sessionSettings: config.databaseSessionSettings,
      log,
    });
  }
  return openEmbedded(config.dataDir, role);
}

export function openPostgres(
  connectionString: string,
  max = 10,
  preparedStatements = true,
  opts: Omit<PostgresOptions, 'max' | 'preparedStatements'> = {},
): DbHandle {
  const pool = createResilientPool(connectionString, { ...opts, max, preparedStatements });
  // Serialization failures and deadlocks are run again (storage/retry.ts).
  const db = new RetryingKysely<Database>({ dialect: retryingDialect(new PostgresDialect({ pool })) });
  return { db, kind: 'postgres', poolStats: pool.stats, probe: pool.probe, close: () => db.destroy() };
}

const probeEmbedded = (db: Db) => async (): Promise<DatabaseProbe> => {
  const started = performance.now();
  await sql`select 1`.execute(db);
  return { ok: true, latencyMs: Math.round(performance.now() - started) };
};

/** An embedded database in memory, optionally restored from a dumpDataDir() snapshot (tests). */
export async function openEmbeddedInMemory(snapshot?: Blob): Promise<DbHandle & { pglite: PGlite }> {
  const pglite = await PGlite.create({ parsers: PGLITE_PARSERS, ...(snapshot ? { loadDataDir: snapshot } : {}) });
  const db = new Kysely<Database>({ dialect: new PgliteDialect(pglite) });
  return { db, pglite, kind: 'embedded', probe: probeEmbedded(db), close: () => db.destroy() };
}

async function openEmbedded(dataDir: string, role: 'server' | 'cli'): Promise<DbHandle> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const releaseLock = acquireDataDirLock(dataDir, role);
  try {
    // Durable: every commit is fsynced to the disk before it is acknowledged (storage/pglite-durable.ts).
    const pglite = await PGlite.create({
      fs: new DurableNodeFS(join(dataDir, 'pg')),
      startParams: DURABLE_START_PARAMS,
      parsers: PGLITE_PARSERS,
    });
    const db = new Kysely<Database>({ dialect: new PgliteDialect(pglite) });
    return {
      db,
      kind: 'embedded',
      probe: probeEmbedded(db),
      close: async () => {
        await db.destroy();
        releaseLock();
      },
    };
  } catch (err) {
    releaseLock();
    throw err;
  }
}

/**
 * Creates `<dataDir>/keymaster.lock` exclusively, holding "pid role host". A lock whose process is
 * gone (crash, kill -9) on this host is stale and taken over.
 */
export function acquireDataDirLock(dataDir: string, role: string): () => void {
  const file = join(dataDir, 'keymaster.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, `${process.pid} ${role} ${hostname()}\n`);
      closeSync(fd);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        try {
          if (readFileSync(file, 'utf8').startsWith(`${process.pid} `)) rmSync(file);
        } catch {
          /* already gone */
        }
      };
      process.once('exit', release);
      return release;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const [pid, holderRole, host] = (existsSync(file) ? readFileSync(file, 'utf8') : '').trim().split(' ');
      const pidNum = Number(pid);
      if (host === hostname() && Number.isInteger(pidNum) && pidNum > 0 && !isAlive(pidNum)) {
        rmSync(file, { force: true });
        continue;
      }
      throw new DataDirLockedError(file, `the Keymaster ${holderRole ?? 'process'} with pid ${pid ?? '?'} on ${host ?? '?'}`);
    }
  }
  throw new DataDirLockedError(file, 'another process');
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
