// GET /metrics: Prometheus text format. With KEYMASTER_METRICS_TOKEN set, a matching
// `Authorization: Bearer` is required; otherwise keep /metrics off the public proxy.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Deps } from '../../deps.js';
import { appError } from '../../errors.js';
import { safeEqual } from '../../lib/crypto.js';

const metricsRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  const token = deps.config.metricsToken;
  app.get('/metrics', { config: { errorFormat: 'detail' } }, async (req, reply) => {
    if (token !== undefined) {
      const given = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
      if (!safeEqual(given, token)) throw appError('metrics_token_required');
    }
    const body = await deps.metrics.registry.metrics();
    return reply.header('Cache-Control', 'no-store').type(deps.metrics.registry.contentType).send(body);
  });
};
export default metricsRoutes;
