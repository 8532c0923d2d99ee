// A private Postgres cluster for fault tests: initdb in a temporary directory on a spare port, started,
// restarted and stopped by the test itself (never the machine's shared cluster). As root, the server
// binaries run as the `postgres` user (initdb refuses root).
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './app.js';

const ROOT = '/usr/lib/postgresql';
const exec = promisify(execFile);

export const postgresInstalled = (): boolean =>
  existsSync(ROOT) && readdirSync(ROOT).some((v) => existsSync(join(ROOT, v, 'bin', 'initdb')));

function binDir(): string {
  const version = readdirSync(ROOT)
    .filter((v) => existsSync(join(ROOT, v, 'bin', 'initdb')))
    .sort((a, b) => Number(a) - Number(b))
    .pop();
  if (!version) throw new Error(`no PostgreSQL server binaries under ${ROOT}`);
  return join(ROOT, version, 'bin');
}

export interface PrivateCluster {
  port: number;
  dir: string;
  /** A URL for database `name` (created by createDatabase). */
  url(name?: string): string;
  createDatabase(name: string): Promise<void>;
  /** pg_ctl stop: `fast` ends every session with 57P01; `immediate` kills them (crash recovery at the next start). */
  pause(mode: 'fast' | 'immediate'): Promise<void>;
  resume(): Promise<void>;
  /** pg_terminate_backend on every client session; returns how many. */
  terminateAll(): Promise<number>;
  /** SIGKILL every client backend: their sockets end with no error message; the postmaster then resets all others. */
  killBackends(): Promise<number>;
  stop(): Promise<void>;
}

export async function startPrivateCluster(settings: Record<string, string> = {}): Promise<PrivateCluster> {
  const bin = binDir();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'km-pg-'));
  const asRoot = process.getuid?.() === 0;
  // Asynchronous, so that the test's load keeps running while the server stops and starts.
  const run = async (cmd: string) => {
    if (asRoot) await exec('su', ['postgres', '-s', '/bin/sh', '-c', cmd]);
    else await exec('/bin/sh', ['-c', cmd]);
  };
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
    chownSync(dir, uid, gid);
  }
  await run(`${bin}/initdb -D ${dir}/data -U postgres --auth=trust -E UTF8 >/dev/null`);
  const conf = {
    port: String(port),
    listen_addresses: "'127.0.0.1'",
    unix_socket_directories: `'${dir}'`,
    max_connections: '100',
    shared_buffers: '32MB',
    // fsync off is safe against the crashes these tests cause (the kernel keeps what was written);
    // synchronous_commit stays on: a crash would otherwise lose commits already acknowledged.
    fsync: 'off',
    full_page_writes: 'off',
    ...settings,
  };
  const confFile = join(dir, 'data', 'postgresql.auto.conf');
  writeFileSync(
    confFile,
    Object.entries(conf)
      .map(([k, v]) => `${k} = ${v}\n`)
      .join(''),
  );
  if (asRoot) execFileSync('chown', ['postgres:postgres', confFile]);
  const pgCtl = (args: string) => run(`${bin}/pg_ctl -D ${dir}/data -l ${dir}/log -w ${args} >/dev/null`);
  await pgCtl('start');
  const url = (name = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${name}`;
  const admin = async <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => {
    const c = new pg.Client({ connectionString: url() });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end().catch(() => {}); // after killBackends the postmaster ends this session too
    }
  };
  const clientBackends = `select pid from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid()`;
  return {
    port,
    dir,
    url,
    createDatabase: (name) => admin(async (c) => void (await c.query(`create database ${name}`))),
    pause: (mode) => pgCtl(`-m ${mode} stop`),
    resume: () => pgCtl('start'),
    terminateAll: () => admin(async (c) => (await c.query(`select pg_terminate_backend(pid) from (${clientBackends}) b`)).rowCount ?? 0),
    killBackends: () =>
      admin(async (c) => {
        const pids = (await c.query<{ pid: number }>(clientBackends)).rows.map((r) => r.pid);
        for (const pid of pids) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone: the postmaster ends every backend once one has been killed
          }
        }
        return pids.length;
      }),
    stop: async () => {
      try {
        await pgCtl('-m immediate stop').catch(() => {}); // already stopped
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
