// GET /metrics: Prometheus text format. The management listener (src/management.ts) serves it to
// whoever reaches that port; the public port registers it only when KEYMASTER_METRICS_TOKEN is set,
// and then only for a matching `Authorization: Bearer` (otherwise /metrics is a 404 there).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { appError } from '../../errors.js';
import { safeEqual } from '../../lib/crypto.js';

export interface MetricsSource {
  /** The Prometheus text of this process, or of every cluster worker (the primary's listener). */
  scrape(): Promise<string>;
  readonly contentType: string;
}

const metricsRoutes: FastifyPluginAsyncZod<{ source: MetricsSource; token?: string }> = async (app, { source, token }) => {
  app.get('/metrics', { config: { errorFormat: 'detail' } }, async (req, reply) => {
    if (token !== undefined) {
      const given = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
      if (!safeEqual(given, token)) throw appError('metrics_token_required');
    }
    const body = await source.scrape();
    return reply.header('Cache-Control', 'no-store').type(source.contentType).send(body);
  });
};
export default metricsRoutes;
