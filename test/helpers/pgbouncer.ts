// Debian's PgBouncer in front of a private cluster (test/helpers/pg-cluster.ts): its own config, port
// and pid file in the cluster's directory, started and stopped by the test. As root it runs as the
// `postgres` user (PgBouncer refuses root), as the cluster does.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './app.js';
import type { PrivateCluster } from './pg-cluster.js';

const exec = promisify(execFile);
const BINARY = '/usr/sbin/pgbouncer';

export const pgbouncerInstalled = (): boolean => existsSync(BINARY);

export interface PgBouncer {
  port: number;
  /** A URL for database `name` through PgBouncer. */
  url(name: string): string;
  /** Runs a command on PgBouncer's admin console (SHOW POOLS, SHOW CONFIG…). */
  admin<T extends pg.QueryResultRow>(command: string): Promise<T[]>;
  stop(): Promise<void>;
}

export async function startPgBouncer(
  cluster: PrivateCluster,
  opts: { poolMode?: 'transaction' | 'session'; poolSize?: number } = {},
): Promise<PgBouncer> {
  const port = await freePort();
  const dir = cluster.dir;
  const conf = join(dir, 'pgbouncer.ini');
  const pidFile = join(dir, 'pgbouncer.pid');
  writeFileSync(join(dir, 'userlist.txt'), '"postgres" ""\n');
  writeFileSync(
    conf,
    [
      '[databases]',
      `* = host=127.0.0.1 port=${cluster.port}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      `unix_socket_dir = ${dir}`,
      'auth_type = trust',
      `auth_file = ${join(dir, 'userlist.txt')}`,
      'admin_users = postgres',
      `pool_mode = ${opts.poolMode ?? 'transaction'}`,
      `default_pool_size = ${opts.poolSize ?? 5}`,
      'max_client_conn = 500',
      `pidfile = ${pidFile}`,
      `logfile = ${join(dir, 'pgbouncer.log')}`,
      '',
    ].join('\n'),
  );
  const asRoot = process.getuid?.() === 0;
  if (asRoot) await exec('chown', ['postgres:postgres', conf, join(dir, 'userlist.txt')]);
  const cmd = `${BINARY} -d ${conf}`;
  if (asRoot) await exec('su', ['postgres', '-s', '/bin/sh', '-c', cmd]);
  else await exec('/bin/sh', ['-c', cmd]);

  const url = (name: string) => `postgres://postgres@127.0.0.1:${port}/${name}`;
  const admin = async <T extends pg.QueryResultRow>(command: string): Promise<T[]> => {
    const c = new pg.Client({ connectionString: url('pgbouncer') });
    await c.connect();
    try {
      return (await c.query<T>(command)).rows;
    } finally {
      await c.end();
    }
  };
  // -d returns once it forked; wait until it accepts connections.
  for (let i = 0; ; i++) {
    try {
      await admin('SHOW VERSION');
      break;
    } catch (err) {
      if (i > 100) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    port,
    url,
    admin,
    stop: async () => {
      if (!existsSync(pidFile)) return;
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      try {
        process.kill(pid, 'SIGTERM'); // immediate shutdown (the servers in front of it are stopped first)
      } catch {
        return; // already gone
      }
      for (let i = 0; i < 100; i++) {
        try {
          process.kill(pid, 0);
        } catch {
          return;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      process.kill(pid, 'SIGKILL');
    },
  };
}
