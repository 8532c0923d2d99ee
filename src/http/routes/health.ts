// Liveness (the process answers) and readiness (the database answers `select 1` in time). A database
// that is not ready is told apart: unreachable (no connection), slow (connected, no answer in time),
// saturated (every pooled connection busy, requests waiting), so an operator knows where to look.
// Served on the public port (load balancers and the image's HEALTHCHECK use it) and on the management
// listener (src/management.ts).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Deps } from '../../deps.js';

/** A readiness probe answers within this long, whatever the database does. */
export const READY_TIMEOUT_MS = 2000;

const DESCRIPTION = {
  unreachable: 'Database unreachable',
  slow: 'Database too slow to answer',
  saturated: 'Database connection pool saturated',
  contention: 'Database busy',
};

const healthRoutes: FastifyPluginAsyncZod<{ deps: Pick<Deps, 'probeDatabase' | 'config'> }> = async (app, { deps }) => {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (req, reply) => {
    const probe = await deps.probeDatabase(Math.min(READY_TIMEOUT_MS, deps.config.databaseTimeouts.connectMs));
    if (probe.ok) return { status: 'ok' };
    req.log.warn({ event: 'ready.failed', reason: probe.reason, detail: probe.detail }, 'not ready');
    reply
      .status(503)
      .header('Retry-After', probe.reason === 'saturated' ? '1' : '5')
      .header('Cache-Control', 'no-store');
    return { status: 'unavailable', reason: probe.reason, error: 'temporarily_unavailable', error_description: DESCRIPTION[probe.reason] };
  });
};
export default healthRoutes;
