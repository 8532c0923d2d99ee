// The one definition of a live refresh token: neither rotated (spent) nor revoked, and not yet expired.
// Every query and check that asks "could this token still be used?" takes it from here, in whichever
// form it needs: static SQL text (the rotation statement), a Kysely expression, or a check on a row
// already read. The three forms are written from the same three columns, next to each other. Below
// it, in the same three forms, the other half of "may this presenter refresh it": the client binding.
import { sql, type RawBuilder } from 'kysely';
import type { RefreshTokenRow } from '../../storage/schema.js';

/** SQL text of the predicate for static statements; `t` is the table or its alias, `now` an SQL expression. */
export function liveRefreshTokenSql(t: string, now: string): string {
  return `${t}.rotated_at is null and ${t}.revoked_at is null and ${t}.expires_at > ${now}`;
}

const NOW = '\u0000now\u0000';

/** The same predicate as a Kysely expression with `now` as a parameter: `.where(liveRefreshToken('h', now))`. */
export function liveRefreshToken(t: string, now: Date): RawBuilder<boolean> {
  const [before, after] = liveRefreshTokenSql(t, NOW).split(NOW) as [string, string];
  return sql<boolean>`(${sql.raw(before)}${now}${sql.raw(after)})`;
}

/** The same predicate on a row already read. */
export function isLiveRefreshToken(row: Pick<RefreshTokenRow, 'rotated_at' | 'revoked_at' | 'expires_at'>, now: Date): boolean {
  return row.rotated_at === null && row.revoked_at === null && row.expires_at.getTime() > now.getTime();
}

// Who may present it: a token issued under client authentication (client_bound, inherited by every
// successor) only a presenter authenticated as its client (RFC 6749 §6); any other token, anyone
// holding it. The token's app is checked separately (app_id). Same three forms as above.

const PARAM = '\u0000authenticated\u0000';

/** SQL text of the binding predicate; `authenticated` is an SQL boolean expression. */
export function clientBindingSql(t: string, authenticated: string): string {
  return `(not ${t}.client_bound or ${authenticated})`;
}

/** The binding predicate as a Kysely expression with `authenticated` as a parameter. */
export function clientBinding(t: string, authenticated: boolean): RawBuilder<boolean> {
  const [before, after] = clientBindingSql(t, PARAM).split(PARAM) as [string, string];
  return sql<boolean>`${sql.raw(before)}${authenticated}${sql.raw(after)}`;
}

/** The binding predicate on a row already read. */
export function mayPresentRefreshToken(row: Pick<RefreshTokenRow, 'client_bound'>, clientAuthenticated: boolean): boolean {
  return !row.client_bound || clientAuthenticated;
}
