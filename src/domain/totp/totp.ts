// TOTP second factor (issue 17; RFC 6238: SHA-1, 6 digits, 30 s steps, ±1 step of clock drift) and its
// single-use recovery codes. The secret is AES-256-GCM encrypted under the server secret, bound to the
// user id; the codes are stored as SHA-256 hashes. A time step, once accepted, is never accepted
// again (RFC 6238 §5.2): user_totp.last_step only moves forward, by a conditional UPDATE.
// The otpauth library computes and checks the codes; the step bookkeeping and every rule are here.
import { Secret, TOTP } from 'otpauth';
import QRCode from 'qrcode';
import type { Deps } from '../../deps.js';
import { appError } from '../../errors.js';
import { decrypt, deriveKey, encrypt, randomToken, sha256 } from '../../lib/crypto.js';
import { recordAuditEvent, type RequestMeta } from '../audit/audit.js';
import { findUserRecord, verifyCurrentPassword } from '../users/users.js';
import * as store from './totp-store.js';

export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
/** Accepted drift either side of now, in steps (RFC 6238 §5.2 recommends at most one). */
export const TOTP_WINDOW = 1;
export const RECOVERY_CODE_COUNT = 10;

type TotpDeps = Pick<Deps, 'db' | 'clock' | 'config' | 'secret'>;

const secretKey = (deps: Pick<Deps, 'secret'>) => deriveKey(deps.secret, 'totp-secret');
const sealSecret = (deps: Pick<Deps, 'secret'>, userId: string, base32: string) => encrypt(secretKey(deps), base32, `totp:${userId}`);
const openSecret = (deps: Pick<Deps, 'secret'>, userId: string, box: string) => decrypt(secretKey(deps), box, `totp:${userId}`);

function totpFor(deps: Pick<Deps, 'config'>, email: string, base32: string): TOTP {
  return new TOTP({
    issuer: issuerLabel(deps),
    label: email,
    algorithm: 'SHA1',
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
    secret: Secret.fromBase32(base32),
  });
}

/** The name the authenticator app shows above the account: the issuer's host. */
function issuerLabel(deps: Pick<Deps, 'config'>): string {
  return new URL(deps.config.issuer).host;
}

/** A six-digit code: the TOTP; anything else is read as a recovery code. */
export const isTotpCode = (code: string) => /^\d{6}$/.test(code.trim());

/** Recovery codes are typed by people: case, spaces and dashes do not matter. */
const normaliseRecoveryCode = (code: string) => code.toLowerCase().replace(/[\s-]/g, '');
const hashRecoveryCode = (code: string) => sha256(`totp-recovery:${normaliseRecoveryCode(code)}`);

/** 10 codes of 10 hex characters (40 bits each), shown as `xxxxx-xxxxx`. */
function newRecoveryCodes(): string[] {
  return Array.from({ length: RECOVERY_CODE_COUNT }, () => {
    const raw = randomToken(5);
    return `${raw.slice(0, 5)}-${raw.slice(5)}`;
  });
}

/** The RFC 6238 step a code matches within ±TOTP_WINDOW of now, or undefined. */
function matchingStep(deps: Pick<Deps, 'clock' | 'config'>, email: string, base32: string, code: string): number | undefined {
  const timestamp = deps.clock.now().getTime();
  const delta = totpFor(deps, email, base32).validate({ token: code.trim(), timestamp, window: TOTP_WINDOW });
  if (delta === null) return undefined;
  return Math.floor(timestamp / 1000 / TOTP_PERIOD_SECONDS) + delta;
}

export interface TotpStatus {
  enabled: boolean;
  pending: boolean;
  recoveryCodesLeft: number;
}

export async function getTotpStatus(deps: Pick<Deps, 'db'>, userId: string): Promise<TotpStatus> {
  const row = await store.findTotp(deps.db, userId);
  const enabled = row?.secret != null;
  return {
    enabled,
    pending: row?.pending_secret != null,
    recoveryCodesLeft: enabled ? await store.countUnusedRecoveryCodes(deps.db, userId) : 0,
  };
}

export async function isTotpEnabled(deps: Pick<Deps, 'db'>, userId: string): Promise<boolean> {
  return (await store.findTotp(deps.db, userId))?.secret != null;
}

/** Starts (or restarts) enrolment: a new pending secret, its otpauth:// URL and a QR code of it (SVG data URL). */
export async function setupTotp(
  deps: TotpDeps,
  userId: string,
  meta: RequestMeta = {},
): Promise<{ secret: string; otpauthUrl: string; qr: string }> {
  const user = await findUserRecord(deps, userId);
  if (!user) throw appError('user_not_found');
  const base32 = new Secret({ size: 20 }).base32;
  const row = await store.upsertPendingSecret(deps.db, userId, sealSecret(deps, userId, base32), deps.clock.now());
  if (!row) throw appError('totp_already_enabled');
  await recordAuditEvent(deps, { event: 'totp.setup', userId }, meta);
  return describeSecret(deps, user.email, base32);
}

/** The enrolment under way (set up, not confirmed), to draw again: undefined when there is none. */
export async function pendingTotpSetup(
  deps: Pick<Deps, 'db' | 'config' | 'secret'>,
  userId: string,
): Promise<{ secret: string; otpauthUrl: string; qr: string } | undefined> {
  const [user, row] = await Promise.all([findUserRecord(deps, userId), store.findTotp(deps.db, userId)]);
  if (!user || !row?.pending_secret || row.secret) return undefined;
  return describeSecret(deps, user.email, openSecret(deps, userId, row.pending_secret));
}

/** The secret as an authenticator app takes it: the otpauth:// URL and its QR code (an SVG data URL, for <img>). */
async function describeSecret(deps: Pick<Deps, 'config'>, email: string, base32: string) {
  const otpauthUrl = totpFor(deps, email, base32).toString();
  const svg = await QRCode.toString(otpauthUrl, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
  return { secret: base32, otpauthUrl, qr: `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}` };
}

/** A code from the pending secret turns TOTP on; the ten recovery codes are returned this once. */
export async function confirmTotp(
  deps: TotpDeps,
  userId: string,
  code: string,
  meta: RequestMeta = {},
): Promise<{ recoveryCodes: string[] }> {
  const user = await findUserRecord(deps, userId);
  const row = await store.findTotp(deps.db, userId);
  if (!user) throw appError('user_not_found');
  if (row?.secret != null) throw appError('totp_already_enabled');
  if (!row?.pending_secret) throw appError('totp_setup_missing');
  const step = isTotpCode(code) ? matchingStep(deps, user.email, openSecret(deps, userId, row.pending_secret), code) : undefined;
  if (step === undefined) {
    await recordAuditEvent(deps, { event: 'totp.confirm_failure', userId }, meta);
    throw appError('totp_code_invalid');
  }
  const codes = newRecoveryCodes();
  const now = deps.clock.now();
  const activated = await deps.db.transaction().execute(async (trx) => {
    const d = { ...deps, db: trx };
    if (!(await store.activatePendingSecret(trx, userId, row.pending_secret!, step, now))) return false;
    await store.replaceRecoveryCodes(trx, userId, codes.map(hashRecoveryCode), now);
    await recordAuditEvent(d, { event: 'totp.enabled', userId }, meta);
    return true;
  });
  // Another confirmation or a new setup won the race: this code confirmed nothing.
  if (!activated) throw appError('totp_code_invalid', { detail: 'pending secret changed during confirmation' });
  return { recoveryCodes: codes };
}

/**
 * Checks a code for an account with TOTP on and spends it: a TOTP code spends its time step, a recovery
 * code itself. 'ok', 'recovery' (a recovery code was spent) or 'wrong' (nothing was spent).
 */
export async function spendSecondFactor(
  deps: TotpDeps,
  user: { id: string; email: string },
  code: string,
): Promise<'ok' | 'recovery' | 'wrong'> {
  const row = await store.findTotp(deps.db, user.id);
  if (!row?.secret) return 'wrong';
  const now = deps.clock.now();
  if (isTotpCode(code)) {
    const step = matchingStep(deps, user.email, openSecret(deps, user.id, row.secret), code);
    if (step === undefined) return 'wrong';
    return (await store.spendStep(deps.db, user.id, step, now)) ? 'ok' : 'wrong';
  }
  const normalised = normaliseRecoveryCode(code);
  if (!/^[0-9a-f]{10}$/.test(normalised)) return 'wrong';
  return (await store.spendRecoveryCode(deps.db, user.id, hashRecoveryCode(normalised), now)) ? 'recovery' : 'wrong';
}

/**
 * A fresh factor for a change to the second factor itself (disable, new recovery codes): a current
 * code (or recovery code), or the password, whose failures count as sign-in failures do.
 */
async function assertFreshFactor(
  deps: Pick<Deps, 'db' | 'clock' | 'config' | 'secret' | 'log' | 'rateCounters'>,
  userId: string,
  proof: { code?: string | undefined; password?: string | undefined },
  meta: RequestMeta,
): Promise<void> {
  const user = await findUserRecord(deps, userId);
  if (!user) throw appError('user_not_found');
  if (proof.code !== undefined) {
    if ((await spendSecondFactor(deps, user, proof.code)) === 'wrong') {
      await recordAuditEvent(deps, { event: 'totp.factor_failure', userId }, meta);
      throw appError('totp_code_invalid');
    }
    return;
  }
  if (proof.password !== undefined) return verifyCurrentPassword(deps, userId, proof.password, meta);
  throw appError('totp_factor_required');
}

type FactorDeps = Pick<Deps, 'db' | 'clock' | 'config' | 'secret' | 'log' | 'rateCounters'>;

/** Turns TOTP off (secret and recovery codes deleted), given a fresh factor. */
export async function disableTotp(
  deps: FactorDeps,
  userId: string,
  proof: { code?: string | undefined; password?: string | undefined },
  meta: RequestMeta = {},
): Promise<void> {
  if (!(await isTotpEnabled(deps, userId))) throw appError('totp_not_enabled');
  await assertFreshFactor(deps, userId, proof, meta);
  await deps.db.transaction().execute(async (trx) => {
    await store.deleteTotp(trx, userId);
    await store.deleteRecoveryCodes(trx, userId);
    await recordAuditEvent({ ...deps, db: trx }, { event: 'totp.disabled', userId }, meta);
  });
}

/** Ten new recovery codes (the old ones stop working), given a fresh factor; returned this once. */
export async function regenerateRecoveryCodes(
  deps: FactorDeps,
  userId: string,
  proof: { code?: string | undefined; password?: string | undefined },
  meta: RequestMeta = {},
): Promise<{ recoveryCodes: string[] }> {
  if (!(await isTotpEnabled(deps, userId))) throw appError('totp_not_enabled');
  await assertFreshFactor(deps, userId, proof, meta);
  const codes = newRecoveryCodes();
  await deps.db.transaction().execute(async (trx) => {
    await store.replaceRecoveryCodes(trx, userId, codes.map(hashRecoveryCode), deps.clock.now());
    await recordAuditEvent({ ...deps, db: trx }, { event: 'totp.recovery_codes_regenerated', userId }, meta);
  });
  return { recoveryCodes: codes };
}

/**
 * The challenges of pending sign-ins (domain/sign-in owns their rules): one row per password sign-in
 * waiting for its code, spent once, with a bounded number of attempts.
 */
export const challenges = {
  insert: (deps: Pick<Deps, 'db'>, row: { user_id: string; app_id: string | null; created_at: Date; expires_at: Date }) =>
    store.insertChallenge(deps.db, row),
  countAttempt: (deps: Pick<Deps, 'db'>, id: string, userId: string, now: Date, maxAttempts: number) =>
    store.countChallengeAttempt(deps.db, id, userId, now, maxAttempts),
  find: (deps: Pick<Deps, 'db'>, id: string) => store.findChallenge(deps.db, id),
  spend: (deps: Pick<Deps, 'db'>, id: string, now: Date) => store.spendChallenge(deps.db, id, now),
};
