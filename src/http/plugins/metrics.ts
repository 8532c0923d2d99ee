// Records every response in /metrics: count by method, route pattern (never the raw URL, which would
// carry ids and make unbounded label sets) and status, and latency by method and route pattern.
// Added on the root instance (not an encapsulated plugin) so it sees every route.
import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../../lib/metrics.js';

export function registerMetricsHook(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.httpRequests.inc({ method: req.method, route, status: String(reply.statusCode) });
    metrics.httpDuration.observe({ method: req.method, route }, reply.elapsedTime / 1000);
    done();
  });
}
