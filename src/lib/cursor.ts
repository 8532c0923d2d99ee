// Opaque keyset cursors: the sort key of a page's last row, base64url JSON. Clients pass back the
// `next_cursor` they were given; anything else fails `decodeCursor` (a 400 in the HTTP layer), never a
// query on a value of the wrong type.
export type CursorKey = readonly (string | number)[];

export function encodeCursor(key: CursorKey): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

/** The key, if `cursor` is one of ours whose parts pass `checks` (one per part); undefined otherwise. */
export function decodeCursor<K extends CursorKey>(cursor: string, checks: { [I in keyof K]: (v: unknown) => v is K[I] }): K | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed) || parsed.length !== checks.length) return undefined;
  return parsed.every((v, i) => checks[i]!(v)) ? (parsed as unknown as K) : undefined;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const isUuidPart = (v: unknown): v is string => typeof v === 'string' && UUID.test(v);
/** An ISO 8601 instant as Date.prototype.toISOString writes it (microseconds allowed: Postgres keeps them). */
export const isInstantPart = (v: unknown): v is string =>
  typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/.test(v) && !Number.isNaN(Date.parse(v));
export const isIdPart = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
