// Running the `keymaster` CLI from a test, the one way every test/cli file does it: a database of the
// test file's own (a fresh Postgres database, or a fresh embedded data folder the CLI opens itself),
// and the real bin (src/cli/bin.js) as a child process, so argument parsing, stdout/stderr and exit
// codes are the ones an admin sees. `runCliInProcess` runs the same program in this process (no
// new tsx start per call) for files that make many calls and seed through the domain.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../src/cli/main.js';
import { TEST_SECRET } from './app.js';
import { createTestDatabase, onPostgres, type TestDatabase } from './db.js';

export const CLI_BIN = join(process.cwd(), 'src/cli/bin.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON (for `--json` runs). */
  json<T = Record<string, unknown>>(): T;
}

export interface CliDatabase {
  /** What the CLI needs to find the database: DATABASE_URL (+ KEYMASTER_SECRET), or KEYMASTER_DATA_DIR. */
  env: Record<string, string>;
  /** The Postgres database (TEST_DATABASE_URL set), for reading rows; undefined on the embedded one. */
  database: TestDatabase | undefined;
  /** The embedded data folder (no TEST_DATABASE_URL), else undefined. */
  dataDir: string | undefined;
  close(): Promise<void>;
}

/** A database for the CLI of one test file; `extra` is added to the environment of every run. */
export async function createCliDatabase(opts: { prefix?: string; extra?: Record<string, string> } = {}): Promise<CliDatabase> {
  const database = onPostgres() ? await createTestDatabase() : undefined;
  const dataDir = database ? undefined : mkdtempSync(join(tmpdir(), opts.prefix ?? 'km-cli-'));
  const env: Record<string, string> = database
    ? { DATABASE_URL: database.url!, KEYMASTER_SECRET: TEST_SECRET }
    : { KEYMASTER_DATA_DIR: dataDir! };
  return {
    env: { ...env, ...opts.extra },
    database,
    dataDir,
    close: async () => {
      await database?.close();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Runs the CLI bin with `env` (plus PATH) and, when given, `stdin` piped in; stdin is never a
 * terminal, so nothing can be asked. A run that takes longer than `timeoutMs` is killed (exit 1).
 */
export function runCliProcess(
  env: Record<string, string>,
  args: string[],
  opts: { stdin?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<CliResult> {
  const child = spawn(process.execPath, [CLI_BIN, ...args], {
    env: { PATH: process.env.PATH!, ...env, ...opts.env },
    timeout: opts.timeoutMs ?? 60_000,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(opts.stdin ?? '');
  return new Promise((resolve) =>
    child.once('close', (c) => resolve({ code: c ?? 1, stdout, stderr, json: <T>() => JSON.parse(stdout) as T })),
  );
}

/**
 * Runs the CLI program in this process with `env` as the whole of the CLI's environment (the
 * caller's DATABASE_URL is hidden), capturing what it prints. Restores everything after.
 */
export async function runCliInProcess(env: Record<string, string>, args: string[]): Promise<CliResult> {
  const saved = { ...process.env };
  delete process.env.DATABASE_URL;
  Object.assign(process.env, env);
  let stdout = '';
  let stderr = '';
  const write = { out: process.stdout.write, err: process.stderr.write };
  process.stdout.write = ((s: string) => ((stdout += s), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => ((stderr += s), true)) as typeof process.stderr.write;
  try {
    const code = await runCli(args);
    return { code, stdout, stderr, json: <T>() => JSON.parse(stdout) as T };
  } finally {
    process.stdout.write = write.out;
    process.stderr.write = write.err;
    process.env = saved;
  }
}
