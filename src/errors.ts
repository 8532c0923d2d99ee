// AppError: what the domain (and the CLI and HTTP plumbing) throws. It says WHAT happened, never how
// to answer it:
//   code    the family of the error: an RFC 6749 error code or a Keymaster one (`forbidden`, …)
//   reason  a stable machine value naming the case (`password_too_weak`, `account_locked`, …): the key
//           a translation or a reply table looks up. Add a reason here, with its code and English
//           text; nothing else has to change for it to be answered in every error format.
//   params  the values its text needs (the provider's name, what a weak password lacks, …)
//   detail  logged only, never shown
// HTTP statuses, wire shapes and per-endpoint wording live in src/http/error-handler.ts, one table
// per error format.
export type ErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'invalid_target'
  | 'access_denied'
  | 'authorization_pending'
  | 'slow_down'
  | 'expired_token'
  | 'unsupported_response_type'
  | 'invalid_token'
  | 'login_required'
  | 'not_found'
  | 'forbidden'
  | 'conflict'
  | 'rate_limited'
  | 'server_error'
  | 'temporarily_unavailable';

/** What a new password lacks (password-policy.ts); the English text is `PASSWORD_PROBLEM_TEXT`. */
export type PasswordProblem =
  | { rule: 'min_length'; min: number }
  | { rule: 'max_length'; max: number }
  | { rule: 'upper' }
  | { rule: 'lower' }
  | { rule: 'digit' }
  | { rule: 'symbol' };

export function passwordProblemText(p: PasswordProblem): string {
  switch (p.rule) {
    case 'min_length':
      return `at least ${p.min} characters`;
    case 'max_length':
      return `at most ${p.max} characters`;
    case 'upper':
      return 'an upper-case letter';
    case 'lower':
      return 'a lower-case letter';
    case 'digit':
      return 'a digit';
    case 'symbol':
      return 'a symbol';
  }
}

/** The grants a client may be refused, as the English text names them. */
const GRANT_WORDS = {
  authorization_code: 'authorization code',
  refresh_token: 'refresh token',
  client_credentials: 'client_credentials',
  device_code: 'device authorization',
};

/** An upstream provider's display name (`Google`): a brand, never translated. */
type Provider = { provider: string };
/** Which vocabulary the endpoint speaks: Keymaster's `app_id` or OpenID Connect's `client_id`. */
type Party = { party: 'app' | 'client' };

type ReasonSpec = { code: ErrorCode; text: string | ((p: never) => string) };

/** Every reason, its code and its English text. Reply tables and translations key on these names. */
export const REASONS = {
  // The request itself (HTTP and CLI plumbing).
  invalid_input: { code: 'invalid_request', text: (p: { problems: string }) => `Invalid request: ${p.problems}` },
  invalid_json: { code: 'invalid_request', text: 'Request body is not valid JSON' },
  body_too_large: { code: 'invalid_request', text: 'Request body is too large' },
  unsupported_media_type: {
    code: 'invalid_request',
    text: (p: { expected?: string }) => (p.expected ? `Unsupported Content-Type: send ${p.expected}` : 'Unsupported Content-Type'),
  },
  form_expired: {
    code: 'forbidden',
    text: 'The form has expired or was not sent from this site. Go back, reload the page and try again.',
  },
  cross_site_form: { code: 'forbidden', text: 'This form was not sent from this site. Go back, reload the page and try again.' },
  route_not_found: { code: 'not_found', text: 'The request could not be processed' },
  request_not_processed: { code: 'invalid_request', text: 'The request could not be processed' },
  parameter_missing: { code: 'invalid_request', text: (p: { name: string }) => `Missing ${p.name}` },
  usage: { code: 'invalid_request', text: (p: { message: string }) => p.message },
  rate_limited: { code: 'rate_limited', text: 'Too many requests' },
  server_error: { code: 'server_error', text: 'The server encountered an unexpected error' },
  // The database cannot do its part right now (storage/unavailable.ts): 503 + Retry-After.
  database_unavailable: { code: 'temporarily_unavailable', text: 'The service is temporarily unavailable. Try again shortly.' },
  shutting_down: { code: 'temporarily_unavailable', text: 'The server is restarting. Try again shortly.' },
  metrics_token_required: { code: 'invalid_token', text: 'A valid metrics token is required' },

  // The Admin API (issue 14): who may act, and on what. A resource the caller may not see is a 404.
  admin_access_required: { code: 'forbidden', text: 'Admin access required' },
  admin_tier_insufficient: { code: 'forbidden', text: 'Your admin tier does not allow this' },
  service_scope_missing: { code: 'forbidden', text: (p: { scope: string }) => `This service token lacks the ${p.scope} scope` },
  builtin_app_protected: { code: 'forbidden', text: 'The built-in Console app cannot be changed or deleted here' },
  tenant_not_found: { code: 'not_found', text: 'No such tenant' },
  tenant_not_empty: { code: 'conflict', text: 'The tenant still owns apps: move or delete them first' },
  admin_grant_not_found: { code: 'not_found', text: 'No such admin grant' },
  admin_grant_exists: { code: 'conflict', text: 'The user already holds this admin tier' },
  last_platform_admin: { code: 'conflict', text: 'The last platform admin cannot be revoked, disabled or deleted' },
  admin_grant_scope: {
    code: 'invalid_request',
    text: (p: { tier: string; needs: string }) => `The ${p.tier} tier needs ${p.needs}`,
  },

  // Apps and clients.
  unknown_app: { code: 'invalid_request', text: (p: Party) => `Unknown ${p.party}_id` },
  app_id_invalid: { code: 'invalid_request', text: 'Invalid app_id' },
  cursor_invalid: { code: 'invalid_request', text: 'Invalid cursor: pass the next_cursor of a previous page' },
  app_not_found: { code: 'not_found', text: (p: { appId: string }) => `No app with id ${p.appId}` },
  redirect_uri_not_registered: { code: 'invalid_request', text: (p: Party) => `The redirect_uri is not registered for this ${p.party}` },
  logout_uri_not_registered: {
    code: 'invalid_request',
    text: (p: Party) => `The post_logout_redirect_uri is not registered for this ${p.party}`,
  },
  logout_uri_needs_app: {
    code: 'invalid_request',
    text: (p: Party) => `post_logout_redirect_uri requires ${p.party === 'app' ? 'app_id' : 'client_id or id_token_hint'}`,
  },
  http_uri_not_loopback: {
    code: 'invalid_request',
    text: (p: { uri: string }) =>
      `${p.uri}: an http: URI is allowed only on a loopback host (localhost, 127.0.0.1, [::1]); use https, or mark the app for development`,
  },
  public_app_client_credentials: { code: 'invalid_request', text: 'A public app cannot use the client_credentials grant' },
  public_app_private_key_jwt: { code: 'invalid_request', text: 'A public app has no credentials: it cannot use private_key_jwt' },
  private_key_jwt_needs_keys: { code: 'invalid_request', text: 'private_key_jwt needs the public keys: a JWK Set (jwks) or a jwks_uri' },
  jwks_and_jwks_uri: { code: 'invalid_request', text: 'Register either jwks or jwks_uri, not both' },
  client_auth_failed: { code: 'invalid_client', text: 'Client authentication failed' },
  client_auth_twice: { code: 'invalid_request', text: 'Use one client authentication method, not two' },
  client_id_mismatch: { code: 'invalid_request', text: 'client_id does not match the authenticated client' },
  grant_type_unsupported: { code: 'unsupported_grant_type', text: (p: { grantType: string }) => `Unsupported grant_type: ${p.grantType}` },
  grant_not_allowed: {
    code: 'unauthorized_client',
    text: (p: { grant: keyof typeof GRANT_WORDS }) => `This client may not use the ${GRANT_WORDS[p.grant]} grant`,
  },
  scope_not_allowed: { code: 'invalid_scope', text: (p: { scope: string }) => `invalid_scope: ${p.scope}` },
  no_scope_allowed: { code: 'invalid_scope', text: 'No requested scope is allowed for this client' },
  scope_exceeds_grant: { code: 'invalid_scope', text: 'The requested scope exceeds the scope originally granted' },
  // RFC 8707 §2: a resource indicator that is malformed or not registered for the client.
  resource_not_allowed: { code: 'invalid_target', text: 'The requested resource is not valid for this client' },

  // Authorization requests and codes (OpenID Connect).
  sign_in_request_invalid: { code: 'invalid_request', text: 'The sign-in request is not valid. Go back to the app and try again.' },
  sign_in_request_expired: { code: 'invalid_request', text: 'The sign-in request has expired. Go back to the app and try again.' },
  sign_in_request_mismatch: { code: 'invalid_request', text: 'The sign-in request does not match this app' },
  // Pushed Authorization Requests (RFC 9126): a refusal at /par carries /authorize's error value.
  pushed_request_required: {
    code: 'invalid_request',
    text: 'This app requires its sign-in to start from the app itself. Go back to the app and try again.',
  },
  request_uri_invalid: {
    code: 'invalid_request',
    text: 'The sign-in request has expired or was already used. Go back to the app and try again.',
  },
  pushed_request_uri_given: { code: 'invalid_request', text: 'request_uri cannot be pushed (RFC 9126 §2.1)' },
  pushed_request_invalid: { code: 'invalid_request', text: (p: { description: string }) => p.description },
  pushed_request_response_type: { code: 'unsupported_response_type', text: (p: { description: string }) => p.description },
  pushed_request_unauthorized: { code: 'unauthorized_client', text: (p: { description: string }) => p.description },
  pushed_request_scope: { code: 'invalid_scope', text: (p: { description: string }) => p.description },
  pushed_request_target: { code: 'invalid_target', text: (p: { description: string }) => p.description },
  code_invalid: { code: 'invalid_grant', text: 'The authorization code is invalid, expired or already used' },
  code_redirect_uri_mismatch: { code: 'invalid_grant', text: 'redirect_uri does not match the authorization request' },
  pkce_verifier_missing: { code: 'invalid_grant', text: 'code_verifier is required' },
  pkce_verifier_mismatch: { code: 'invalid_grant', text: 'code_verifier does not match the code_challenge' },
  pkce_verifier_unexpected: { code: 'invalid_grant', text: 'code_verifier was sent but the authorization request had no code_challenge' },
  user_cannot_sign_in: { code: 'invalid_grant', text: 'The user can no longer sign in' },
  id_token_hint_invalid: { code: 'invalid_request', text: 'The id_token_hint is not a valid ID token from this server' },
  id_token_hint_client_mismatch: { code: 'invalid_request', text: 'client_id does not match the id_token_hint' },

  // The Device Authorization Grant (RFC 8628 §3.5): the answers to a device's poll at /token.
  device_authorization_pending: { code: 'authorization_pending', text: 'The user has not yet approved this device' },
  device_slow_down: { code: 'slow_down', text: 'Polling too fast: wait 5 seconds longer between requests' },
  device_access_denied: { code: 'access_denied', text: 'The user denied the authorization request' },
  device_code_expired: { code: 'expired_token', text: 'The device_code has expired: start a new device authorization' },
  device_code_invalid: { code: 'invalid_grant', text: 'The device_code is invalid or was already used' },
  // The /device page: a user code that names no pending request.
  user_code_invalid: { code: 'invalid_request', text: 'That code is not valid or has expired' },
  device_request_invalid: { code: 'invalid_request', text: 'This device sign-in request is not valid or has expired' },
  // The sealed /device request opened in a browser that did not enter its code (device-grant.ts).
  device_request_foreign: { code: 'invalid_request', text: 'Enter the code shown on your device to continue' },

  // Tokens.
  refresh_token_invalid: { code: 'invalid_grant', text: 'Invalid or expired refresh token' },
  refresh_token_wrong_app: { code: 'invalid_grant', text: 'Token does not belong to this app' },
  // RFC 6749 §6: a token issued under client authentication is refreshed only with it.
  refresh_token_client_bound: {
    code: 'invalid_grant',
    text: 'This refresh token was issued to an authenticated client: refresh it at /token with client authentication',
  },
  bearer_missing: { code: 'invalid_token', text: 'Missing bearer token' },
  access_token_twice: { code: 'invalid_request', text: 'Send the access token once: header or body, not both' },
  access_token_invalid: { code: 'invalid_token', text: 'The access token is invalid' },
  access_token_expired: { code: 'invalid_token', text: 'Token has expired' },
  // A live-looking token of a disabled account (liveness.ts): invalid_token, except where seed 004 says 403.
  access_token_account_disabled: { code: 'invalid_token', text: 'The access token is invalid' },
  refresh_token_not_found: { code: 'not_found', text: (p: { jti: string }) => `No refresh token with jti ${p.jti}` },
  token_family_not_found: { code: 'not_found', text: (p: { familyId: string }) => `No token family ${p.familyId}` },
  app_filter_invalid: { code: 'invalid_request', text: '--app must be an app id (uuid)' },
  family_filter_invalid: { code: 'invalid_request', text: 'family id must be a uuid' },
  session_not_found: { code: 'not_found', text: 'Session not found' },
  consent_not_found: { code: 'not_found', text: 'Connected app not found' },

  // Users, sign-in and accounts.
  credentials_missing: { code: 'invalid_request', text: 'Enter your email and password.' },
  invalid_credentials: { code: 'invalid_grant', text: 'Invalid email or password' },
  account_locked: { code: 'forbidden', text: 'Account is locked' },
  account_disabled: { code: 'forbidden', text: 'Account is disabled' },
  email_not_verified: { code: 'forbidden', text: 'Email not verified' },
  email_has_nul: { code: 'invalid_request', text: 'Email must not contain NUL characters' },
  email_invalid: { code: 'invalid_request', text: 'Enter a valid email address' },
  email_already_registered: { code: 'conflict', text: 'Email already registered' },
  password_login_disabled: { code: 'invalid_request', text: 'Password login not enabled' },
  // A third-party app gets tokens only through /authorize with the user's consent (issue 16).
  third_party_needs_oauth: {
    code: 'forbidden',
    text: 'This app must sign you in through the standard OAuth flow (/authorize), where you can review what it may see',
  },
  password_too_weak: {
    code: 'invalid_request',
    text: (p: { problems: PasswordProblem[] }) => `Password too weak: needs ${p.problems.map(passwordProblemText).join(', ')}`,
  },
  current_password_required: { code: 'invalid_request', text: 'Current password is required to change the password' },
  current_password_incorrect: { code: 'invalid_request', text: 'Current password is incorrect' },
  email_token_invalid: { code: 'invalid_request', text: 'Invalid or expired token' },
  user_not_found: { code: 'not_found', text: 'No such user' },
  user_ref_not_found: { code: 'not_found', text: (p: { ref: string }) => `No user ${p.ref}` },
  invalid_role: {
    code: 'invalid_request',
    text: (p: { role: string }) => `Invalid role "${p.role}": roles are 1-64 letters, digits or _.:-`,
  },
  // TOTP second factor (issue 17).
  totp_session_invalid: { code: 'invalid_request', text: 'Invalid or expired TOTP session' },
  totp_code_invalid: { code: 'invalid_grant', text: 'Invalid TOTP code' },
  totp_attempts_exceeded: { code: 'rate_limited', text: 'Too many TOTP attempts' },
  totp_already_enabled: { code: 'conflict', text: 'TOTP is already enabled' },
  totp_not_enabled: { code: 'invalid_request', text: 'TOTP is not enabled' },
  totp_setup_missing: { code: 'invalid_request', text: 'Start TOTP setup first' },
  totp_factor_required: { code: 'invalid_request', text: 'Confirm with a current code or your password' },
  account_not_created: { code: 'server_error', text: 'The account could not be created' },
  account_not_loaded: { code: 'server_error', text: 'The account could not be loaded' },

  // Upstream providers (Sign in with Google).
  upstream_not_configured: {
    code: 'invalid_request',
    text: (p: Provider) => `Sign-in with ${p.provider} is not configured on this server`,
  },
  upstream_not_enabled: { code: 'invalid_request', text: (p: Provider) => `Sign-in with ${p.provider} is not enabled for this app` },
  upstream_flow_expired: {
    code: 'invalid_request',
    text: 'This sign-in attempt has expired or was already used. Go back to the app and sign in again.',
  },
  upstream_state_mismatch: {
    code: 'invalid_request',
    text: (p: Provider) => `The response from ${p.provider} does not belong to this sign-in. Go back and try again.`,
  },
  upstream_cancelled: { code: 'access_denied', text: (p: Provider) => `You cancelled signing in with ${p.provider}.` },
  upstream_refused: {
    code: 'invalid_request',
    text: (p: Provider) => `${p.provider} could not sign you in. Try again, or use another way to sign in.`,
  },
  upstream_unverifiable: {
    code: 'invalid_request',
    text: (p: Provider) => `The answer from ${p.provider} could not be verified. Go back and try again.`,
  },
  upstream_unavailable: {
    code: 'temporarily_unavailable',
    text: (p: Provider) => `${p.provider} cannot be reached right now. Try again in a moment, or use another way to sign in.`,
  },
  upstream_email_not_verified: { code: 'forbidden', text: (p: Provider) => `Email not verified by ${p.provider}` },
  upstream_no_email: { code: 'invalid_request', text: (p: Provider) => `${p.provider} did not share a usable email address` },

  // Webhooks.
  webhook_not_found: { code: 'not_found', text: (p: { id: string }) => `No webhook with id ${p.id}` },
  delivery_not_retryable: { code: 'not_found', text: (p: { id: string }) => `No failed delivery with id ${p.id} of this webhook` },
  webhook_address_not_allowed: {
    code: 'invalid_request',
    text: 'The webhook URL must point to a public address: not loopback, private, link-local, multicast or reserved',
  },
  delivery_status_invalid: { code: 'invalid_request', text: (p: { allowed: string[] }) => `status must be one of ${p.allowed.join(', ')}` },
  // Admin bootstrap (issue 14, branch admin-cli): the first-start setup link.
  setup_link_invalid: { code: 'forbidden', text: 'This setup link is invalid, expired or already used' },

  // Memberships and invites (issue 14): access to one app.
  app_access_denied: { code: 'access_denied', text: 'You do not have access' },
  membership_suspended: { code: 'access_denied', text: 'Account suspended' },
  membership_pending: { code: 'access_denied', text: 'Your access to this app is waiting for approval by an administrator' },
  invite_required: { code: 'invalid_request', text: 'This app requires an invite code' },
  membership_not_found: { code: 'not_found', text: 'The user is not a member of this app' },
  membership_not_pending: { code: 'conflict', text: 'The membership is not waiting for approval' },
  role_not_available: {
    code: 'invalid_request',
    text: (p: { role: string; available: string[] }) =>
      `Role "${p.role}" is not available in this app (available: ${p.available.join(', ') || 'none'})`,
  },
  invite_invalid: { code: 'invalid_request', text: 'The invite code is invalid, expired, already used or revoked' },
  invite_email_mismatch: { code: 'invalid_request', text: 'This invite was sent to a different email address' },
  invite_not_found: { code: 'not_found', text: 'No such invite' },
  invite_sign_in_required: {
    code: 'invalid_request',
    text: 'An account with this email already exists: sign in (or give its password) to accept the invite',
  },

  // Admin API operations (issue 14).
  logo_too_large: { code: 'invalid_request', text: 'The logo is larger than 2 MB' },
  logo_not_image: { code: 'invalid_request', text: 'The logo must be a PNG, JPEG or SVG image' },
  logo_file_missing: { code: 'invalid_request', text: 'Send the logo as a multipart/form-data field named "file"' },
  refresh_key_audience_invalid: {
    code: 'invalid_request',
    text: "audience must be this app's id: a refresh token is bound to one app, and its access tokens are issued for it",
  },
  refresh_key_console_app: {
    code: 'invalid_request',
    text: "The Keymaster Console app takes no refresh keys: its access tokens are Admin JWTs, and an admin's Console sessions end when they sign out",
  },
} as const satisfies Record<string, ReasonSpec>;

type Catalogue = typeof REASONS;
export type Reason = keyof Catalogue;
/** The params a reason's text needs (`undefined` for a fixed text). */
export type ReasonParams<R extends Reason> = R extends Reason
  ? Catalogue[R]['text'] extends (p: infer P) => string
    ? P
    : undefined
  : never;

export interface AppErrorOptions {
  /** Logged, never shown. */
  detail?: string | undefined;
  /** Seconds, for rate limits (Retry-After). */
  retryAfter?: number | undefined;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly reason: Reason;
  readonly params: Readonly<Record<string, unknown>> | undefined;
  /** The reason's English text with its params: the default public wording. */
  readonly description: string;
  readonly detail: string | undefined;
  readonly retryAfter: number | undefined;

  constructor(reason: Reason, params: object | undefined, opts: AppErrorOptions = {}) {
    const spec: ReasonSpec = REASONS[reason];
    const description = typeof spec.text === 'string' ? spec.text : (spec.text as (p: object | undefined) => string)(params);
    super(`${spec.code}: ${description}`);
    this.name = 'AppError';
    this.code = spec.code;
    this.reason = reason;
    this.params = params as Readonly<Record<string, unknown>> | undefined;
    this.description = description;
    this.detail = opts.detail;
    this.retryAfter = opts.retryAfter;
  }
}

/**
 * `appError('account_locked', { detail })`, `appError('password_too_weak', { problems }, { detail })`:
 * the params argument exists exactly when the reason's text takes params.
 */
export function appError<R extends Reason>(
  reason: R,
  ...args: ReasonParams<R> extends undefined ? [opts?: AppErrorOptions] : [params: ReasonParams<R>, opts?: AppErrorOptions]
): AppError {
  const takesParams = typeof REASONS[reason].text === 'function';
  const params = takesParams ? (args[0] as object) : undefined;
  const opts = (takesParams ? args[1] : args[0]) as AppErrorOptions | undefined;
  return new AppError(reason, params, opts);
}

/** True for errors that are the server's fault or an outage (a 5xx in every format, exit 1 in the CLI). */
export function isServerFault(e: AppError): boolean {
  return e.code === 'server_error' || e.code === 'temporarily_unavailable';
}
