// Records every response in /metrics: count by method, route pattern (never the raw URL, which would
// carry ids and make unbounded label sets) and status, and latency by method and route pattern.
// Added on the root instance (not an encapsulated plugin) so it sees every route.
import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../../lib/metrics.js';

export function registerMetricsHook(app: FastifyInstance, metrics: Metrics): void {
  // The labelled children, looked up once per (method, route, status): labels() builds and validates
  // the label object on every call otherwise. Bounded: routes and methods are finite, statuses few.
  const children = new Map<string, { requests: { inc(): void }; duration: { observe(v: number): void } }>();
  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url ?? 'unmatched';
    const status = reply.statusCode;
    const key = `${req.method} ${status} ${route}`;
    let child = children.get(key);
    if (!child) {
      child = {
        requests: metrics.httpRequests.labels({ method: req.method, route, status: String(status) }),
        duration: metrics.httpDuration.labels({ method: req.method, route }),
      };
      children.set(key, child);
    }
    child.requests.inc();
    child.duration.observe(reply.elapsedTime / 1000);
    done();
  });
}
