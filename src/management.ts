// buildManagementApp(deps): the management listener — GET /metrics, /healthz, /readyz — for scrapers
// and probes, on KEYMASTER_MANAGEMENT_HOST:PORT (127.0.0.1:9000 by default, as Keycloak's management
// interface), away from the public port. It never listens; main.ts does. Under KEYMASTER_WORKERS > 1
// the cluster primary serves it, and one scrape answers for every worker: prom-client's
// AggregatorRegistry asks each worker's registry over IPC, and each series keeps its `worker` label.
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import client from 'prom-client';
import type { Deps } from './deps.js';
import { errorHandler } from './http/error-handler.js';
import healthRoutes from './http/routes/health.js';
import metricsRoutes, { type MetricsSource } from './http/routes/metrics.js';
import type { Metrics } from './lib/metrics.js';

export interface ManagementDeps extends Pick<Deps, 'config' | 'log' | 'probeDatabase'> {
  metrics: MetricsSource;
}

/** This process's own registry. */
export function registryMetrics(metrics: Pick<Metrics, 'registry'>): MetricsSource {
  return { scrape: () => metrics.registry.metrics(), contentType: metrics.registry.contentType };
}

/** The cluster primary's source: every live worker's registry, asked at scrape time (5 s timeout). */
export function clusterMetrics(): MetricsSource {
  const aggregator = new client.AggregatorRegistry();
  return { scrape: () => aggregator.clusterMetrics(), contentType: aggregator.contentType };
}

/** In a cluster worker: answer the primary's scrape requests from this registry. */
export function answerClusterScrapes(metrics: Pick<Metrics, 'registry'>): void {
  client.AggregatorRegistry.setRegistries([metrics.registry]);
  // Constructing one adds the worker's IPC listener (once per process, whatever the count).
  new client.AggregatorRegistry();
}

export async function buildManagementApp(deps: ManagementDeps) {
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    // A scraper or probe every few seconds: not worth a log line each.
    disableRequestLogging: true,
    requestIdHeader: false,
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(errorHandler);
  await app.register(healthRoutes, { deps });
  await app.register(metricsRoutes, { source: deps.metrics });
  return app;
}
