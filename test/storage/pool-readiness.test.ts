// The readiness probe's reasons (storage/postgres.ts): a pool full of clients that cannot connect is
// "unreachable", not "saturated". No database: a TCP server that accepts connections and never
// answers stands in for a Postgres that went away, so every connection attempt times out.
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createResilientPool } from '../../src/storage/postgres.js';

describe('readiness probe reasons', () => {
  let server: Server;
  let port: number;
  const sockets = new Set<Socket>();
  beforeAll(async () => {
    server = createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });

  it('under load with the database gone, a full pool of connecting clients reads as unreachable', async () => {
    const pool = createResilientPool(`postgres://postgres@127.0.0.1:${port}/none`, {
      max: 2,
      timeouts: { connectMs: 200, acquireMs: 5000 },
    });
    // Requests keep arriving, as they do under load: the pool stays full of clients that are
    // connecting, with requests queued behind them.
    const attempts: Promise<unknown>[] = [];
    const load = setInterval(
      () =>
        attempts.push(
          pool.connect().then(
            (c) => c.release(),
            () => undefined,
          ),
        ),
      20,
    );
    try {
      await new Promise((r) => setTimeout(r, 500)); // past the first connection timeouts
      expect(pool.stats()).toMatchObject({ total: 2, idle: 0 });
      expect(pool.stats().waiting).toBeGreaterThan(0);
      const probe = await pool.probe(300);
      expect(probe).toMatchObject({ ok: false, reason: 'unreachable' });
    } finally {
      clearInterval(load);
      await Promise.allSettled(attempts);
      await pool.end();
    }
  });
});
