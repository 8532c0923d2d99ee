// Shared CLI plumbing: open deps once per command, print JSON or text, and map errors to exit codes
// (2 = bad arguments or input, 1 = anything else).
import { ZodError } from 'zod';
import { ConfigError, loadConfig } from '../config.js';
import { createDeps, createLogger, type Deps } from '../deps.js';
import { AppError, appError, isServerFault } from '../errors.js';
import { DataDirLockedError } from '../storage/db.js';

/** Audit metadata for changes made from the admin CLI. */
export const CLI = { actor: 'cli' } as const;

export async function withDeps<T>(fn: (deps: Deps) => Promise<T>): Promise<T> {
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
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text}\n`);
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
  const line = (msg: string) => process.stderr.write(`keymaster: ${msg}\n`);
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
