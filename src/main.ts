// Server entry: loadConfig → createDeps → buildApp → listen. With KEYMASTER_WORKERS > 1 the primary
// migrates once, then forks that many identical workers (node:cluster) sharing the port and Postgres.
// The management listener (/metrics, /healthz, /readyz; src/management.ts) is this process's, or under
// a cluster the primary's, whose scrape gathers every worker's metrics.
// On SIGTERM/SIGINT: stop accepting, drain in-flight requests, stop the background jobs (src/jobs.ts),
// close the pool; a hard timeout exits 1.
import cluster from 'node:cluster';
import { buildApp } from './app.js';
import { startAdminSocket, type AdminSocket } from './cli/admin-socket.js';
import { runProgram } from './cli/main.js';
import { announceSetupLink } from './domain/admin/bootstrap.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createDeps, createLogger } from './deps.js';
import { startJobs } from './jobs.js';
import { answerClusterScrapes, buildManagementApp, clusterMetrics, registryMetrics } from './management.js';
import { lowerThreadPoolPriority } from './lib/thread-pool-priority.js';
import { DataDirLockedError, openDatabase } from './storage/db.js';
import { MigrationChangedError } from './storage/migrate.js';

async function runServer(config: Config): Promise<void> {
  // Before anything else uses libuv's pool: argon2 there must not starve the event loop (a sign-in
  // flood would otherwise halve every refresh on a busy core).
  const pool = await lowerThreadPoolPriority();
  // Workers skip migrations: the primary applied them before forking.
  const deps = await createDeps(config, {
    role: 'server',
    migrate: cluster.isPrimary,
    // Per-worker registries: each scrape answers for the worker that took it, labelled with its id.
    metrics: { processMetrics: true, ...(cluster.isWorker && { defaultLabels: { worker: String(cluster.worker?.id) } }) },
  });
  deps.log.debug({ event: 'server.thread_pool_priority', threads: pool.length }, 'libuv pool threads at nice 10');
  const app = await buildApp(deps);
  if (cluster.isWorker) answerClusterScrapes(deps.metrics);
  const management =
    cluster.isPrimary && config.management
      ? await buildManagementApp({
          config,
          log: deps.log,
          probeDatabase: (ms) => deps.probeDatabase(ms),
          metrics: registryMetrics(deps.metrics),
        })
      : undefined;
  const jobs = startJobs(deps);
  let adminSocket: AdminSocket | undefined;
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    deps.log.info({ event: 'server.stopping', signal }, 'shutting down');
    const timer = setTimeout(() => {
      deps.log.error(
        { event: 'server.shutdown_timeout', timeoutMs: config.shutdownTimeoutMs },
        'in-flight requests did not finish in time',
      );
      process.exit(1);
    }, config.shutdownTimeoutMs);
    timer.unref();
    // app.close() stops accepting and waits for in-flight requests, but only closes the keep-alive
    // sockets that are idle when it starts: close the others as soon as their request is answered.
    const reaper = setInterval(() => app.server.closeIdleConnections(), 50);
    try {
      await Promise.all([app.close(), management?.close(), adminSocket?.close()]);
      await jobs.stop();
      clearInterval(reaper);
      await deps.close();
      process.exit(0);
    } catch (err) {
      deps.log.error({ event: 'server.shutdown_failed', err }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  await app.listen({ port: config.port, host: config.host });
  if (management && config.management) await management.listen({ ...config.management });
  // The embedded database is this process's alone: the CLI runs its commands here (src/cli/admin-socket.ts).
  if (!config.databaseUrl) adminSocket = await startAdminSocket(deps, runProgram);
  // Under a cluster the primary announced it, once.
  if (cluster.isPrimary) await announceSetupLink(deps);
  deps.log.info(
    {
      event: 'server.started',
      issuer: config.issuer,
      ...(management && { management: `${config.management?.host}:${config.management?.port}` }),
      database: config.databaseUrl ? 'postgres' : `embedded (${config.dataDir})`,
      ...(cluster.isWorker && { worker: cluster.worker?.id }),
    },
    `Keymaster listening on ${config.host}:${config.port}`,
  );
}

const REFORK_FIRST_MS = 100;
const REFORK_MAX_MS = 10_000;
const REFORK_RESET_MS = 30_000;

/** The cluster primary: migrate and make the first key once, fork, replace crashed workers, relay signals. */
async function runPrimary(config: Config): Promise<void> {
  const log = createLogger(config);
  const deps = await createDeps(config, { role: 'server', log });
  await announceSetupLink(deps);
  await deps.close();
  if (config.management) {
    // Readiness from the primary: its own probe of the database the workers share.
    const database = await openDatabase(config, 'server', log);
    const management = await buildManagementApp({ config, log, probeDatabase: (ms) => database.probe(ms), metrics: clusterMetrics() });
    await management.listen({ ...config.management });
    log.info(
      { event: 'management.started', address: `${config.management.host}:${config.management.port}` },
      'management listener started',
    );
  }
  let stopping = false;
  // A worker that dies (a bug, or no database at its start-up) is replaced after a delay that doubles
  // with each death in a row, up to REFORK_MAX_MS, so a long outage is not a crash loop; a worker that
  // ran for REFORK_RESET_MS resets it.
  const started = new Map<number, number>();
  let failures = 0;
  const fork = () => {
    const w = cluster.fork();
    started.set(w.id, Date.now());
  };
  cluster.on('exit', (worker, code, signal) => {
    const lived = Date.now() - (started.get(worker.id) ?? Date.now());
    started.delete(worker.id);
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    failures = lived >= REFORK_RESET_MS ? 1 : failures + 1;
    const delayMs = Math.min(REFORK_MAX_MS, REFORK_FIRST_MS * 2 ** (failures - 1));
    log.error(
      { event: 'worker.exited', worker: worker.id, code, signal, livedMs: lived, restartInMs: delayMs },
      'worker exited; starting a new one',
    );
    setTimeout(() => {
      if (!stopping) fork();
    }, delayMs);
  });
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ event: 'server.stopping', signal, workers: config.workers }, 'stopping workers');
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    // Workers have their own drain timeout; this one only guards against a worker that hangs anyway.
    setTimeout(() => process.exit(1), config.shutdownTimeoutMs + 2_000).unref();
    if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  for (let i = 0; i < config.workers; i++) fork();
  log.info({ event: 'cluster.started', workers: config.workers }, `Keymaster primary started ${config.workers} workers`);
}

async function main(): Promise<void> {
  const config = loadConfig();
  if (config.workers > 1 && cluster.isPrimary) return runPrimary(config);
  return runServer(config);
}

main().catch((err) => {
  if (err instanceof ConfigError || err instanceof MigrationChangedError) {
    console.error(err.message);
  } else if (err instanceof DataDirLockedError) {
    console.error(`${err.message}\nStop that process first, or point DATABASE_URL at a Postgres server to run several processes.`);
  } else {
    console.error(err);
  }
  process.exit(1);
});
