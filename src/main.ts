// Server entry: loadConfig → createDeps → buildApp → listen; on SIGTERM/SIGINT stop accepting,
// drain in-flight requests, close the database.
import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { createDeps } from './deps.js';
import { startOutboxWorker } from './domain/email/outbox.js';
import { DataDirLockedError } from './storage/db.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const deps = await createDeps(config, { role: 'server' });
  const app = await buildApp(deps);
  // Retries emails whose first send failed (sending never blocks a request).
  const outbox = startOutboxWorker(deps);
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    deps.log.info({ event: 'server.stopping', signal }, 'shutting down');
    try {
      await app.close();
      await outbox.stop();
      await deps.close();
    } finally {
      process.exit(0);
    }
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  await app.listen({ port: config.port, host: config.host });
  deps.log.info(
    { event: 'server.started', issuer: config.issuer, database: config.databaseUrl ? 'postgres' : `embedded (${config.dataDir})` },
    `Keymaster listening on ${config.host}:${config.port}`,
  );
}

main().catch((err) => {
  if (err instanceof ConfigError) {
    console.error(err.message);
  } else if (err instanceof DataDirLockedError) {
    console.error(`${err.message}\nStop that process first, or point DATABASE_URL at a Postgres server to run several processes.`);
  } else {
    console.error(err);
  }
  process.exit(1);
});
