// Builds the real app on a private test database: `ctx.app.inject(...)` for most tests, or
// `startTestServer()` for a real listening port (third-party clients, browsers, multi-process).
import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createDeps, createLogger, type Deps } from '../../src/deps.js';
import { FixedClock, systemClock, type Clock } from '../../src/lib/clock.js';
import { createTestDatabase, type TestDatabase } from './db.js';

export const TEST_SECRET = 'test-secret-0123456789abcdef0123456789abcdef';

export interface TestContext {
  deps: Deps;
  app: Awaited<ReturnType<typeof buildApp>>;
  clock: Clock;
  database: TestDatabase;
  /** Every log line the server wrote so far, parsed (for the no-secrets-in-logs checks). */
  logs: () => Record<string, unknown>[];
  /** The raw text of every log line. */
  logText: () => string;
  baseUrl: string;
  close(): Promise<void>;
}

export interface TestOptions {
  env?: Record<string, string>;
  clock?: Clock | 'fixed';
  listen?: boolean;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export async function createTestContext(opts: TestOptions = {}): Promise<TestContext> {
  const port = opts.listen ? await freePort() : 3000;
  const config = loadConfig({
    KEYMASTER_SECRET: TEST_SECRET,
    KEYMASTER_ISSUER: `http://localhost:${port}`,
    PORT: String(port),
    LOG_LEVEL: 'info',
    ...opts.env,
  });
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      cb();
    },
  });
  const log = createLogger(config, sink);
  const clock = opts.clock === 'fixed' ? new FixedClock(Date.UTC(2026, 0, 15, 12, 0, 0)) : (opts.clock ?? systemClock);
  const database = await createTestDatabase();
  const deps = await createDeps(config, { database, clock, log });
  const app = await buildApp(deps);
  if (opts.listen) await app.listen({ port, host: '127.0.0.1' });
  else await app.ready();
  return {
    deps,
    app,
    clock,
    database,
    logs: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
    logText: () => lines.join('\n'),
    baseUrl: `http://localhost:${port}`,
    close: async () => {
      await app.close();
      await deps.close();
    },
  };
}

export const startTestServer = (opts: Omit<TestOptions, 'listen'> = {}) => createTestContext({ ...opts, listen: true });
