// Users: creation, password sign-in with lockout, and the claims a token carries about them.
import { z } from 'zod';
import type { Deps } from '../../deps.js';
import { isLocale, type Locale } from '../../i18n/locales.js';
import { appError, AppError, type Reason } from '../../errors.js';
import { isUuid } from '../apps/apps.js';
import { MINUTE } from '../../lib/clock.js';
import { decodeCursor, encodeCursor, isPgTimestampText } from '../../lib/cursor.js';
import type { UserRow } from '../../storage/schema.js';
import { recordAuditEvent, type RequestMeta } from '../audit/audit.js';
import { enqueueUserEvent, enqueueWebhookEvent } from '../webhooks/webhooks.js';
import { accountRules, checkRateLimit, clearRateLimit, hitRateLimit } from '../rate-limits/rate-limits.js';
import { hashPassword, MAX_PASSWORD_BYTES, needsRehash, verifyPassword } from './passwords.js';
import type { KnownDevice } from './known-devices.js';
import * as store from './user-store.js';

export const Email = z
  .string()
  .trim()
  .max(254)
  .pipe(z.email({ message: 'must be a valid email address' }));
/** Bounded before argon2 ever sees it (DESIGN.md §4.10). */
export const Password = z
  .string()
  .min(1, 'is required')
  .refine((p) => Buffer.byteLength(p, 'utf8') <= MAX_PASSWORD_BYTES, `must be at most ${MAX_PASSWORD_BYTES} bytes`);
export const Role = z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'roles are 1-64 letters, digits or _.:-');

export const UserInput = z.object({
  email: Email,
  password: Password.optional(),
  name: z.string().trim().min(1).max(200).optional(),
  verified: z.boolean().default(false),
});
export type UserInput = z.input<typeof UserInput>;

export interface User {
  id: string;
  email: string;
  name: string | null;
  /** The global roles of before issue 14 (users.legacy_roles): shown, never in a token (memberships hold the roles). */
  legacyRoles: string[];
  emailVerified: boolean;
  disabled: boolean;
  lockedUntil: Date | null;
  createdAt: Date;
  /**
   * The last change to the user's information, OIDC's `updated_at`: every edit through this module
   * (name, email verification, password, roles, status, lockout) sets it; sign-in bookkeeping
   * (last_login_at, failure counts) does not.
   */
  updatedAt: Date;
  lastLoginAt: Date | null;
  /** The language of the user's emails: the one they last used on a hosted page (null: not known). */
  locale: Locale | null;
}

/** A user as one app sees them: with their roles in that app (the membership's; memberships.ts). */
export type AppUser = User & { roles: string[] };

export function toUser(row: UserRow): User {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    legacyRoles: row.legacy_roles,
    emailVerified: row.email_verified_at !== null,
    disabled: row.disabled_at !== null,
    lockedUntil: row.locked_until,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    lastLoginAt: row.last_login_at,
    locale: isLocale(row.locale) ? row.locale : null,
  };
}

/** `meta.appId`: the app the user signed up through (its webhooks get user.signup). */
export async function createUser(
  deps: Pick<Deps, 'db' | 'clock'>,
  input: UserInput,
  meta: RequestMeta & { appId?: string } = {},
): Promise<User> {
  const v = UserInput.parse(input);
  const row = await store.insertUser(deps.db, {
    email: v.email,
    name: v.name ?? null,
    password_hash: v.password ? await hashPassword(v.password) : null,
    email_verified_at: v.verified ? deps.clock.now() : null,
  });
  if (!row) throw appError('email_already_registered');
  const { appId, ...requestMeta } = meta;
  await recordAuditEvent(deps, { event: 'user.created', userId: row.id, appId, data: {} }, requestMeta);
  if (appId) await enqueueUserEvent(deps, { event: 'user.signup', user: row, appIds: [appId] });
  return toUser(row);
}

export async function getUser(deps: Pick<Deps, 'db'>, id: string): Promise<User> {
  const row = isUuid(id) ? await store.findUserById(deps.db, id) : undefined;
  if (!row) throw appError('user_not_found');
  return toUser(row);
}

export async function findUserById(deps: Pick<Deps, 'db'>, id: string): Promise<User | undefined> {
  const row = await store.findUserById(deps.db, id);
  return row && toUser(row);
}

export async function findUserByEmailOrId(deps: Pick<Deps, 'db'>, ref: string): Promise<User | undefined> {
  const row = ref.includes('@')
    ? await store.findUserByEmail(deps.db, ref)
    : isUuid(ref)
      ? await store.findUserById(deps.db, ref)
      : undefined;
  return row && toUser(row);
}

/**
 * The stored record of a user, for the modules whose rules read what `User` leaves out (the password
 * hash, tokens_valid_after). Takes the caller's `db`, so it reads inside the caller's transaction.
 */
export async function findUserRecord(deps: Pick<Deps, 'db'>, id: string): Promise<UserRow | undefined> {
  return store.findUserById(deps.db, id);
}

/** The stored record of the user with this email (case-insensitive). */
export async function findUserRecordByEmail(deps: Pick<Deps, 'db'>, email: string): Promise<UserRow | undefined> {
  return store.findUserByEmail(deps.db, email);
}

/**
 * A new user (in no app yet), unless the email is taken (then undefined: no error is raised, so the
 * caller's transaction stays usable). Nothing is audited here; the caller records why it was created.
 */
export async function createUserIfEmailFree(
  deps: Pick<Deps, 'db'>,
  input: { email: string; name: string | null; passwordHash: string | null; emailVerifiedAt: Date | null; locale?: Locale | undefined },
): Promise<UserRow | undefined> {
  return store.insertUser(deps.db, {
    email: input.email,
    name: input.name,
    password_hash: input.passwordHash,
    email_verified_at: input.emailVerifiedAt,
    locale: input.locale ?? null,
  });
}

/**
 * The language the user now reads (a hosted page they signed in on): their emails go out in it.
 * Written only when it changed; not a change to the user's information (updated_at stays).
 */
export async function rememberUserLocale(
  deps: Pick<Deps, 'db'>,
  user: Pick<User, 'id' | 'locale'>,
  locale: Locale | undefined,
): Promise<void> {
  if (locale === undefined || user.locale === locale) return;
  await store.setUserLocale(deps.db, user.id, locale);
}

/**
 * The mailbox is proven at `now`. `dropPassword`: the password goes too, because whoever set it
 * never proved they own the address (upstream sign-in claiming an unverified account).
 */
export async function markEmailVerified(
  deps: Pick<Deps, 'db'>,
  userId: string,
  now: Date,
  opts: { dropPassword?: boolean } = {},
): Promise<UserRow | undefined> {
  return store.updateUser(deps.db, userId, {
    email_verified_at: now,
    ...(opts.dropPassword && { password_hash: null }),
    updated_at: now,
  });
}

/**
 * A new password hash: the lockout is cleared and every access token issued before this second is
 * refused from now on (access tokens carry whole-second iat, so tokens from this second on stay valid).
 */
export async function replacePasswordHash(deps: Pick<Deps, 'db'>, userId: string, hash: string, now: Date): Promise<UserRow | undefined> {
  return store.updateUser(deps.db, userId, {
    password_hash: hash,
    failed_logins: 0,
    locked_until: null,
    tokens_valid_after: validAfter(now),
    updated_at: now,
  });
}

/** Access tokens carry whole-second iat: tokens from `now`'s second on stay valid. */
const validAfter = (now: Date) => new Date(Math.floor(now.getTime() / 1000) * 1000);

/**
 * Every access token of the user issued before this second is refused from now on (sign out
 * everywhere, disable): domain/tokens/liveness.ts reads tokens_valid_after. Takes the caller's `db`.
 */
export async function refuseEarlierAccessTokens(deps: Pick<Deps, 'db'>, userId: string, now: Date): Promise<void> {
  await store.updateUser(deps.db, userId, { tokens_valid_after: validAfter(now) });
}

export async function renameUser(deps: Pick<Deps, 'db'>, userId: string, name: string, now: Date): Promise<UserRow | undefined> {
  return store.updateUser(deps.db, userId, { name, updated_at: now });
}

/** Clears the failure count and the lock (the per-email rate-limit window is the caller's). */
export async function clearLockout(deps: Pick<Deps, 'db'>, userId: string, now: Date): Promise<UserRow | undefined> {
  return store.updateUser(deps.db, userId, { failed_logins: 0, locked_until: null, updated_at: now });
}

/** A sign-in that is not by password (upstream): only last_login_at; the lockout counters are password sign-in's. */
export async function recordLastLogin(deps: Pick<Deps, 'db'>, userId: string, now: Date): Promise<void> {
  await store.updateUser(deps.db, userId, { last_login_at: now });
}

/** An admin's edit (CLI `keymaster users update`): only the fields given are written. */
export async function editUser(
  deps: Pick<Deps, 'db'>,
  userId: string,
  edit: { name?: string | undefined; emailVerifiedAt?: Date | null; disabledAt?: Date | null },
  now: Date,
): Promise<UserRow | undefined> {
  return store.updateUser(deps.db, userId, {
    ...(edit.name !== undefined && { name: edit.name }),
    ...(edit.emailVerifiedAt !== undefined && { email_verified_at: edit.emailVerifiedAt }),
    ...(edit.disabledAt !== undefined && { disabled_at: edit.disabledAt }),
    updated_at: now,
  });
}

export async function listUsers(deps: Pick<Deps, 'db'>): Promise<User[]> {
  return (await store.listUsers(deps.db)).map(toUser);
}

export const invalidCredentials = () => appError('invalid_credentials');

/** The refusals of the person signing in (wrong password, throttled, locked, disabled, unverified), as opposed to a broken request. */
const SIGN_IN_REFUSALS: ReadonlySet<Reason> = new Set<Reason>([
  // The failure limits (per email, IP or device): the form says how long, with its links (the way out).
  'rate_limited',
  'credentials_missing',
  'invalid_credentials',
  'account_locked',
  'account_disabled',
  'email_not_verified',
]);
export const isSignInRefusal = (err: unknown): err is AppError => err instanceof AppError && SIGN_IN_REFUSALS.has(err.reason);

/**
 * Password sign-in. Always runs exactly one argon2 verification, whether or not the email exists.
 * Order of checks: credentials → lock → disabled → verified, so that the documented 403 messages
 * (seed 004) are only ever shown to someone who knows the password, except "Account is locked",
 * which a locked account shows whatever is typed (the lock must hold even for the right password).
 *
 * `knownDevices` (the hosted pages' device cookie, known-devices.ts): in a browser that has signed
 * in to this account before, failures count against that browser only, and neither the account's
 * lock nor the per-email and per-IP limits apply (DESIGN.md §7 rule 12: failures typed elsewhere
 * never keep the owner out). Everyone else gets seed 004's limits and lockout.
 */
export async function authenticatePassword(
  deps: Pick<Deps, 'db' | 'clock' | 'config' | 'log' | 'rateCounters'>,
  input: { email: string; password: string; appId?: string; knownDevices?: readonly KnownDevice[] },
  meta: RequestMeta = {},
): Promise<User> {
  // Postgres text cannot hold NUL; whatever route called us, that is bad input, not a 500.
  if (input.email.includes('\u0000')) throw appError('email_has_nul');
  const row = await store.findUserByEmail(deps.db, input.email);
  const device = row && input.knownDevices?.find((d) => d.userId === row.id);
  if (row && device) return signInOnKnownDevice(deps, row, device, input, meta);
  // Refused before argon2 runs: repeated failures per email and per IP (KEYMASTER-API.md limits;
  // failures only, so a busy office behind one IP is not throttled by its successful sign-ins).
  const rules = accountRules(deps.config);
  const emailFailures = await checkRateLimit(deps, rules.loginFailuresPerEmail, input.email);
  if (meta.ip) await checkRateLimit(deps, rules.loginFailuresPerIp, meta.ip);
  const ok = await verifyPassword(row?.password_hash, input.password);
  const now = deps.clock.now();
  // Both failure paths write their bookkeeping in ONE transaction (one commit), so an unknown email
  // and a wrong password cost the same number of round trips and fsyncs (test/security/timing.test.ts
  // found a gap on Postgres when the wrong-password path committed one more statement on its own).
  if (!row) {
    await deps.db.transaction().execute(async (trx) => {
      const d = { ...deps, db: trx };
      await countSignInFailure(d, input.email, meta);
      await recordAuditEvent(d, { event: 'login.failure', appId: input.appId, data: { reason: 'unknown_email' } }, meta);
    });
    throw invalidCredentials();
  }
  if (row.locked_until && row.locked_until > now) {
    await recordAuditEvent(deps, { event: 'login.locked', userId: row.id, appId: input.appId }, meta);
    throw accountLocked(row.locked_until, now);
  }
  if (!ok) {
    await recordWrongPassword(deps, row, input.email, { reason: 'bad_password', appId: input.appId }, meta);
    throw invalidCredentials();
  }
  return finishPasswordSignIn(deps, row, input, emailFailures > 0, meta);
}

/** "Account is locked", with how long (Retry-After; the hosted form says it in minutes). */
function accountLocked(until: Date, now: Date): AppError {
  const retryAfter = Math.max(1, Math.ceil((until.getTime() - now.getTime()) / 1000));
  return appError('account_locked', { detail: `locked until ${until.toISOString()}`, retryAfter });
}

/** A known device of this account: its own failure limit, no account lock, failures not counted on the account. */
async function signInOnKnownDevice(
  deps: Pick<Deps, 'db' | 'clock' | 'config' | 'log' | 'rateCounters'>,
  row: UserRow,
  device: KnownDevice,
  input: { email: string; password: string; appId?: string },
  meta: RequestMeta,
): Promise<User> {
  const rule = accountRules(deps.config).loginFailuresPerDevice;
  const failures = await checkRateLimit(deps, rule, device.nonce);
  if (!(await verifyPassword(row.password_hash, input.password))) {
    await deps.db.transaction().execute(async (trx) => {
      const d = { ...deps, db: trx };
      await hitRateLimit(d, rule, device.nonce);
      await recordAuditEvent(
        d,
        { event: 'login.failure', userId: row.id, appId: input.appId, data: { reason: 'bad_password', knownDevice: true } },
        meta,
      );
    });
    throw invalidCredentials();
  }
  if (failures > 0) await clearRateLimit(deps, rule, device.nonce);
  return finishPasswordSignIn(deps, row, input, false, meta);
}

/** The right password: the account's standing (disabled, unverified), then the success bookkeeping. */
async function finishPasswordSignIn(
  deps: Pick<Deps, 'db' | 'clock' | 'config' | 'log' | 'rateCounters'>,
  row: UserRow,
  input: { email: string; password: string; appId?: string },
  clearEmailFailures: boolean,
  meta: RequestMeta,
): Promise<User> {
  const now = deps.clock.now();
  if (row.disabled_at || !row.email_verified_at) {
    const reason = row.disabled_at ? 'disabled' : 'email_not_verified';
    await recordAuditEvent(deps, { event: 'login.failure', userId: row.id, appId: input.appId, data: { reason } }, meta);
    throw appError(row.disabled_at ? 'account_disabled' : 'email_not_verified');
  }
  const rehash = needsRehash(row.password_hash!) ? await hashPassword(input.password) : undefined;
  await store.recordSuccessfulLogin(deps.db, row.id, now, rehash);
  // Nothing to clear (the usual case) saves a statement on every sign-in.
  if (clearEmailFailures) await clearRateLimit(deps, accountRules(deps.config).loginFailuresPerEmail, input.email);
  await recordAuditEvent(deps, { event: 'login.success', userId: row.id, appId: input.appId, data: { method: 'password' } }, meta);
  if (input.appId)
    await enqueueWebhookEvent(deps, {
      appId: input.appId,
      event: 'user.login',
      data: { user_id: row.id, email: row.email, name: row.name },
    });
  return toUser({ ...row, failed_logins: 0, locked_until: null, last_login_at: now });
}

/** One failed password check counted per email and per IP (the limits checked before argon2 runs). */
async function countSignInFailure(
  d: Pick<Deps, 'db' | 'clock' | 'config' | 'rateCounters'>,
  email: string,
  meta: RequestMeta,
): Promise<void> {
  const rules = accountRules(d.config);
  await hitRateLimit(d, rules.loginFailuresPerEmail, email);
  if (meta.ip) await hitRateLimit(d, rules.loginFailuresPerIp, meta.ip);
}

/**
 * A wrong password for a known account, wherever it was typed: the failure counters, the account's
 * consecutive-failure count and lock, and the audit trail, in one transaction (one commit: see timing.test.ts).
 */
async function recordWrongPassword(
  deps: Pick<Deps, 'db' | 'clock' | 'config' | 'log' | 'rateCounters'>,
  row: UserRow,
  email: string,
  how: { reason: string; appId?: string | undefined },
  meta: RequestMeta,
): Promise<void> {
  const lockUntil = new Date(deps.clock.now().getTime() + deps.config.lockoutMinutes * MINUTE);
  const lockedNow = await deps.db.transaction().execute(async (trx) => {
    const d = { ...deps, db: trx };
    await countSignInFailure(d, email, meta);
    const res = await store.recordFailedLogin(trx, row.id, deps.config.lockoutThreshold, lockUntil);
    await recordAuditEvent(
      d,
      { event: 'login.failure', userId: row.id, appId: how.appId, data: { reason: how.reason, failedLogins: res?.failed_logins } },
      meta,
    );
    return res?.locked_until != null && res.failed_logins === deps.config.lockoutThreshold;
  });
  if (lockedNow) {
    deps.log.warn({ event: 'user.locked', userId: row.id }, 'account locked after repeated failures');
    await recordAuditEvent(deps, { event: 'user.locked', userId: row.id, appId: how.appId }, meta);
  }
}

/**
 * A wrong second-factor code after the right password (domain/sign-in): it counts as a wrong password
 * does, toward the per-email and per-IP limits and the account's lockout. The right password that
 * came before it reset the account's count, so the count is first raised to the wrong codes typed in
 * the current window (`recentFailures`, this one included): re-typing the password between codes
 * does not keep the lockout away.
 */
export async function recordWrongSecondFactor(
  deps: Pick<Deps, 'db' | 'clock' | 'config' | 'log' | 'rateCounters'>,
  row: UserRow,
  appId: string | undefined,
  recentFailures: number,
  meta: RequestMeta = {},
): Promise<void> {
  if (recentFailures - 1 > row.failed_logins) await store.updateUser(deps.db, row.id, { failed_logins: recentFailures - 1 });
  await recordWrongPassword(deps, row, row.email, { reason: 'bad_totp', appId }, meta);
}

/** "Account is locked" for a locked account (a second factor typed while it is locked); nothing otherwise. */
export function assertNotLocked(row: UserRow, now: Date): void {
  if (row.locked_until && row.locked_until > now) throw accountLocked(row.locked_until, now);
}

export const incorrectCurrentPassword = () => appError('current_password_incorrect');

/**
 * Re-authentication of a signed-in user (the current password before a change). The same bounds as a
 * sign-in, so a stolen access token is no faster a way to guess the password than the sign-in form:
 * the per-email and per-IP failure limits are checked before argon2 runs, a locked account is refused
 * whatever is typed, and a wrong password counts toward both limits and toward the lockout.
 */
export async function verifyCurrentPassword(
  deps: Pick<Deps, 'db' | 'clock' | 'config' | 'log' | 'rateCounters'>,
  userId: string,
  password: string,
  meta: RequestMeta = {},
): Promise<void> {
  const row = await store.findUserById(deps.db, userId);
  if (!row) throw incorrectCurrentPassword();
  const rules = accountRules(deps.config);
  const emailFailures = await checkRateLimit(deps, rules.loginFailuresPerEmail, row.email);
  if (meta.ip) await checkRateLimit(deps, rules.loginFailuresPerIp, meta.ip);
  if (row.locked_until && row.locked_until > deps.clock.now()) throw accountLocked(row.locked_until, deps.clock.now());
  if (await verifyPassword(row.password_hash, password)) {
    if (emailFailures > 0) await clearRateLimit(deps, rules.loginFailuresPerEmail, row.email);
    return;
  }
  await recordWrongPassword(deps, row, row.email, { reason: 'bad_current_password' }, meta);
  throw incorrectCurrentPassword();
}

export function parseRoles(csv: string): string[] {
  const roles = csv
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  const bad = roles.find((r) => !Role.safeParse(r).success);
  if (bad) throw appError('invalid_role', { role: bad });
  return roles;
}

const UserCursor = z.union([
  z.object({ e: z.string().max(400), i: z.uuid() }),
  z.object({ c: z.string().max(64).refine(isPgTimestampText), i: z.uuid() }),
]);

/**
 * A page of users (the Admin API): newest first, or with `search` the users whose email or name
 * starts with it (case-insensitive), in the order of what matched (the email, else the name). Keyset cursors; `scope` narrows to the users
 * enrolled in an app of those tenants or apps, `appId` to one app's.
 */
export async function listUsersPage(
  deps: Pick<Deps, 'db'>,
  page: {
    limit: number;
    search?: string | undefined;
    cursor?: string | undefined;
    scope?: { tenantIds: string[]; appIds: string[] } | undefined;
    appId?: string | undefined;
  },
): Promise<{ users: User[]; nextCursor: string | null }> {
  const key = page.cursor === undefined ? undefined : decodeCursor(UserCursor, page.cursor);
  // A cursor of the other ordering (search vs. none) cannot continue this list.
  if (page.cursor !== undefined && (!key || 'e' in key !== (page.search !== undefined))) throw appError('cursor_invalid');
  const rows = await store.listUsersPage(deps.db, {
    limit: page.limit + 1,
    prefix: page.search,
    scope: page.scope,
    appId: page.appId,
    after: key && ('e' in key ? { key: key.e, id: key.i } : { createdAt: key.c, id: key.i }),
  });
  const kept = rows.slice(0, page.limit);
  const users = kept.map(toUser);
  const last = users.at(-1);
  const lastRow = kept.at(-1);
  const more = rows.length > page.limit && last;
  const nextCursor = !more
    ? null
    : page.search !== undefined
      ? encodeCursor({ e: lastRow!.cursor_key!, i: last.id })
      : encodeCursor({ c: lastRow!.cursor_ts, i: last.id });
  return { users, nextCursor };
}

/**
 * Deletes the account and, by the foreign keys' cascades, everything it owns: memberships, sessions,
 * refresh tokens, identities, admin grants. Its live access tokens fail at once (no user, liveness.ts).
 */
export async function deleteUserAccount(
  deps: Pick<Deps, 'db' | 'clock' | 'liveness'>,
  userId: string,
  meta: RequestMeta = {},
): Promise<void> {
  const row = isUuid(userId) ? await store.deleteUser(deps.db, userId) : undefined;
  if (!row) throw appError('user_not_found');
  deps.liveness.invalidate(userId);
  await recordAuditEvent(deps, { event: 'user.deleted', userId }, meta);
}
