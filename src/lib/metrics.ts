// Prometheus metrics: one prom-client Registry per Deps (no module-level live state), so tests and
// cluster workers each have their own. The domain increments the counters without knowing Fastify;
// the HTTP plugin records requests and latency per route pattern.
import client from 'prom-client';

export interface Metrics {
  readonly registry: client.Registry;
  readonly httpRequests: client.Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: client.Histogram<'method' | 'route'>;
  /** kind: access (user access token), service (client credentials), refresh, id */
  readonly tokensIssued: client.Counter<'kind'>;
  readonly refreshReplays: client.Counter;
  readonly signInFailures: client.Counter<'reason'>;
  readonly lockouts: client.Counter;
}

export interface MetricsOptions {
  /** Sampled at scrape time (database pool use). */
  poolStats?: () => { total: number; idle: number; waiting: number; max: number } | undefined;
  /** Constant labels on every series, e.g. { worker: '2' } under node:cluster. */
  defaultLabels?: Record<string, string>;
  /** Process metrics (CPU, RSS, event-loop lag, GC): on for the server, off for tests and the CLI. */
  processMetrics?: boolean;
}

export function createMetrics(opts: MetricsOptions = {}): Metrics {
  const registry = new client.Registry();
  if (opts.defaultLabels) registry.setDefaultLabels(opts.defaultLabels);
  if (opts.processMetrics) client.collectDefaultMetrics({ register: registry, prefix: 'keymaster_' });
  const registers = [registry];
  const m: Metrics = {
    registry,
    httpRequests: new client.Counter({
      name: 'keymaster_http_requests_total',
      help: 'HTTP requests by method, route pattern and status code',
      labelNames: ['method', 'route', 'status'],
      registers,
    }),
    httpDuration: new client.Histogram({
      name: 'keymaster_http_request_duration_seconds',
      help: 'HTTP request latency by method and route pattern',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    tokensIssued: new client.Counter({
      name: 'keymaster_tokens_issued_total',
      help: 'Tokens issued, by kind (access, service, refresh, id; service_reused: a recent service token handed out again)',
      labelNames: ['kind'],
      registers,
    }),
    refreshReplays: new client.Counter({
      name: 'keymaster_refresh_token_replays_total',
      help: 'Rotated refresh tokens presented again (each revoked its family)',
      registers,
    }),
    signInFailures: new client.Counter({
      name: 'keymaster_sign_in_failures_total',
      help: 'Failed password sign-ins, by reason',
      labelNames: ['reason'],
      registers,
    }),
    lockouts: new client.Counter({
      name: 'keymaster_lockouts_total',
      help: 'Accounts locked after repeated failed sign-ins',
      registers,
    }),
  };
  const poolStats = opts.poolStats;
  if (poolStats) {
    new client.Gauge({
      name: 'keymaster_db_pool_connections',
      help: 'Database pool connections by state (total, idle, waiting requests, max)',
      labelNames: ['state'],
      registers,
      collect() {
        const s = poolStats();
        if (!s) return;
        this.set({ state: 'total' }, s.total);
        this.set({ state: 'idle' }, s.idle);
        this.set({ state: 'waiting' }, s.waiting);
        this.set({ state: 'max' }, s.max);
      },
    });
  }
  return m;
}

/** Audit events that are also counters: one place, so every caller of recordAuditEvent is counted. */
export function countAuditEvent(metrics: Metrics, event: string, data: Record<string, unknown> | undefined): void {
  switch (event) {
    case 'refresh_token.replay':
      metrics.refreshReplays.inc();
      break;
    case 'login.failure':
      metrics.signInFailures.inc({ reason: typeof data?.reason === 'string' ? data.reason : 'other' });
      break;
    case 'login.locked':
      metrics.signInFailures.inc({ reason: 'locked' });
      break;
    case 'user.locked':
      metrics.lockouts.inc();
      break;
  }
}
