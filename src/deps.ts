// createDeps(config): the one place that wires config, database, clock, key ring and logger.
// The server, the CLI and the tests all build their dependencies here.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import type { Config } from './config.js';
import { createMailer, type Mailer } from './domain/email/mailer.js';
import { ensureActiveKey, KeyRing } from './domain/keys/keys.js';
import { AppCache } from './domain/apps/app-cache.js';
import { ClientKeySets } from './domain/apps/client-key-sets.js';
import { LivenessCache } from './domain/tokens/liveness-cache.js';
import { BatchedCounters } from './domain/rate-limits/batched-counters.js';
import { RotationBatcher } from './domain/tokens/rotation-batcher.js';
import { UpstreamProviders } from './domain/upstream/upstream-providers.js';
import { BackgroundTasks } from './lib/background.js';
import { createAddressPolicy } from './lib/address-policy.js';
import { systemClock, type Clock } from './lib/clock.js';
import { randomToken } from './lib/crypto.js';
import { createMetrics, type Metrics } from './lib/metrics.js';
import { redactUrl } from './lib/redact-url.js';
import { openDatabase, type Db, type DbHandle } from './storage/db.js';
import { migrate } from './storage/migrate.js';
import type { DatabaseProbe } from './storage/postgres.js';

export interface Deps {
  config: Config;
  db: Db;
  clock: Clock;
  keys: KeyRing;
  log: Logger;
  /** Prometheus counters and histograms (GET /metrics); one registry per Deps. */
  metrics: Metrics;
  /** Upstream OpenID providers (Google): discovered lazily, cached in this process. */
  upstream: UpstreamProviders;
  /** App settings for the token hot paths, kept ≤ 1 s (see domain/apps/app-cache.ts); never client secrets. */
  apps: AppCache;
  /** private_key_jwt clients' key sets (inline or fetched from jwks_uri), see domain/apps/client-key-sets.ts. */
  clientKeys: ClientKeySets;
  /** Each user's access-token liveness, kept ≤ 1 s (see domain/tokens/liveness-cache.ts). */
  liveness: LivenessCache;
  /** Rate-limit counters of the high-volume rules, added to Postgres in batches (domain/rate-limits/batched-counters.ts). */
  rateCounters: BatchedCounters;
  /** Refresh rotations of one event-loop turn, sent to Postgres as one statement (domain/tokens/rotation-batcher.ts). */
  rotations: RotationBatcher;
  /** SMTP (SMTP_URL) or log-only email delivery; see domain/email. */
  mailer: Mailer;
  /** `select 1` within timeoutMs, or why not: unreachable, slow, saturated (GET /readyz). */
  probeDatabase(timeoutMs: number): Promise<DatabaseProbe>;
  /** Work started by a request and done after its reply (lib/background.ts); close() waits for it. */
  background: BackgroundTasks;
  /** KEYMASTER_SECRET, or the one generated and kept in the data dir in embedded mode. */
  secret: string;
  close(): Promise<void>;
}

/** Field names that hold a secret wherever they appear in a log object. */
const SECRET_FIELDS = [
  'password',
  'new_password',
  'current_password',
  'client_secret',
  'refresh_token',
  'access_token',
  'id_token',
  'code_verifier',
  'token',
  'secret',
  'authz',
  'id_token_hint',
  'client_assertion',
  // TOTP (domain/totp): the pending sign-in, the enrolment URL (it holds the secret) and recovery codes.
  'totp_session',
  'otpauth_url',
  'recovery_code',
  'recovery_codes',
  // RFC 8628: the device's secret, the user's code, and the sealed request the /device pages carry.
  'device_code',
  'user_code',
  'request',
];

/**
 * `code` is a secret only where a request carries an OAuth authorization code (a token request's
 * body, a callback's query); everywhere else it is an error code (OAuth's `invalid_grant`, an errno,
 * a SQLSTATE, a worker's exit code) that must stay readable. So it is redacted by path.
 */
const SECRET_CODE_PATHS = ['body.code', 'query.code', 'params.code', 'req.body.code', 'req.query.code', '*.body.code', '*.query.code'];

/**
 * Every path at which a secret could appear in a log line; pino replaces them with [Redacted]. Each
 * secret field at the top level of a log object and one level down (pino's `*.x` matches only the
 * latter), and the authorization-code paths.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  ...SECRET_FIELDS.flatMap((f) => [f, `*.${f}`]),
  ...SECRET_CODE_PATHS,
];

export function createLogger(config: Pick<Config, 'logLevel'>, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level: config.logLevel,
      redact: { paths: REDACT_PATHS, censor: '[Redacted]' },
      serializers: {
        // Query strings can carry codes, tokens and hints: log URLs with those values redacted.
        req: (req: { method: string; url: string; ip?: string }) => ({
          method: req.method,
          url: redactUrl(req.url),
          remoteAddress: req.ip,
        }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
        err: pino.stdSerializers.err,
      },
    },
    destination,
  );
}

export interface CreateDepsOptions {
  role?: 'server' | 'cli';
  clock?: Clock;
  log?: Logger;
  /** Use this database handle instead of opening one from config (tests). */
  database?: DbHandle;
  /** Apply pending migrations before anything else (the server does; `keymaster migrate` does). */
  migrate?: boolean;
  /** Constant labels on every metric (the cluster worker id) and process metrics (server only). */
  metrics?: { defaultLabels?: Record<string, string>; processMetrics?: boolean };
}

export async function createDeps(config: Config, opts: CreateDepsOptions = {}): Promise<Deps> {
  const log = opts.log ?? createLogger(config);
  const handle = opts.database ?? (await openDatabase(config, opts.role ?? 'server', log));
  try {
    const secret = config.secret ?? embeddedSecret(config.dataDir);
    if (opts.migrate ?? true) {
      const applied = await migrate(handle.db);
      if (applied.length) log.info({ event: 'db.migrated', applied }, 'applied migrations');
    }
    const clock = opts.clock ?? systemClock;
    await ensureActiveKey({ db: handle.db, clock, secret });
    const keys = new KeyRing({ db: handle.db, clock, secret });
    await keys.reload();
    const upstream = new UpstreamProviders(config);
    const mailer = createMailer(config);
    const metrics = createMetrics({ ...opts.metrics, poolStats: () => handle.poolStats?.() });
    const rateCounters = new BatchedCounters(handle.db, clock, log);
    const background = new BackgroundTasks(log);
    const close = async () => {
      // Background work still writes (tokens, outbox, counters): before everything it uses closes.
      await background.idle();
      await rateCounters.close().catch((err: unknown) => log.warn({ err }, 'rate-limit counters not flushed at close'));
      await mailer.close();
      await handle.close();
    };
    return {
      config,
      db: handle.db,
      clock,
      keys,
      log,
      metrics,
      upstream,
      mailer,
      background,
      secret,
      probeDatabase: (timeoutMs) => handle.probe(timeoutMs),
      close,
      apps: new AppCache(),
      clientKeys: new ClientKeySets(createAddressPolicy(config.webhookAllowedCidrs)),
      liveness: new LivenessCache(),
      rateCounters,
      rotations: new RotationBatcher(handle.db),
    };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/** Embedded mode only: a secret generated on first start and kept (0600) beside the database. */
function embeddedSecret(dataDir: string): string {
  const file = join(dataDir, 'secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const secret = randomToken(32);
  writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  return secret;
}
