// Prometheus metrics: one prom-client Registry per Deps (no module-level live state), so tests and
// cluster workers each have their own. The domain increments the counters without knowing Fastify;
// the HTTP plugin records requests and latency per route pattern.
import client from 'prom-client';

/** Latency buckets of keymaster_http_request_duration_seconds (upper bounds, seconds). */
export const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] as const;

/** What the HTTP layer records for one (method, route pattern): a response's status and latency. */
export interface HttpRouteSeries {
  record(status: number, seconds: number): void;
}

/**
 * One (method, route)'s requests by status and its latency histogram, as plain numbers. prom-client
 * hashes the label object on every inc and observe, even through a labelled child, a visible share of
 * a JWKS request (docs/PERFORMANCE.md). Here a request adds to a Map and an array; the registry reads
 * them at scrape time.
 */
class HttpSeries implements HttpRouteSeries {
  readonly statuses = new Map<number, number>();
  /** Per bucket, not cumulative; the last slot is above the largest bound (+Inf). */
  readonly buckets = new Float64Array(HTTP_BUCKETS.length + 1);
  sum = 0;
  count = 0;
  constructor(
    readonly method: string,
    readonly route: string,
  ) {}

  record(status: number, seconds: number): void {
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
    let i = 0;
    while (i < HTTP_BUCKETS.length && seconds > HTTP_BUCKETS[i]!) i++;
    this.buckets[i]!++;
    this.sum += seconds;
    this.count++;
  }
}

export interface Metrics {
  readonly registry: client.Registry;
  /** The series of one (method, route pattern), made on first use and kept (routes are finite). */
  httpRoute(method: string, route: string): HttpRouteSeries;
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
  const http = new Map<string, HttpSeries>();
  new client.Counter({
    name: 'keymaster_http_requests_total',
    help: 'HTTP requests by method, route pattern and status code',
    labelNames: ['method', 'route', 'status'],
    registers,
    // Set from the series at scrape time (the totals only ever grow, so reset + inc is a set).
    collect() {
      this.reset();
      for (const s of http.values())
        for (const [status, n] of s.statuses) this.inc({ method: s.method, route: s.route, status: String(status) }, n);
    },
  });
  registry.registerMetric(httpDurationMetric(http) as unknown as client.Metric);
  const m: Metrics = {
    registry,
    httpRoute(method, route) {
      const key = `${method} ${route}`;
      let s = http.get(key);
      if (!s) http.set(key, (s = new HttpSeries(method, route)));
      return s;
    },
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

/**
 * keymaster_http_request_duration_seconds for the registry, from the series: the registry asks any
 * metric for get() (name, help, type and values, each value a sample line) and formats it, default
 * labels included.
 */
function httpDurationMetric(http: Map<string, HttpSeries>) {
  const name = 'keymaster_http_request_duration_seconds';
  return {
    name,
    help: 'HTTP request latency by method and route pattern',
    type: 'histogram' as const,
    aggregator: 'sum' as const,
    async get() {
      const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
      for (const s of http.values()) {
        const labels = { method: s.method, route: s.route };
        let cumulative = 0;
        HTTP_BUCKETS.forEach((le, i) => {
          cumulative += s.buckets[i]!;
          values.push({ metricName: `${name}_bucket`, labels: { ...labels, le }, value: cumulative });
        });
        values.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: s.count });
        values.push({ metricName: `${name}_sum`, labels, value: s.sum });
        values.push({ metricName: `${name}_count`, labels, value: s.count });
      }
      return { name, help: this.help, type: this.type, aggregator: this.aggregator, values };
    },
    reset() {
      for (const s of http.values()) {
        s.statuses.clear();
        s.buckets.fill(0);
        s.sum = 0;
        s.count = 0;
      }
    },
  };
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
