// The only reader of process.env: parses it once with zod into a frozen Config, listing every problem.
import { z } from 'zod';
import { isLoopbackHost, parseCidr } from './lib/address-policy.js';
import { DEFAULT_TIMEOUTS, type PostgresTimeouts } from './storage/postgres.js';

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const issuerUrl = z.url({ protocol: /^https?$/ }).refine((u) => {
  const parsed = new URL(u);
  return !u.endsWith('/') && !parsed.search && !parsed.hash;
}, 'must be an http(s) URL without a trailing slash, query or fragment');

const EnvSchema = z.object({
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  DATABASE_POOL_MAX: int(1, 200).default(10),
  DATABASE_PREPARED_STATEMENTS: bool.default(true),
  DATABASE_CONNECT_TIMEOUT_MS: int(100, 600_000).default(DEFAULT_TIMEOUTS.connectMs),
  DATABASE_POOL_TIMEOUT_MS: int(10, 600_000).default(DEFAULT_TIMEOUTS.acquireMs),
  DATABASE_STATEMENT_TIMEOUT_MS: int(0, 86_400_000).default(DEFAULT_TIMEOUTS.statementMs),
  DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: int(0, 86_400_000).default(DEFAULT_TIMEOUTS.idleInTransactionMs),
  DATABASE_SESSION_TIMEOUTS: bool.default(true),
  KEYMASTER_DATA_DIR: z.string().min(1).default('./data'),
  PORT: int(0, 65535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  KEYMASTER_ISSUER: issuerUrl.optional(),
  KEYMASTER_SECRET: z.string().min(32, 'must be at least 32 characters (e.g. `openssl rand -hex 32`)').optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  KEYMASTER_ACCESS_TOKEN_TTL: int(60, 86_400).default(900),
  KEYMASTER_REFRESH_TOKEN_TTL_DAYS: int(1, 365).default(30),
  KEYMASTER_SSO_SESSION_TTL_HOURS: int(1, 720).default(8),
  KEYMASTER_LOCKOUT_THRESHOLD: int(1, 1000).default(10),
  KEYMASTER_LOCKOUT_MINUTES: int(1, 10_080).default(60),
  KEYMASTER_TRUST_PROXY: bool.default(false),
  KEYMASTER_BODY_LIMIT: int(1024, 10 * 1024 * 1024).default(64 * 1024),
  KEYMASTER_WORKERS: int(1, 64).default(1),
  KEYMASTER_SHUTDOWN_TIMEOUT_MS: int(100, 600_000).default(10_000),
  KEYMASTER_REQUEST_LOG: bool.default(true),
  KEYMASTER_METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  // The management listener (GET /metrics, /healthz, /readyz), as Keycloak's management interface.
  KEYMASTER_MANAGEMENT_ENABLED: bool.default(true),
  KEYMASTER_MANAGEMENT_HOST: z.string().min(1).default('127.0.0.1'),
  KEYMASTER_MANAGEMENT_PORT: int(1, 65535).default(9000),
  KEYMASTER_GOOGLE_ISSUER: z
    .url({ protocol: /^https?$/ })
    .max(500)
    .default('https://accounts.google.com'),
  KEYMASTER_GOOGLE_CLIENT_ID: z.string().max(500).optional(),
  KEYMASTER_GOOGLE_CLIENT_SECRET: z.string().max(500).optional(),
  // private_key_jwt client authentication (RFC 7523) and Pushed Authorization Requests (RFC 9126).
  KEYMASTER_PRIVATE_KEY_JWT: bool.default(true),
  KEYMASTER_PAR: bool.default(true),
  KEYMASTER_WEBHOOK_WORKER: bool.default(true),
  KEYMASTER_WEBHOOK_POLL_MS: int(100, 3_600_000).default(2000),
  KEYMASTER_WEBHOOK_MAX_ATTEMPTS: int(1, 50).default(8),
  KEYMASTER_WEBHOOK_TIMEOUT_MS: int(100, 120_000).default(10_000),
  // Development only: CIDRs a webhook may reach although private/loopback (e.g. 127.0.0.0/8,::1/128).
  KEYMASTER_WEBHOOK_ALLOWED_CIDRS: z
    .string()
    .max(2000)
    .transform((v) =>
      v
        .split(',')
        .map((c) => c.trim())
        .filter(Boolean),
    )
    .refine((list) => list.every((c) => parseCidr(c) !== undefined), 'must be a comma-separated list of CIDRs, e.g. 127.0.0.0/8,::1/128')
    .default([]),
  KEYMASTER_KEY_ROTATION_DAYS: int(0, 3650).default(90),
  KEYMASTER_KEY_POLL_SECONDS: int(1, 3600).default(5),
  KEYMASTER_REFRESH_REUSE_INTERVAL: int(0, 300).default(10),
  KEYMASTER_REFRESH_RETRY_WINDOW: int(0, 30 * 86_400).default(3600),
  KEYMASTER_SERVICE_TOKEN_REUSE: int(0, 300).default(30),
  // RFC 8628: /device_authorization, the device_code grant at /token and the /device page.
  KEYMASTER_DEVICE_GRANT: bool.default(true),
  KEYMASTER_PRUNE_INTERVAL_SECONDS: int(0, 86_400).default(600),
  KEYMASTER_PRUNE_BATCH_SIZE: int(10, 100_000).default(1000),
  KEYMASTER_PRUNE_RETENTION_DAYS: int(0, 365).default(7),
  // Per-email and per-IP limits (KEYMASTER-API.md: 5 and 20 per 15 min) for sign-in failures,
  // registrations and reset requests.
  KEYMASTER_RATE_LIMIT_EMAIL: int(1, 100_000).default(5),
  KEYMASTER_RATE_LIMIT_IP: int(1, 1_000_000).default(20),
  KEYMASTER_RATE_LIMIT_WINDOW_SECONDS: int(1, 86_400).default(900),
  // Account API and email (seed 004).
  SMTP_URL: z.url({ protocol: /^smtps?$/ }).optional(),
  KEYMASTER_MAIL_FROM: z.string().min(3).max(300).default('Keymaster <no-reply@localhost>'),
  KEYMASTER_DEFAULT_APP_ID: z.uuid().optional(),
  KEYMASTER_PASSWORD_MIN_LENGTH: int(1, 1024).default(8),
  KEYMASTER_PASSWORD_MAX_LENGTH: int(8, 1024).default(128),
  KEYMASTER_PASSWORD_REQUIRE_CLASSES: bool.default(true),
  KEYMASTER_VERIFY_TOKEN_TTL_HOURS: int(1, 720).default(24),
  KEYMASTER_RESET_TOKEN_TTL_MINUTES: int(5, 1440).default(60),
  // Multiplies every rate limit (benchmarks and load tests raise it; 1 = the documented limits).
  KEYMASTER_RATE_LIMIT_SCALE: int(1, 1_000_000).default(1),
});

/** An upstream OpenID provider Keymaster signs users in through (discovered from `issuer`). */
export interface UpstreamConfig {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** True only for http issuers on a loopback host (tests, local development). */
  readonly allowHttp: boolean;
}

function upstreamConfig(
  name: string,
  issuer: string,
  clientId: string | undefined,
  clientSecret: string | undefined,
  problems: string[],
): UpstreamConfig | undefined {
  if (!clientId && !clientSecret) return undefined;
  if (!clientId) problems.push(`KEYMASTER_${name}_CLIENT_ID: required when KEYMASTER_${name}_CLIENT_SECRET is set`);
  if (!clientSecret) problems.push(`KEYMASTER_${name}_CLIENT_SECRET: required when KEYMASTER_${name}_CLIENT_ID is set`);
  const url = new URL(issuer);
  const allowHttp = url.protocol === 'http:';
  if (allowHttp && !isLoopbackHost(url.hostname)) {
    problems.push(`KEYMASTER_${name}_ISSUER: must be https (http is allowed only for loopback hosts)`);
  }
  if (url.search || url.hash) problems.push(`KEYMASTER_${name}_ISSUER: must not have a query or fragment`);
  if (!clientId || !clientSecret) return undefined;
  return Object.freeze({ issuer, clientId, clientSecret, allowHttp });
}

/** KEYMASTER_RATE_LIMIT_<RULE>=<limit>[/<windowSeconds>], e.g. KEYMASTER_RATE_LIMIT_LOGIN_FAILURES_EMAIL=5/900. */
const RATE_LIMIT_ENV = /^KEYMASTER_RATE_LIMIT_([A-Z0-9_]+)$/;
const ACCOUNT_RATE_VARS = new Set([
  'KEYMASTER_RATE_LIMIT_SCALE',
  'KEYMASTER_RATE_LIMIT_EMAIL',
  'KEYMASTER_RATE_LIMIT_IP',
  'KEYMASTER_RATE_LIMIT_WINDOW_SECONDS',
]);
const RateLimitOverride = z
  .string()
  .regex(/^\d{1,9}(\/\d{1,9})?$/, 'must be <limit> or <limit>/<windowSeconds>, e.g. 20/900')
  .transform((v) => {
    const [limit, window] = v.split('/');
    return { limit: Number(limit), ...(window !== undefined && { windowSeconds: Number(window) }) };
  })
  .refine((o) => o.limit >= 1 && (o.windowSeconds === undefined || o.windowSeconds >= 1), 'limit and window must be at least 1');

export interface RateLimitOverrideValue {
  readonly limit: number;
  readonly windowSeconds?: number;
}

export interface Config {
  readonly databaseUrl: string | undefined;
  readonly databasePoolMax: number;
  /** The hot static statements run as named prepared statements (off for PgBouncer in transaction mode). */
  readonly databasePreparedStatements: boolean;
  /** Connect, pool acquisition, statement and idle-in-transaction timeouts (ms; 0 = none for the last two). */
  readonly databaseTimeouts: PostgresTimeouts;
  /** Send statement_timeout and idle_in_transaction_session_timeout when connecting (off behind PgBouncer). */
  readonly databaseSessionSettings: boolean;
  readonly dataDir: string;
  readonly port: number;
  readonly host: string;
  readonly issuer: string;
  /** Undefined only in embedded mode, where createDeps generates one and keeps it in the data dir. */
  readonly secret: string | undefined;
  readonly logLevel: string;
  readonly accessTokenTtl: number;
  readonly refreshTokenTtlDays: number;
  readonly ssoSessionTtlHours: number;
  readonly lockoutThreshold: number;
  readonly lockoutMinutes: number;
  readonly trustProxy: boolean;
  readonly bodyLimit: number;
  /** Clients may authenticate with private_key_jwt (RFC 7523 §2.2); advertised in discovery only when on. */
  readonly privateKeyJwt: boolean;
  /** POST /par (RFC 9126) and request_uri at /authorize; advertised in discovery only when on. */
  readonly par: boolean;
  /** The webhook delivery worker runs in this server process (any number of processes may run it). */
  readonly webhookWorker: boolean;
  readonly webhookPollMs: number;
  readonly webhookMaxAttempts: number;
  readonly webhookTimeoutMs: number;
  /** Ranges a webhook may reach although private, loopback or link-local (development); empty = none. */
  readonly webhookAllowedCidrs: readonly string[];
  /** Days a key signs before a successor is scheduled; 0 = rotate only by `keymaster keys rotate`. */
  readonly keyRotationDays: number;
  /** How often each process checks the signing_keys table for changes (seconds). */
  readonly keyPollSeconds: number;
  /** Default refresh reuse interval in seconds (apps may override); 0 = strict rotation. */
  readonly refreshReuseInterval: number;
  /**
   * Seconds after a rotation within which the parent presented again still gets its successor while
   * that successor was never used (a retry whose answer was lost); at least the reuse interval, never
   * for an app with reuse interval 0, never past the successor's expiry. 0 = the reuse interval only.
   */
  readonly refreshRetryWindow: number;
  /** Seconds within which a client-credentials request gets the service token this process last issued for the same client and scopes; 0 = always a new one. */
  readonly serviceTokenReuse: number;
  /** The Device Authorization Grant (RFC 8628): its endpoints exist and discovery names them only when true. */
  readonly deviceGrant: boolean;
  /** How often housekeeping runs in each process (seconds); 0 = never (run `keymaster prune`). */
  readonly pruneIntervalSeconds: number;
  readonly pruneBatchSize: number;
  /** Expired or revoked rows are kept this many days (audit and support) before they are deleted. */
  readonly pruneRetentionDays: number;
  readonly rateLimitEmail: number;
  readonly rateLimitIp: number;
  readonly rateLimitWindowSeconds: number;
  /** Unset: messages are kept in the outbox table and logged (development). */
  readonly smtpUrl: string | undefined;
  readonly mailFrom: string;
  /** The app the account API signs in to when a request names none. */
  readonly defaultAppId: string | undefined;
  readonly passwordPolicy: { readonly minLength: number; readonly maxLength: number; readonly requireClasses: boolean };
  readonly verifyTokenTtlHours: number;
  readonly resetTokenTtlMinutes: number;
  /** Server processes (node:cluster) sharing one Postgres; 1 = no cluster. Embedded PGlite allows only 1. */
  readonly workers: number;
  /** On SIGTERM, in-flight requests get this long to finish before the process exits non-zero. */
  readonly shutdownTimeoutMs: number;
  /** One info line per request (Fastify's request logging). Costs throughput on the hot paths (docs/PERFORMANCE.md). */
  readonly requestLog: boolean;
  /** When set, the public port also serves GET /metrics, to `Authorization: Bearer <token>` only; unset, it answers 404. */
  readonly metricsToken: string | undefined;
  /** Where the management listener (/metrics, /healthz, /readyz) listens; undefined = none (KEYMASTER_MANAGEMENT_ENABLED=false). */
  readonly management: { readonly host: string; readonly port: number } | undefined;
  /** Every rate-limit rule's limit is multiplied by this. */
  readonly rateLimitScale: number;
  /** Per-rule overrides keyed by rule name ("login_failures_email"), from KEYMASTER_RATE_LIMIT_<RULE>. */
  readonly rateLimits: Readonly<Record<string, RateLimitOverrideValue>>;
  /** Cookies get `Secure` (and the `__Host-` prefix) when the issuer is https. */
  readonly secureCookies: boolean;
  /** "Continue with Google": set when both KEYMASTER_GOOGLE_CLIENT_ID and _SECRET are. */
  readonly google: UpstreamConfig | undefined;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Empty strings mean "unset": docker-compose and .env files often pass VAR= for optional values.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(cleaned);
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  const rateLimits: Record<string, RateLimitOverrideValue> = {};
  for (const [key, value] of Object.entries(cleaned)) {
    const m = RATE_LIMIT_ENV.exec(key);
    // SCALE and the account API's EMAIL / IP / WINDOW_SECONDS have their own schema entries.
    if (!m || ACCOUNT_RATE_VARS.has(key)) continue;
    const o = RateLimitOverride.safeParse(value);
    if (o.success) rateLimits[m[1]!.toLowerCase()] = o.data;
    else problems.push(`${key}: ${o.error.issues[0]?.message}`);
  }
  if (!parsed.success || problems.length) throw new ConfigError(problems);
  const e = parsed.data;
  // Rules across variables: every problem is listed at once.
  if (e.DATABASE_URL && !e.KEYMASTER_SECRET) {
    problems.push('KEYMASTER_SECRET: required when DATABASE_URL is set (it encrypts the signing keys)');
  }
  const google = upstreamConfig(
    'GOOGLE',
    e.KEYMASTER_GOOGLE_ISSUER,
    e.KEYMASTER_GOOGLE_CLIENT_ID,
    e.KEYMASTER_GOOGLE_CLIENT_SECRET,
    problems,
  );
  if (e.KEYMASTER_PASSWORD_MIN_LENGTH > e.KEYMASTER_PASSWORD_MAX_LENGTH) {
    problems.push('KEYMASTER_PASSWORD_MIN_LENGTH: must not exceed KEYMASTER_PASSWORD_MAX_LENGTH');
  }
  if (e.KEYMASTER_WORKERS > 1 && !e.DATABASE_URL) {
    problems.push('KEYMASTER_WORKERS: embedded PGlite is single-process; set DATABASE_URL to a Postgres server to run more than 1 worker');
  }
  if (e.KEYMASTER_MANAGEMENT_ENABLED && e.KEYMASTER_MANAGEMENT_PORT === e.PORT) {
    problems.push('KEYMASTER_MANAGEMENT_PORT: must differ from PORT (or set KEYMASTER_MANAGEMENT_ENABLED=false)');
  }
  if (problems.length) throw new ConfigError(problems);
  const issuer = e.KEYMASTER_ISSUER ?? `http://localhost:${e.PORT}`;
  return Object.freeze({
    databaseUrl: e.DATABASE_URL,
    databasePoolMax: e.DATABASE_POOL_MAX,
    databasePreparedStatements: e.DATABASE_PREPARED_STATEMENTS,
    databaseTimeouts: Object.freeze({
      connectMs: e.DATABASE_CONNECT_TIMEOUT_MS,
      acquireMs: e.DATABASE_POOL_TIMEOUT_MS,
      statementMs: e.DATABASE_STATEMENT_TIMEOUT_MS,
      idleInTransactionMs: e.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    }),
    databaseSessionSettings: e.DATABASE_SESSION_TIMEOUTS,
    dataDir: e.KEYMASTER_DATA_DIR,
    port: e.PORT,
    host: e.HOST,
    issuer,
    secret: e.KEYMASTER_SECRET,
    logLevel: e.LOG_LEVEL,
    accessTokenTtl: e.KEYMASTER_ACCESS_TOKEN_TTL,
    refreshTokenTtlDays: e.KEYMASTER_REFRESH_TOKEN_TTL_DAYS,
    ssoSessionTtlHours: e.KEYMASTER_SSO_SESSION_TTL_HOURS,
    lockoutThreshold: e.KEYMASTER_LOCKOUT_THRESHOLD,
    lockoutMinutes: e.KEYMASTER_LOCKOUT_MINUTES,
    trustProxy: e.KEYMASTER_TRUST_PROXY,
    bodyLimit: e.KEYMASTER_BODY_LIMIT,
    privateKeyJwt: e.KEYMASTER_PRIVATE_KEY_JWT,
    par: e.KEYMASTER_PAR,
    webhookWorker: e.KEYMASTER_WEBHOOK_WORKER,
    webhookPollMs: e.KEYMASTER_WEBHOOK_POLL_MS,
    webhookMaxAttempts: e.KEYMASTER_WEBHOOK_MAX_ATTEMPTS,
    webhookTimeoutMs: e.KEYMASTER_WEBHOOK_TIMEOUT_MS,
    webhookAllowedCidrs: Object.freeze(e.KEYMASTER_WEBHOOK_ALLOWED_CIDRS),
    keyRotationDays: e.KEYMASTER_KEY_ROTATION_DAYS,
    keyPollSeconds: e.KEYMASTER_KEY_POLL_SECONDS,
    refreshReuseInterval: e.KEYMASTER_REFRESH_REUSE_INTERVAL,
    refreshRetryWindow: e.KEYMASTER_REFRESH_RETRY_WINDOW,
    serviceTokenReuse: e.KEYMASTER_SERVICE_TOKEN_REUSE,
    deviceGrant: e.KEYMASTER_DEVICE_GRANT,
    pruneIntervalSeconds: e.KEYMASTER_PRUNE_INTERVAL_SECONDS,
    pruneBatchSize: e.KEYMASTER_PRUNE_BATCH_SIZE,
    pruneRetentionDays: e.KEYMASTER_PRUNE_RETENTION_DAYS,
    rateLimitEmail: e.KEYMASTER_RATE_LIMIT_EMAIL,
    rateLimitIp: e.KEYMASTER_RATE_LIMIT_IP,
    rateLimitWindowSeconds: e.KEYMASTER_RATE_LIMIT_WINDOW_SECONDS,
    smtpUrl: e.SMTP_URL,
    mailFrom: e.KEYMASTER_MAIL_FROM,
    defaultAppId: e.KEYMASTER_DEFAULT_APP_ID,
    passwordPolicy: Object.freeze({
      minLength: e.KEYMASTER_PASSWORD_MIN_LENGTH,
      maxLength: e.KEYMASTER_PASSWORD_MAX_LENGTH,
      requireClasses: e.KEYMASTER_PASSWORD_REQUIRE_CLASSES,
    }),
    verifyTokenTtlHours: e.KEYMASTER_VERIFY_TOKEN_TTL_HOURS,
    resetTokenTtlMinutes: e.KEYMASTER_RESET_TOKEN_TTL_MINUTES,
    workers: e.KEYMASTER_WORKERS,
    shutdownTimeoutMs: e.KEYMASTER_SHUTDOWN_TIMEOUT_MS,
    requestLog: e.KEYMASTER_REQUEST_LOG,
    metricsToken: e.KEYMASTER_METRICS_TOKEN,
    management: e.KEYMASTER_MANAGEMENT_ENABLED
      ? Object.freeze({ host: e.KEYMASTER_MANAGEMENT_HOST, port: e.KEYMASTER_MANAGEMENT_PORT })
      : undefined,
    rateLimitScale: e.KEYMASTER_RATE_LIMIT_SCALE,
    rateLimits: Object.freeze(rateLimits),
    secureCookies: issuer.startsWith('https://'),
    google,
  });
}
