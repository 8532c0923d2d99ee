// Scope strings (RFC 6749 §3.3): space-delimited, case-sensitive, order irrelevant.
export function parseScope(scope: string | undefined | null): string[] {
  return [...new Set((scope ?? '').split(' ').filter(Boolean))];
}

export function formatScope(scopes: readonly string[]): string {
  return scopes.join(' ');
}

export function hasScope(scope: string | null | undefined, value: string): boolean {
  return parseScope(scope).includes(value);
}
