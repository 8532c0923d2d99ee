// The texts the consent page and /account choose in code (their templates name the rest): what a
// scope lets an app do, and the status line after a change. Messages: locales/<locale>/consent.json
// and locales/<locale>/myaccount.json.
import type { Text } from './render.js';

const KNOWN_SCOPES: ReadonlySet<string> = new Set(['openid', 'profile', 'email', 'roles', 'offline_access']);

/** What a scope lets an app do, in plain words (the consent page and the connected-apps list). */
export const describeScope = (scope: string): Text =>
  KNOWN_SCOPES.has(scope) ? { key: `consent.scope_${scope}` } : { key: 'consent.scope_custom', values: { scope } };

/** The status codes of /account?status=… (redirect-after-post), each a fixed message: nothing is reflected. */
const STATUSES: ReadonlySet<string> = new Set([
  'name_saved',
  'password_changed',
  'session_ended',
  'app_revoked',
  'signed_out_everywhere',
  'totp_disabled',
]);

export const accountStatus = (status: string | undefined): Text | undefined =>
  status !== undefined && STATUSES.has(status) ? { key: `myaccount.status_${status}` } : undefined;
