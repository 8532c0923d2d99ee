// The real server process: SIGTERM stops accepting, lets the in-flight request finish, closes the
// pool and exits 0.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, TEST_SECRET } from './helpers/app.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';

let database: TestDatabase | undefined;
let dataDir: string | undefined;
beforeAll(async () => {
  if (process.env.TEST_DATABASE_URL) database = await createTestDatabase();
  else dataDir = mkdtempSync(join(tmpdir(), 'km-shutdown-'));
});
afterAll(async () => {
  await database?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** Resolves when the process has written a line containing `text` to stdout. */
function waitForOutput(child: ChildProcess, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      if (buf.includes(text)) {
        child.stdout!.off('data', onData);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`server exited (${code}) before "${text}"\n${buf}`)));
  });
}

function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

describe('graceful shutdown on SIGTERM', () => {
  it('finishes the in-flight request, then exits 0', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: {
        PATH: process.env.PATH,
        PORT: String(port),
        LOG_LEVEL: 'info',
        KEYMASTER_SECRET: TEST_SECRET,
        KEYMASTER_MANAGEMENT_ENABLED: 'false',
        ...(database?.url ? { DATABASE_URL: database.url } : { KEYMASTER_DATA_DIR: dataDir! }),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      await waitForOutput(child, '"server.started"');
      // A request whose body is only half sent: the server has it in flight until the rest arrives.
      const body = JSON.stringify({ refresh_token: 'a'.repeat(64), app_id: '00000000-0000-4000-8000-000000000000' });
      const socket = await openSocket(port);
      let response = '';
      socket.on('data', (d: Buffer) => (response += d.toString()));
      const closed = new Promise<void>((r) => socket.once('close', () => r()));
      const incoming = waitForOutput(child, 'incoming request');
      socket.write(
        `POST /token/refresh HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`,
      );
      await incoming;

      const stopping = waitForOutput(child, '"server.stopping"');
      child.kill('SIGTERM');
      await stopping;
      // Still running: it waits for the request it has in flight.
      expect(child.exitCode).toBeNull();

      socket.write(body.slice(10));
      // The server closes the (now idle) keep-alive connection itself once it has answered.
      await closed;
      expect(response).toMatch(/^HTTP\/1\.1 401 /);
      expect(response).toContain('"error":"invalid_grant"');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
