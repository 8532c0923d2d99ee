// Keyset-pagination cursors: the last row's sort key as base64url JSON, checked against a zod schema
// when it comes back. A cursor is not a secret and grants nothing: every page query applies the
// caller's filters again.
import type { z } from 'zod';

export function encodeCursor(key: unknown): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

/**
 * The key a cursor carries, or undefined when it is not one this list made (the caller answers 400).
 * Strict: the cursor must be exactly what encodeCursor makes of the parsed key, so an extra element
 * or key (which a zod object would strip), another JSON spelling or base64 padding is refused too.
 * The one decoder of every list: a near-copy of it is how a list came to accept extra elements.
 */
export function decodeCursor<T extends z.ZodType>(schema: T, cursor: string): z.output<T> | undefined {
  if (cursor.length > 1000 || !/^[A-Za-z0-9_-]*$/.test(cursor)) return undefined;
  try {
    const parsed = schema.safeParse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    return parsed.success && encodeCursor(parsed.data) === cursor ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A timestamptz as Postgres prints it (`2026-01-15 12:00:00.123456+00`): cursors carry it so no
 * microsecond is lost, and only a valid one of this shape is cast back (anything else is a bad
 * cursor, never a database error).
 */
export function isPgTimestampText(v: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?[+-](\d{2})(:\d{2})?$/.exec(v);
  if (!m) return false;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const t = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  return (
    t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d && t.getUTCHours() === h && t.getUTCMinutes() === mi
  );
}
