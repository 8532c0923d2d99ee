// Records every response in /metrics: count by method, route pattern (never the raw URL, which would
// carry ids and make unbounded label sets) and status, and latency by method and route pattern.
// Each route gets its own onResponse hook when it is registered (onRoute), holding its series: no
// request reads req.routeOptions (a getter that builds an object on every call) or builds a label
// key. Answers that no route makes (404) are recorded as route "unmatched".
import type { FastifyInstance, FastifyReply, FastifyRequest, onResponseHookHandler } from 'fastify';
import type { HttpRouteSeries, Metrics } from '../../lib/metrics.js';
import { hookList } from './route-hooks.js';

export function registerMetricsHook(
  app: FastifyInstance,
  metrics: Metrics,
): { recordUnmatched(req: FastifyRequest, reply: FastifyReply): void } {
  app.addHook('onRoute', (route) => {
    const url = route.url;
    // By method: a GET route's hooks also serve the HEAD route Fastify adds for it.
    const byMethod = new Map<string, HttpRouteSeries>();
    const hook: onResponseHookHandler = (req, reply, done) => {
      let series = byMethod.get(req.method);
      if (!series) byMethod.set(req.method, (series = metrics.httpRoute(req.method, url)));
      series.record(reply.statusCode, reply.elapsedTime / 1000);
      done();
    };
    route.onResponse = [...hookList(route.onResponse), hook];
  });
  return {
    /** Called by the not-found handler: records the answer once it is sent. */
    recordUnmatched(req, reply) {
      // Bounded: Node's HTTP parser accepts only the methods it knows.
      const series = metrics.httpRoute(req.method, 'unmatched');
      reply.raw.once('close', () => series.record(reply.statusCode, reply.elapsedTime / 1000));
    },
  };
}
