// The only reader of process.env: parses it once with zod into a frozen Config, listing every problem.
import { z } from 'zod';

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const issuerUrl = z
  .url({ protocol: /^https?$/ })
  .refine((u) => {
    const parsed = new URL(u);
    return !u.endsWith('/') && !parsed.search && !parsed.hash;
  }, 'must be an http(s) URL without a trailing slash, query or fragment');

const EnvSchema = z.object({
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  DATABASE_POOL_MAX: int(1, 200).default(10),
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
  // Multiplies every rate limit (benchmarks and load tests raise it; 1 = the documented limits).
  KEYMASTER_RATE_LIMIT_SCALE: int(1, 1_000_000).default(1),
});

/** KEYMASTER_RATE_LIMIT_<RULE>=<limit>[/<windowSeconds>], e.g. KEYMASTER_RATE_LIMIT_LOGIN_FAILURES_EMAIL=5/900. */
const RATE_LIMIT_ENV = /^KEYMASTER_RATE_LIMIT_([A-Z0-9_]+)$/;
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
  /** Every rate-limit rule's limit is multiplied by this. */
  readonly rateLimitScale: number;
  /** Per-rule overrides keyed by rule name ("login_failures_email"), from KEYMASTER_RATE_LIMIT_<RULE>. */
  readonly rateLimits: Readonly<Record<string, RateLimitOverrideValue>>;
  /** Cookies get `Secure` (and the `__Host-` prefix) when the issuer is https. */
  readonly secureCookies: boolean;
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
    if (!m || key === 'KEYMASTER_RATE_LIMIT_SCALE') continue;
    const o = RateLimitOverride.safeParse(value);
    if (o.success) rateLimits[m[1]!.toLowerCase()] = o.data;
    else problems.push(`${key}: ${o.error.issues[0]?.message}`);
  }
  if (!parsed.success || problems.length) throw new ConfigError(problems);
  const e = parsed.data;
  if (e.DATABASE_URL && !e.KEYMASTER_SECRET) {
    throw new ConfigError(['KEYMASTER_SECRET: required when DATABASE_URL is set (it encrypts the signing keys)']);
  }
  const issuer = e.KEYMASTER_ISSUER ?? `http://localhost:${e.PORT}`;
  return Object.freeze({
    databaseUrl: e.DATABASE_URL,
    databasePoolMax: e.DATABASE_POOL_MAX,
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
    rateLimitScale: e.KEYMASTER_RATE_LIMIT_SCALE,
    rateLimits: Object.freeze(rateLimits),
    secureCookies: issuer.startsWith('https://'),
  });
}
