// Rate limits kept in Postgres (fixed windows), so they hold across processes and restarts.
// `checkRateLimit` reads without counting (used before expensive work such as argon2);
// `hitRateLimit` counts one event and throws 429 once the limit is passed.
import type { Config } from '../../config.js';
import type { Deps } from '../../deps.js';
import { rateLimited } from '../../errors.js';
import { sha256 } from '../../lib/crypto.js';
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
  clientCredentialsFailuresPerClient: { name: 'client_credentials_failures', limit: 10, windowSeconds: 900 },
} satisfies Record<string, RateLimitRule>;

/** The per-email / per-IP rules with the configured limits (KEYMASTER_RATE_LIMIT_*). */
export function accountRules(config: Pick<Config, 'rateLimitEmail' | 'rateLimitIp' | 'rateLimitWindowSeconds'>) {
  const windowSeconds = config.rateLimitWindowSeconds;
  return {
    loginFailuresPerEmail: { ...RULES.loginFailuresPerEmail, limit: config.rateLimitEmail, windowSeconds },
    loginFailuresPerIp: { ...RULES.loginFailuresPerIp, limit: config.rateLimitIp, windowSeconds },
    registerPerEmail: { name: 'register_email', limit: config.rateLimitEmail, windowSeconds, hashSubject: true },
    registerPerIp: { name: 'register_ip', limit: config.rateLimitIp, windowSeconds },
    resetRequestPerEmail: { name: 'reset_request_email', limit: config.rateLimitEmail, windowSeconds, hashSubject: true },
    resetRequestPerIp: { name: 'reset_request_ip', limit: config.rateLimitIp, windowSeconds },
  } satisfies Record<string, RateLimitRule>;
}

function keyOf(rule: RateLimitRule, subject: string): string {
  return `${rule.name}:${rule.hashSubject ? sha256(subject.toLowerCase()) : subject}`;
}

function retryAfterSeconds(windowStart: Date, rule: RateLimitRule, now: Date): number {
  return Math.max(1, Math.ceil((windowStart.getTime() + rule.windowSeconds * 1000 - now.getTime()) / 1000));
}

/**
 * Throws 429 if `subject` has already used up `rule` in the current window; counts nothing.
 * Returns the count in the current window (0 when none), so a caller can skip a needless clear.
 */
export async function checkRateLimit(deps: Pick<Deps, 'db' | 'clock'>, rule: RateLimitRule, subject: string): Promise<number> {
  const row = await store.readCounter(deps.db, keyOf(rule, subject));
  const now = deps.clock.now();
  if (!row || row.window_start.getTime() + rule.windowSeconds * 1000 <= now.getTime()) return 0;
  if (row.count >= rule.limit) throw rateLimited(retryAfterSeconds(row.window_start, rule, now));
  return row.count;
}

/** Counts one event; returns whether the limit is now reached (the next check will refuse). */
export async function hitRateLimit(deps: Pick<Deps, 'db' | 'clock'>, rule: RateLimitRule, subject: string): Promise<{ count: number; limited: boolean }> {
  const { count } = await store.incrementCounter(deps.db, keyOf(rule, subject), deps.clock.now(), rule.windowSeconds);
  return { count, limited: count >= rule.limit };
}

/** Counts one event and throws 429 when it goes past the limit (for limits on every attempt). */
export async function consumeRateLimit(deps: Pick<Deps, 'db' | 'clock'>, rule: RateLimitRule, subject: string): Promise<void> {
  const now = deps.clock.now();
  const { count, windowStart } = await store.incrementCounter(deps.db, keyOf(rule, subject), now, rule.windowSeconds);
  if (count > rule.limit) throw rateLimited(retryAfterSeconds(windowStart, rule, now));
}

export async function clearRateLimit(deps: Pick<Deps, 'db'>, rule: RateLimitRule, subject: string): Promise<void> {
  await store.deleteCounter(deps.db, keyOf(rule, subject));
}
