// Embedded mode is durable across power loss: every commit reaches the disk (fsync of the WAL segment)
// before it is acknowledged. Proved on the real server process, traced by strace: N refreshes (one
// commit each) cost at least N fsync calls on files under pg_wal. Stock PGlite makes none (fsync off,
// and its filesystem has no fsync). Embedded runs only.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createDeps } from '../../src/deps.js';
import { issueTokens } from '../../src/domain/tokens/refresh-tokens.js';
import { freePort, TEST_SECRET } from '../helpers/app.js';
import { onPostgres } from '../helpers/db.js';
import { makeApp, makeUser, member } from '../helpers/factories.js';
import { spawnServer } from '../helpers/server-process.js';

const REFRESHES = 10;
const dir = mkdtempSync(join(tmpdir(), 'km-durable-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.runIf(!onPostgres())('embedded durability', () => {
  it('every acknowledged commit was fsynced to the WAL on disk', async () => {
    execFileSync('strace', ['-V']); // fails clearly when strace is missing (.ci/run installs it)
    const env = { KEYMASTER_DATA_DIR: dir, KEYMASTER_SECRET: TEST_SECRET, LOG_LEVEL: 'silent' };
    // The data (app, user, first token) goes in before the server starts: the data dir has one process.
    const deps = await createDeps(loadConfig(env));
    const { app } = await makeApp(deps);
    const { user } = await makeUser(deps);
    let token = (await issueTokens(deps, await member(deps, user, app), app)).refreshToken;
    await deps.close();

    const trace = join(dir, 'strace.out');
    const server = await spawnServer(await freePort(), { ...env, LOG_LEVEL: 'info' }, 1, [
      'strace',
      '-f',
      '-qq',
      '-y',
      '-e',
      'trace=fsync,fdatasync',
      '-o',
      trace,
    ]);
    try {
      for (let i = 0; i < REFRESHES; i++) {
        const res = await fetch(`${server.url}/token/refresh`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ refresh_token: token, app_id: app.appId }),
        });
        expect(res.status).toBe(200);
        token = ((await res.json()) as { refresh_token: string }).refresh_token;
      }
    } finally {
      // SIGTERM to the server itself: strace would pass its own on and leave the server running.
      const [pid] = server.serverPids;
      if (pid) process.kill(pid, 'SIGTERM');
      await server.stop();
    }
    const walSyncs = readFileSync(trace, 'utf8')
      .split('\n')
      .filter((l) => /\bf(data)?sync\(\d+<[^>]*\/pg_wal\/[0-9A-F]{24}>\) = 0/.test(l));
    expect(walSyncs.length).toBeGreaterThanOrEqual(REFRESHES);
  }, 90_000);
});
