// Shared CLI plumbing: open deps once per command, print JSON or text, and map errors to exit codes
// (2 = bad arguments or input, 1 = anything else).
// A command runs either in its own process, or inside the running server (embedded database: the CLI
// sends its argv over the admin socket, src/cli/admin-socket.ts). There a CliScope, bound with
// AsyncLocalStorage to that one run, gives it the server's deps (so it opens no database and the
// server's caches see its changes at once), the caller's stdin, environment and working directory,
// and collects what it prints.
import { AsyncLocalStorage } from 'node:async_hooks';
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import { ZodError } from 'zod';
import { ConfigError, loadConfig } from '../config.js';
import { createDeps, createLogger, type Deps } from '../deps.js';
import type { RequestMeta } from '../domain/audit/audit.js';
import { AppError, appError, isServerFault } from '../errors.js';
import { DataDirLockedError } from '../storage/db.js';

/** The operating-system account running this process (a container may have no passwd entry: the uid). */
function operatorName(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid:${process.getuid?.() ?? 'unknown'}`;
  }
}

/**
 * Audit metadata for changes made from the admin CLI, in the Admin API's shape (actor, actor_id,
 * source): who acted is the operating-system account that ran the command. Over the admin socket that
 * is the server's own account too: only the data folder's owner can read the socket's token.
 */
export const CLI: Readonly<RequestMeta> = Object.freeze({ actor: 'cli', actorId: operatorName(), source: 'cli' });

export interface CliScope {
  /** The server's own deps; never closed by a command. */
  deps: Deps;
  /** What the caller piped in (only for commands that read stdin, e.g. --password-stdin). */
  stdin: string | undefined;
  /** The caller's variables that commands read (KEYMASTER_PASSWORD). */
  env: Readonly<Record<string, string | undefined>>;
  /** The caller's working directory: relative paths in options are theirs. */
  cwd: string;
  out(s: string): void;
  err(s: string): void;
}

const scope = new AsyncLocalStorage<CliScope>();

/** Runs `fn` (a whole CLI run) inside the server with this scope. */
export function runInCliScope<T>(s: CliScope, fn: () => Promise<T>): Promise<T> {
  return scope.run(s, fn);
}

/** True when the command runs inside the server (over the admin socket). */
export const isRemote = (): boolean => scope.getStore() !== undefined;

export function writeOut(s: string): void {
  const sink = scope.getStore();
  if (sink) sink.out(s);
  else process.stdout.write(s);
}

export function writeErr(s: string): void {
  const sink = scope.getStore();
  if (sink) sink.err(s);
  else process.stderr.write(s);
}

/** An environment variable of the caller. */
export const cliEnv = (name: string): string | undefined => (scope.getStore() ? scope.getStore()!.env[name] : process.env[name]);

/** A path the caller gave, made absolute against the caller's working directory. */
export const cliPath = (p: string): string => resolve(scope.getStore()?.cwd ?? process.cwd(), p);

/** Everything on stdin (the caller's, when run inside the server). */
export async function readStdin(): Promise<string> {
  const s = scope.getStore();
  if (s) return s.stdin ?? '';
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function withDeps<T>(fn: (deps: Deps) => Promise<T>): Promise<T> {
  const inServer = scope.getStore();
  if (inServer) return fn(inServer.deps);
  const config = loadConfig();
  // Logs go to stderr (warn and up) so stdout stays clean for --json output.
  const log = createLogger({ logLevel: process.env.LOG_LEVEL ?? 'warn' }, process.stderr);
  const deps = await createDeps(config, { role: 'cli', log });
  try {
    return await fn(deps);
  } finally {
    await deps.close();
  }
}

export function print(json: boolean, value: unknown, text: string): void {
  writeOut(json ? `${JSON.stringify(value, null, 2)}\n` : `${text}\n`);
}

export function table(rows: Record<string, unknown>[]): string {
  if (rows.length === 0) return '(none)';
  const cols = Object.keys(rows[0]!);
  const cell = (v: unknown) =>
    v instanceof Date
      ? v.toISOString()
      : Array.isArray(v)
        ? v.join(',')
        : v == null
          ? ''
          : typeof v === 'object'
            ? JSON.stringify(v)
            : String(v as string | number | boolean);
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(cols), ...rows.map((r) => line(cols.map((c) => cell(r[c]))))].join('\n');
}

/** One line on stderr and an exit code; never a stack trace for expected problems. */
export function reportError(err: unknown): number {
  const line = (msg: string) => writeErr(`keymaster: ${msg}\n`);
  if (err instanceof ZodError) {
    return (line(err.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; ')), 2);
  }
  if (err instanceof AppError) return (line(err.description), isServerFault(err) ? 1 : 2);
  if (err instanceof ConfigError) return (line(err.problems.join('; ')), 2);
  if (err instanceof DataDirLockedError) {
    return (
      line(`${err.message} Stop the server first, or set DATABASE_URL to use Postgres (which any number of processes can share).`),
      1
    );
  }
  line((err as Error)?.message ?? String(err));
  return 1;
}

/** Commander option parser for `--limit <n>`: a whole number, else a one-line usage error (exit 2). */
export function parseLimit(v: string): number {
  if (!/^\d+$/.test(v)) throw appError('usage', { message: '--limit must be a positive integer' });
  return Number(v);
}
