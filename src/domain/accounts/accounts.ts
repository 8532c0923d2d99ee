// Account journeys (seed 004): registration with email verification, password sign-in for the account
// API, refresh, logout, password reset and the profile. Email tokens are 256-bit random values stored
// as SHA-256, single use (one conditional UPDATE), 24 h for verification and 1 h for reset. A reset
// ends every session and refresh token of the user and clears the lockout. A token keeps the pending
// sign-in its link continues (AccountContext: the app's state, the sealed /authorize request).
import { assertKeepsPlatformAdmin } from '../admin/grants.js';
import { enqueueUserEvent } from '../webhooks/webhooks.js';
import type { Deps } from '../../deps.js';
import { DEFAULT_LOCALE, isLocale, type Locale } from '../../i18n/locales.js';
import { appError } from '../../errors.js';
import { HOUR, MINUTE } from '../../lib/clock.js';
import { randomToken, safeEqual, sha256 } from '../../lib/crypto.js';
import { DEFAULT_BRAND_COLOR } from '../../lib/brand-palette.js';
import { assertKeymasterFlowApp, findApp, type App } from '../apps/apps.js';
import { recordAuditEvent, type RequestMeta } from '../audit/audit.js';
import { queueEmail } from '../email/outbox.js';
import { admitToApp, assertRegistrationOpen } from '../memberships/memberships.js';
import type { EmailTemplate } from '../email/mailer.js';
import { accountRules, clearRateLimit, consumeRateLimit } from '../rate-limits/rate-limits.js';
import { endAllUserSessions } from '../sessions/sessions.js';
import {
  findRefreshTokenAppId,
  issueTokens,
  revokeAllUserTokens,
  revokeRefreshToken,
  rotateRefreshToken,
  type IssuedTokens,
} from '../tokens/refresh-tokens.js';
import { forgetLiveness } from '../tokens/liveness.js';
import { assertPasswordSignIn, openApiSecondFactor, passApiSecondFactor } from '../sign-in/sign-in.js';
import { hashPassword } from '../users/passwords.js';
import {
  authenticatePassword,
  clearLockout,
  createUserIfEmailFree,
  editUser,
  Email,
  findUserRecord,
  findUserRecordByEmail,
  markEmailVerified,
  refuseEarlierAccessTokens,
  renameUser,
  replacePasswordHash,
  toUser,
  verifyCurrentPassword,
  type User,
} from '../users/users.js';
import * as store from './email-token-store.js';
import { assertPasswordPolicy } from './password-policy.js';

type AccountDeps = Pick<
  Deps,
  'db' | 'clock' | 'config' | 'keys' | 'log' | 'mailer' | 'secret' | 'apps' | 'metrics' | 'rateCounters' | 'rotations' | 'liveness'
>;

/**
 * Where the links in an email lead back to: the app (branding, sign-in) and its registered callback,
 * and the pending sign-in the user left for this page: the app's `state` (Keymaster's /login flow) or
 * the sealed /authorize request (`authz`), so the sign-in after the link ends through the flow that
 * started it. The last two are kept with the email token, not in the link (0017).
 */
export interface AccountContext {
  appId?: string | undefined;
  redirectUri?: string | undefined;
  state?: string | undefined;
  authz?: string | undefined;
  /** Keymaster's /login flow asked for a fresh sign-in (prompt=login): an SSO session must not answer it. */
  prompt?: 'login' | undefined;
  /** The language of the page the request came from: its email is written in it (issue 16). */
  locale?: Locale | undefined;
  /**
   * The browser-binding cookie of the browser asking for the link (0022): opened there, the link signs
   * the user in (verifyEmailInBrowser). Kept as its SHA-256 with the token; never in the link.
   */
  browserBinding?: string | undefined;
}

/** The pending sign-in an email link continues (see AccountContext). */
export type EmailLinkSignIn = Pick<AccountContext, 'state' | 'authz' | 'prompt'>;

export const invalidAppId = () => appError('app_id_invalid');
const invalidEmailToken = () => appError('email_token_invalid');

/** The app named by the request, else KEYMASTER_DEFAULT_APP_ID; undefined when neither exists. */
export async function resolveAccountApp(deps: Pick<Deps, 'db' | 'config'>, appId: string | undefined): Promise<App | undefined> {
  const id = appId ?? deps.config.defaultAppId;
  return id ? findApp(deps, id) : undefined;
}

function accountLink(deps: Pick<Deps, 'config'>, path: string, token: string, ctx: AccountContext, app: App | undefined): string {
  const url = new URL(`${deps.config.issuer}${path}`);
  url.searchParams.set('token', token);
  if (app) url.searchParams.set('app_id', app.appId);
  if (app && ctx.redirectUri && app.redirectUris.includes(ctx.redirectUri)) url.searchParams.set('redirect_uri', ctx.redirectUri);
  return url.toString();
}

/**
 * An email's language: the reader's (remembered from the last page they registered or signed in on),
 * else the page that asked for it, else the app's default, else English.
 */
function emailLocale(ctx: AccountContext, user: { locale?: string | null }, app: App | undefined): Locale {
  return isLocale(user.locale) ? user.locale : (ctx.locale ?? app?.defaultLocale ?? DEFAULT_LOCALE);
}

async function issueEmailToken(
  deps: Pick<Deps, 'db' | 'clock'>,
  userId: string,
  purpose: 'verify' | 'reset',
  ttlMs: number,
  ctx: AccountContext,
): Promise<string> {
  const token = randomToken(32);
  const now = deps.clock.now();
  await store.insertEmailToken(deps.db, {
    token_hash: sha256(token),
    user_id: userId,
    purpose,
    created_at: now,
    expires_at: new Date(now.getTime() + ttlMs),
    sign_in_state: ctx.state ?? null,
    sign_in_authz: ctx.authz ?? null,
    sign_in_prompt: ctx.prompt ?? null,
    sign_in_binding: ctx.browserBinding ? sha256(ctx.browserBinding) : null,
  });
  return token;
}

/**
 * The pending sign-in kept with an email link (empty when there is none or the token is unknown):
 * the page the link opens carries it on, to the sign-in after it. Whoever holds the link may read it;
 * it is not secret (the request is sealed, the state is the app's).
 */
export async function emailLinkSignIn(deps: Pick<Deps, 'db'>, token: string, purpose: 'verify' | 'reset'): Promise<EmailLinkSignIn> {
  if (!token) return {};
  const row = await store.findEmailTokenSignIn(deps.db, sha256(token), purpose);
  return {
    ...(row?.sign_in_state != null && { state: row.sign_in_state }),
    ...(row?.sign_in_authz != null && { authz: row.sign_in_authz }),
    ...(row?.sign_in_prompt === 'login' && { prompt: 'login' as const }),
  };
}

/** Only the newest link works: issuing one retires every earlier unused link of that purpose, in one transaction. */
async function issueNewestEmailToken(
  deps: Pick<Deps, 'db' | 'clock'>,
  userId: string,
  purpose: 'verify' | 'reset',
  ttlMs: number,
  ctx: AccountContext,
): Promise<string> {
  return deps.db.transaction().execute(async (trx) => {
    await store.retireEmailTokens(trx, userId, purpose, deps.clock.now());
    return issueEmailToken({ ...deps, db: trx }, userId, purpose, ttlMs, ctx);
  });
}

async function sendAccountEmail(
  deps: AccountDeps,
  user: Pick<User, 'email' | 'name'>,
  template: EmailTemplate,
  app: App | undefined,
  locale: Locale,
  extra: Record<string, unknown> = {},
) {
  const brand = {
    locale,
    // The app's own wording of the email texts in that language (text-overrides.ts), if any.
    texts: app?.textOverrides[locale],
    appName: app?.name ?? 'Keymaster',
    logoUrl: app?.logoUrl ?? null,
    primaryColor: app?.primaryColor ?? DEFAULT_BRAND_COLOR,
    // Mail about an app comes from that app's name; without an app, KEYMASTER_MAIL_FROM's own name stays.
    ...(app && { senderName: app.name }),
  };
  await queueEmail(deps, { to: user.email, template, data: { ...brand, name: user.name, email: user.email, ...extra } });
}

export async function registerAccount(
  deps: AccountDeps,
  input: { email: string; password: string; name?: string | undefined },
  ctx: AccountContext = {},
  meta: RequestMeta = {},
): Promise<User> {
  // Bad input is refused before anything is written, the rate-limit counters included. The hosted form
  // sends its email unchecked, so this is where it is checked (a parse error would be a 500).
  const parsed = Email.safeParse(input.email);
  if (!parsed.success) throw appError('email_invalid');
  const email = parsed.data;
  assertPasswordPolicy(deps.config.passwordPolicy, input.password);
  const rules = accountRules(deps.config);
  if (meta.ip) await consumeRateLimit(deps, rules.registerPerIp, meta.ip);
  await consumeRateLimit(deps, rules.registerPerEmail, email);
  const app = await resolveAccountApp(deps, ctx.appId);
  // An invite-only app takes new users only through an invite (acceptInvite), never a sign-up.
  await assertRegistrationOpen(deps, app?.appId);
  const row = await createUserIfEmailFree(deps, {
    email,
    name: input.name ?? null,
    passwordHash: await hashPassword(input.password),
    emailVerifiedAt: null,
    locale: ctx.locale,
  });
  if (!row) throw appError('email_already_registered');
  const token = await issueEmailToken(deps, row.id, 'verify', deps.config.verifyTokenTtlHours * HOUR, ctx);
  await recordAuditEvent(deps, { event: 'user.registered', userId: row.id, appId: app?.appId }, meta);
  const locale = emailLocale(ctx, row, app);
  await sendAccountEmail(deps, row, 'verify-email', app, locale, {
    link: accountLink(deps, '/account/verify', token, ctx, app),
    hours: deps.config.verifyTokenTtlHours,
  });
  return toUser(row);
}

export async function verifyEmail(deps: Pick<Deps, 'db' | 'clock'>, input: { token: string }, meta: RequestMeta = {}): Promise<User> {
  return (await verifyEmailInBrowser(deps, input, meta)).user;
}

/**
 * Verifies the email, and says whether the link was opened in the browser that asked for it: the
 * browser-binding cookie it sent matches the one kept with the token (constant-time). Only then may the
 * caller sign the user in (sign-in.ts signInAfterVerification); a forwarded link never does, and
 * neither does a disabled account's.
 */
export async function verifyEmailInBrowser(
  deps: Pick<Deps, 'db' | 'clock'>,
  input: { token: string; browserBinding?: string | undefined },
  meta: RequestMeta = {},
): Promise<{ user: User; sameBrowser: boolean }> {
  const now = deps.clock.now();
  const result = await deps.db.transaction().execute(async (trx) => {
    const spent = await store.spendEmailToken(trx, sha256(input.token), 'verify', now);
    if (!spent) return undefined;
    const user = await findUserRecord({ db: trx }, spent.user_id);
    if (!user) return undefined;
    const bound = spent.sign_in_binding;
    const sameBrowser = bound !== null && input.browserBinding !== undefined && safeEqual(sha256(input.browserBinding), bound);
    if (user.email_verified_at) return { row: user, sameBrowser };
    return { row: (await markEmailVerified({ db: trx }, user.id, now))!, sameBrowser };
  });
  if (!result) throw invalidEmailToken();
  await recordAuditEvent(deps, { event: 'user.email_verified', userId: result.row.id, data: { sameBrowser: result.sameBrowser } }, meta);
  const user = toUser(result.row);
  return { user, sameBrowser: result.sameBrowser && !user.disabled };
}

/**
 * Sends a reset link if the email belongs to an account. The caller answers the same whatever
 * happens here, and as fast: only the rate limits (the same two counters for any email) run before
 * the answer; the lookup, the token and the email run after it (deps.background), so the response
 * time tells nothing about whether the account exists (timing.test.ts).
 */
export async function requestPasswordReset(
  deps: AccountDeps & Pick<Deps, 'background'>,
  input: { email: string },
  ctx: AccountContext = {},
  meta: RequestMeta = {},
): Promise<void> {
  const rules = accountRules(deps.config);
  if (meta.ip) await consumeRateLimit(deps, rules.resetRequestPerIp, meta.ip);
  await consumeRateLimit(deps, rules.resetRequestPerEmail, input.email);
  const { answered, ...auditMeta } = meta;
  deps.background.run('password_reset.request', () => sendPasswordReset(deps, input.email, ctx, auditMeta), answered);
}

async function sendPasswordReset(deps: AccountDeps, email: string, ctx: AccountContext, meta: RequestMeta): Promise<void> {
  const row = await findUserRecordByEmail(deps, email);
  if (!row || row.disabled_at) {
    await recordAuditEvent(deps, { event: 'password_reset.requested', data: { known: false } }, meta);
    return;
  }
  const app = await resolveAccountApp(deps, ctx.appId);
  const token = await issueNewestEmailToken(deps, row.id, 'reset', deps.config.resetTokenTtlMinutes * MINUTE, ctx);
  await recordAuditEvent(deps, { event: 'password_reset.requested', userId: row.id, appId: app?.appId, data: { known: true } }, meta);
  const locale = emailLocale(ctx, row, app);
  await sendAccountEmail(deps, row, 'reset-password', app, locale, {
    link: accountLink(deps, '/account/reset-password', token, ctx, app),
    minutes: deps.config.resetTokenTtlMinutes,
  });
}

/**
 * Sends a new verification link if the email belongs to an account that is not verified yet (the
 * way out of "Email not verified" and of an expired link). Answered like a reset request: only the
 * rate limits run before the answer, the rest after it, so the answer is the same, and as fast,
 * whether the account exists, is verified already, or not.
 */
export async function requestVerificationEmail(
  deps: AccountDeps & Pick<Deps, 'background'>,
  input: { email: string },
  ctx: AccountContext = {},
  meta: RequestMeta = {},
): Promise<void> {
  if (input.email.includes('\u0000')) throw appError('email_has_nul');
  const rules = accountRules(deps.config);
  if (meta.ip) await consumeRateLimit(deps, rules.verifyResendPerIp, meta.ip);
  await consumeRateLimit(deps, rules.verifyResendPerEmail, input.email);
  const { answered, ...auditMeta } = meta;
  deps.background.run('verification.resend', () => resendVerification(deps, input.email, ctx, auditMeta), answered);
}

async function resendVerification(deps: AccountDeps, email: string, ctx: AccountContext, meta: RequestMeta): Promise<void> {
  const row = await findUserRecordByEmail(deps, email);
  if (!row || row.disabled_at || row.email_verified_at) {
    await recordAuditEvent(deps, { event: 'verification.resend_requested', data: { sent: false } }, meta);
    return;
  }
  const app = await resolveAccountApp(deps, ctx.appId);
  const token = await issueNewestEmailToken(deps, row.id, 'verify', deps.config.verifyTokenTtlHours * HOUR, ctx);
  await recordAuditEvent(deps, { event: 'verification.resend_requested', userId: row.id, appId: app?.appId, data: { sent: true } }, meta);
  const locale = emailLocale(ctx, row, app);
  await sendAccountEmail(deps, row, 'verify-email', app, locale, {
    link: accountLink(deps, '/account/verify', token, ctx, app),
    hours: deps.config.verifyTokenTtlHours,
  });
}

/** Sets a new password everywhere it matters: hash, lockout cleared, every session and refresh token ended. */
async function replacePassword(trx: Deps['db'], userId: string, hash: string, reason: string, now: Date) {
  const d = { db: trx };
  const row = await replacePasswordHash(d, userId, hash, now);
  const tokens = await revokeAllUserTokens(d, userId, now, reason);
  const sessions = await endAllUserSessions(d, userId, now);
  return { row: row!, tokens, sessions };
}

/**
 * The email of the account a reset link is for, while the link can still be used (else undefined):
 * the page says at once that a dead link is dead, and names the account for password managers.
 * Nothing is spent; whoever holds the link may reset that account anyway.
 */
export async function resetLinkAccount(deps: Pick<Deps, 'db' | 'clock'>, token: string): Promise<{ email: string } | undefined> {
  const live = await store.findLiveEmailToken(deps.db, sha256(token), 'reset', deps.clock.now());
  const user = live && (await findUserRecord(deps, live.user_id));
  return user ? { email: user.email } : undefined;
}

export async function confirmPasswordReset(
  deps: AccountDeps,
  input: { token: string; newPassword: string },
  ctx: AccountContext = {},
  meta: RequestMeta = {},
): Promise<User> {
  // Policy first: a weak password must not burn the link.
  assertPasswordPolicy(deps.config.passwordPolicy, input.newPassword);
  const tokenHash = sha256(input.token);
  // The link is checked before argon2 runs: without a live reset token a request costs one indexed
  // read, not ~30 ms of hashing. The conditional spend below still decides (of two uses, one wins).
  if (!(await store.findLiveEmailToken(deps.db, tokenHash, 'reset', deps.clock.now()))) throw invalidEmailToken();
  const hash = await hashPassword(input.newPassword);
  const now = deps.clock.now();
  const result = await deps.db.transaction().execute(async (trx) => {
    const spent = await store.spendEmailToken(trx, tokenHash, 'reset', now);
    if (!spent) return undefined;
    await store.retireEmailTokens(trx, spent.user_id, 'reset', now);
    const done = await replacePassword(trx, spent.user_id, hash, 'password_reset', now);
    // Following the link proved the mailbox: the email counts as verified.
    if (!done.row.email_verified_at) done.row = (await markEmailVerified({ db: trx }, spent.user_id, now))!;
    return done;
  });
  if (!result) throw invalidEmailToken();
  forgetLiveness(deps, result.row.id);
  const user = toUser(result.row);
  await clearRateLimit(deps, accountRules(deps.config).loginFailuresPerEmail, user.email);
  await recordAuditEvent(
    deps,
    { event: 'password_reset.completed', userId: user.id, data: { revokedTokens: result.tokens, revokedSessions: result.sessions } },
    meta,
  );
  const app = await resolveAccountApp(deps, ctx.appId);
  await sendAccountEmail(deps, user, 'password-changed', app, emailLocale(ctx, user, app), { at: now.toISOString() });
  return user;
}

export async function loginAccount(
  deps: AccountDeps,
  input: { email: string; password: string; appId?: string | undefined },
  meta: RequestMeta = {},
): Promise<{ kind: 'tokens'; tokens: IssuedTokens; user: User } | { kind: 'totp_required'; totpSession: string }> {
  const app = await resolveAccountApp(deps, input.appId);
  if (!app) throw invalidAppId();
  assertKeymasterFlowApp(app);
  assertPasswordSignIn(app);
  const user = await authenticatePassword(deps, { email: input.email, password: input.password, appId: app.appId }, meta);
  // TOTP on (issue 17): the password alone yields no tokens, only the pending second factor. The
  // app's access rule (memberships.ts) is checked before it too: a refused user types no code.
  const totpSession = await openApiSecondFactor(deps, user, app);
  const { roles } = await admitToApp(deps, { userId: user.id, appId: app.appId, record: !totpSession }, meta);
  if (totpSession) return { kind: 'totp_required', totpSession };
  return { kind: 'tokens', tokens: await issueTokens(deps, { ...user, roles }, app, {}, meta), user };
}

/** POST /api/v1/auth/totp/verify: the code for a login's totp_session, then the login's tokens. */
export async function loginAccountSecondFactor(
  deps: AccountDeps,
  input: { totpSession: string; code: string },
  meta: RequestMeta = {},
): Promise<{ tokens: IssuedTokens; user: User }> {
  const { user, appId } = await passApiSecondFactor(deps, input.totpSession, input.code, meta);
  const app = await resolveAccountApp(deps, appId);
  if (!app) throw appError('totp_session_invalid', { detail: 'app gone' });
  const { roles } = await admitToApp(deps, { userId: user.id, appId: app.appId, record: true }, meta);
  return { tokens: await issueTokens(deps, { ...user, roles }, app, {}, meta), user };
}

/** Rotates a refresh token for the app it was issued to (or the one named). */
export async function refreshAccount(
  deps: AccountDeps,
  input: { refreshToken: string; appId?: string | undefined },
  meta: RequestMeta = {},
): Promise<IssuedTokens> {
  const appId = input.appId ?? (await findRefreshTokenAppId(deps, input.refreshToken)) ?? deps.config.defaultAppId;
  if (!appId) throw appError('refresh_token_invalid', { detail: 'no app_id and no such token' });
  // The account API authenticates no client: a client-bound token is refused.
  return rotateRefreshToken(deps, { refreshToken: input.refreshToken, appId, clientAuthenticated: false }, meta);
}

export async function logoutAccount(
  deps: Pick<Deps, 'db' | 'clock' | 'liveness'>,
  input: { userId: string; refreshToken: string },
  meta: RequestMeta = {},
): Promise<void> {
  await revokeRefreshToken(deps, { refreshToken: input.refreshToken, userId: input.userId }, meta);
}

/**
 * The user behind a verified, live access token (the bearer check, domain/tokens/liveness.ts, has
 * refused tokens of disabled accounts and tokens issued before the last password change), for /me.
 */
export async function getAccount(deps: Pick<Deps, 'db'>, claims: { sub: string }): Promise<User> {
  const row = await findUserRecord(deps, claims.sub);
  if (!row) throw appError('access_token_invalid');
  if (row.disabled_at) throw appError('account_disabled');
  return toUser(row);
}

export async function updateAccount(
  deps: AccountDeps,
  claims: { sub: string },
  input: { name?: string | undefined; currentPassword?: string | undefined; newPassword?: string | undefined },
  meta: RequestMeta = {},
): Promise<User> {
  const current = await getAccount(deps, claims);
  const now = deps.clock.now();
  let hash: string | undefined;
  if (input.newPassword !== undefined) {
    if (!input.currentPassword) throw appError('current_password_required');
    // Policy first (no argon2 for a password that could never be set), then the sign-in's own bounds.
    assertPasswordPolicy(deps.config.passwordPolicy, input.newPassword);
    await verifyCurrentPassword(deps, current.id, input.currentPassword, meta);
    hash = await hashPassword(input.newPassword);
  }
  const row = await deps.db.transaction().execute(async (trx) => {
    let r = input.name !== undefined ? await renameUser({ db: trx }, current.id, input.name, now) : undefined;
    if (hash) r = (await replacePassword(trx, current.id, hash, 'password_changed', now)).row;
    return r ?? (await findUserRecord({ db: trx }, current.id))!;
  });
  const user = toUser(row);
  if (hash) {
    forgetLiveness(deps, user.id);
    await recordAuditEvent(deps, { event: 'user.password_changed', userId: user.id }, meta);
    await sendAccountEmail(deps, user, 'password-changed', undefined, emailLocale({}, user, undefined), { at: now.toISOString() });
  }
  return user;
}

/** CLI: `keymaster users unlock` — clears the lockout and the per-email failure window. */
export async function unlockUser(
  deps: Pick<Deps, 'db' | 'clock' | 'config' | 'rateCounters'>,
  userId: string,
  meta: RequestMeta = {},
): Promise<User> {
  const row = await clearLockout(deps, userId, deps.clock.now());
  if (!row) throw appError('user_not_found');
  await clearRateLimit(deps, accountRules(deps.config).loginFailuresPerEmail, row.email);
  await recordAuditEvent(deps, { event: 'user.unlocked', userId: row.id }, meta);
  return toUser(row);
}

/**
 * CLI: `keymaster users update` (roles are per app now: memberships.ts setMembershipRoles). Disabling ends every session and refresh token at once (a disabled
 * account also fails rotation, but its live tokens should not wait for that).
 */
export async function adminUpdateUser(
  deps: Pick<Deps, 'db' | 'clock' | 'liveness'>,
  userId: string,
  input: { name?: string | undefined; verified?: boolean | undefined; disabled?: boolean | undefined },
  meta: RequestMeta = {},
): Promise<User> {
  const now = deps.clock.now();
  const result = await deps.db.transaction().execute(async (trx) => {
    const d = { db: trx };
    const current = await findUserRecord(d, userId);
    if (!current) return undefined;
    if (input.disabled && !current.disabled_at) await assertKeepsPlatformAdmin(trx, userId);
    const r = await editUser(
      d,
      userId,
      {
        name: input.name,
        ...(input.verified !== undefined && { emailVerifiedAt: input.verified ? (current.email_verified_at ?? now) : null }),
        ...(input.disabled !== undefined && { disabledAt: input.disabled ? (current.disabled_at ?? now) : null }),
      },
      now,
    );
    if (input.disabled && !current.disabled_at) {
      // Enabled again later, the account gets none of its earlier access tokens back.
      await refuseEarlierAccessTokens(d, userId, now);
      await revokeAllUserTokens(d, userId, now, 'account_disabled');
      await endAllUserSessions(d, userId, now);
    }
    return { before: current, row: r! };
  });
  if (!result) throw appError('user_not_found');
  const { before, row } = result;
  if (input.disabled !== undefined) forgetLiveness(deps, userId);
  await recordAuditEvent(
    deps,
    { event: 'user.updated', userId, data: { fields: Object.keys(input).filter((k) => input[k as keyof typeof input] !== undefined) } },
    meta,
  );
  // Webhooks (KEYMASTER-API.md §6), to every app the user has signed in to.
  if (input.disabled && !before.disabled_at) await enqueueUserEvent(deps, { event: 'user.suspended', user: row });
  return toUser(row);
}
