// Rate limits kept in Postgres (fixed windows), so they hold across processes and restarts.
// `checkRateLimit` reads without counting (used before expensive work such as argon2);
// `hitRateLimit` counts one event and throws 429 once the limit is passed.
// Limits come from RULES, scaled and overridden by config (KEYMASTER_RATE_LIMIT_SCALE and
// KEYMASTER_RATE_LIMIT_<RULE>=limit/window) whenever the caller's deps carry the config.
import type { Config } from '../../config.js';
import type { Deps } from '../../deps.js';
import { appError, type AppError } from '../../errors.js';
import { sha256 } from '../../lib/crypto.js';
import { BATCH_MIN_LIMIT } from './batched-counters.js';
import * as store from './rate-limit-store.js';

export interface RateLimitRule {
  /** Stable name, part of the key: "login_failures_email". */
  name: string;
  limit: number;
  windowSeconds: number;
  /** Personal subjects (emails) are hashed before they become keys. */
  hashSubject?: boolean;
}

/** KEYMASTER-API.md: 5 per 15 min per email, 20 per 15 min per IP; 10 per 15 min per client_id. */
export const RULES = {
  loginFailuresPerEmail: { name: 'login_failures_email', limit: 5, windowSeconds: 900, hashSubject: true },
  loginFailuresPerIp: { name: 'login_failures_ip', limit: 20, windowSeconds: 900 },
  // Client authentication failures per (client_id, source IP): the Keymaster contract's 10 per 15 min,
  // counted per source so that nobody elsewhere can use a public client_id to lock the client out.
  clientCredentialsFailuresPerClient: { name: 'client_credentials_failures', limit: 10, windowSeconds: 900 },
  // Client authentication failures per source IP across every client_id (ours): bounds a spray.
  clientAuthFailuresPerIp: { name: 'client_auth_failures_ip', limit: 50, windowSeconds: 900 },
  // Every attempt, successful or not, per client IP (ours; not in KEYMASTER-API.md). They bound the
  // cost one address can impose (argon2, token rotation) without touching anyone else's account.
  loginAttemptsPerIp: { name: 'login_attempts_ip', limit: 60, windowSeconds: 60 },
  tokenRefreshPerIp: { name: 'token_refresh_ip', limit: 600, windowSeconds: 60 },
  tokenRevokePerIp: { name: 'token_revoke_ip', limit: 600, windowSeconds: 60 },
  // OIDC / token endpoints, every request per client IP (ours). Generous: they bound floods, not use.
  authorizePerIp: { name: 'authorize_ip', limit: 300, windowSeconds: 60 },
  tokenPerIp: { name: 'token_ip', limit: 600, windowSeconds: 60 },
  introspectPerIp: { name: 'introspect_ip', limit: 600, windowSeconds: 60 },
  // POST /par (RFC 9126): each accepted request writes a row, so it has a budget of its own.
  parPerIp: { name: 'par_ip', limit: 300, windowSeconds: 60 },
  tokenVerifyPerIp: { name: 'token_verify_ip', limit: 300, windowSeconds: 60 },
  // Wrong TOTP codes per user, across every pending sign-in (issue 17; each sign-in has 5 of its own).
  totpFailuresPerUser: { name: 'totp_failures_user', limit: 10, windowSeconds: 900 },
  // Wrong user codes on /device per source IP (RFC 8628 §5.1): bounds guessing; never counts sign-ins.
  deviceUserCodeFailuresPerIp: { name: 'device_user_code_failures_ip', limit: 10, windowSeconds: 900 },
} satisfies Record<string, RateLimitRule>;

/**
 * The per-email / per-IP rules with the account limits (KEYMASTER_RATE_LIMIT_EMAIL / _IP /
 * _WINDOW_SECONDS); per-rule overrides and the scale still apply on top (effectiveRule).
 */
export function accountRules(config: Pick<Config, 'rateLimitEmail' | 'rateLimitIp' | 'rateLimitWindowSeconds'>) {
  const windowSeconds = config.rateLimitWindowSeconds;
  return {
    loginFailuresPerEmail: { ...RULES.loginFailuresPerEmail, limit: config.rateLimitEmail, windowSeconds },
    loginFailuresPerIp: { ...RULES.loginFailuresPerIp, limit: config.rateLimitIp, windowSeconds },
    // A known device's failures (known-devices.ts): counted per browser instead of per email and IP.
    loginFailuresPerDevice: { name: 'login_failures_device', limit: config.rateLimitEmail, windowSeconds, hashSubject: true },
    registerPerEmail: { name: 'register_email', limit: config.rateLimitEmail, windowSeconds, hashSubject: true },
    registerPerIp: { name: 'register_ip', limit: config.rateLimitIp, windowSeconds },
    resetRequestPerEmail: { name: 'reset_request_email', limit: config.rateLimitEmail, windowSeconds, hashSubject: true },
    resetRequestPerIp: { name: 'reset_request_ip', limit: config.rateLimitIp, windowSeconds },
    verifyResendPerEmail: { name: 'verify_resend_email', limit: config.rateLimitEmail, windowSeconds, hashSubject: true },
    verifyResendPerIp: { name: 'verify_resend_ip', limit: config.rateLimitIp, windowSeconds },
  } satisfies Record<string, RateLimitRule>;
}

type LimitDeps = Pick<Deps, 'db' | 'clock' | 'config' | 'rateCounters'>;

/** The rule as configured: env overrides by name, then the global scale. */
export function effectiveRule(deps: Pick<Deps, 'config'>, rule: RateLimitRule): RateLimitRule {
  const o = deps.config.rateLimits?.[rule.name];
  const scale = deps.config.rateLimitScale;
  return { ...rule, limit: (o?.limit ?? rule.limit) * scale, windowSeconds: o?.windowSeconds ?? rule.windowSeconds };
}

function keyOf(rule: RateLimitRule, subject: string): string {
  return `${rule.name}:${rule.hashSubject ? sha256(subject.toLowerCase()) : subject}`;
}

function retryAfterSeconds(windowStart: Date, rule: RateLimitRule, now: Date): number {
  return Math.max(1, Math.ceil((windowStart.getTime() + rule.windowSeconds * 1000 - now.getTime()) / 1000));
}

/**
 * The count `subject` has used of `rule` in the current window (0 when none); counts nothing, never throws.
 * A read this process made up to maxAgeMs ago will do (a check on every token request); its own hits
 * and clears are never stale, other processes' may be up to maxAgeMs late.
 */
export async function peekRateLimit(
  deps: LimitDeps,
  configured: RateLimitRule,
  subject: string,
  opts: { maxAgeMs?: number } = {},
): Promise<{ count: number; retryAfter: number; limited: boolean }> {
  const rule = effectiveRule(deps, configured);
  const key = keyOf(rule, subject);
  const row = opts.maxAgeMs
    ? await deps.rateCounters.read(key, opts.maxAgeMs, () => store.readCounter(deps.db, key))
    : await store.readCounter(deps.db, key);
  const now = deps.clock.now();
  if (!row || row.window_start.getTime() + rule.windowSeconds * 1000 <= now.getTime()) return { count: 0, retryAfter: 0, limited: false };
  return { count: row.count, retryAfter: retryAfterSeconds(row.window_start, rule, now), limited: row.count >= rule.limit };
}

/**
 * Throws 429 if `subject` has already used up `rule` in the current window; counts nothing.
 * Returns the count in the current window (0 when none), so a caller can skip a needless clear.
 */
export async function checkRateLimit(
  deps: LimitDeps,
  configured: RateLimitRule,
  subject: string,
  opts: { maxAgeMs?: number } = {},
): Promise<number> {
  const { count, retryAfter, limited } = await peekRateLimit(deps, configured, subject, opts);
  if (limited) throw appError('rate_limited', { retryAfter });
  return count;
}

/** Counts one event; returns whether the limit is now reached (the next check will refuse). */
export async function hitRateLimit(
  deps: LimitDeps,
  configured: RateLimitRule,
  subject: string,
): Promise<{ count: number; limited: boolean }> {
  const rule = effectiveRule(deps, configured);
  const key = keyOf(rule, subject);
  deps.rateCounters.forget(key);
  const { count } = await store.incrementCounter(deps.db, key, deps.clock.now(), rule.windowSeconds);
  return { count, limited: count >= rule.limit };
}

/**
 * Counts one failure, exactly (never batched), and returns the 429 to answer instead of the failure
 * once the count goes past the limit (undefined while within it). For throttles on failures only.
 */
export async function countFailure(deps: LimitDeps, configured: RateLimitRule, subject: string): Promise<AppError | undefined> {
  const rule = effectiveRule(deps, configured);
  const key = keyOf(rule, subject);
  deps.rateCounters.forget(key);
  const now = deps.clock.now();
  const { count, windowStart } = await store.incrementCounter(deps.db, key, now, rule.windowSeconds);
  return count > rule.limit ? appError('rate_limited', { retryAfter: retryAfterSeconds(windowStart, rule, now) }) : undefined;
}

/** Counts one event and throws 429 when it goes past the limit (for limits on every attempt). */
export async function consumeRateLimit(deps: LimitDeps, configured: RateLimitRule, subject: string): Promise<void> {
  const rule = effectiveRule(deps, configured);
  const now = deps.clock.now();
  const key = keyOf(rule, subject);
  // Flood bounds with large limits count in batches (batched-counters.ts); small limits, exactly.
  const { count, windowStart } =
    rule.limit >= BATCH_MIN_LIMIT
      ? await deps.rateCounters.hit(key, rule.limit, rule.windowSeconds, now)
      : await store.incrementCounter(deps.db, key, now, rule.windowSeconds);
  if (count > rule.limit) throw appError('rate_limited', { retryAfter: retryAfterSeconds(windowStart, rule, now) });
}

export async function clearRateLimit(deps: Pick<Deps, 'db' | 'rateCounters'>, rule: RateLimitRule, subject: string): Promise<void> {
  const key = keyOf(rule, subject);
  deps.rateCounters.forget(key);
  await store.deleteCounter(deps.db, key);
}
