import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

const PG = { DATABASE_URL: 'postgres://u@h/db', KEYMASTER_SECRET: 'x'.repeat(32) };

describe('KEYMASTER_WORKERS and the process settings', () => {
  it('defaults to one process, request logging on, a 10 s drain', () => {
    expect(loadConfig({})).toMatchObject({ workers: 1, requestLog: true, shutdownTimeoutMs: 10_000, metricsToken: undefined });
  });

  it('allows several workers on Postgres', () => {
    expect(loadConfig({ ...PG, KEYMASTER_WORKERS: '4', KEYMASTER_REQUEST_LOG: 'false' })).toMatchObject({ workers: 4, requestLog: false });
  });

  it('refuses more than one worker on embedded PGlite, with a clear message', () => {
    expect(() => loadConfig({ KEYMASTER_WORKERS: '2' })).toThrow(ConfigError);
    expect(() => loadConfig({ KEYMASTER_WORKERS: '2' })).toThrow(/KEYMASTER_WORKERS: embedded PGlite is single-process; set DATABASE_URL/);
  });

  it('rejects a worker count that is not a positive integer', () => {
    for (const bad of ['0', '-1', '1.5', 'two', '65']) {
      expect(() => loadConfig({ ...PG, KEYMASTER_WORKERS: bad }), bad).toThrow(/KEYMASTER_WORKERS/);
    }
  });

  it('the management listener: 127.0.0.1:9000 by default, movable, can be turned off, never on PORT', () => {
    expect(loadConfig({}).management).toEqual({ host: '127.0.0.1', port: 9000 });
    expect(loadConfig({ KEYMASTER_MANAGEMENT_HOST: '0.0.0.0', KEYMASTER_MANAGEMENT_PORT: '9100' }).management).toEqual({
      host: '0.0.0.0',
      port: 9100,
    });
    expect(loadConfig({ KEYMASTER_MANAGEMENT_ENABLED: 'false' }).management).toBeUndefined();
    expect(() => loadConfig({ PORT: '9000' })).toThrow(/KEYMASTER_MANAGEMENT_PORT: must differ from PORT/);
    expect(loadConfig({ PORT: '9000', KEYMASTER_MANAGEMENT_ENABLED: 'false' }).port).toBe(9000);
    expect(() => loadConfig({ KEYMASTER_MANAGEMENT_PORT: '0' })).toThrow(/KEYMASTER_MANAGEMENT_PORT/);
  });

  it('the server refuses to start with 2 workers and no DATABASE_URL (exit 1, one clear line)', () => {
    const res = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { PATH: process.env.PATH, KEYMASTER_WORKERS: '2', KEYMASTER_DATA_DIR: '/nonexistent/never-created' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(res.status).toBe(1);
    expect(res.stderr).toContain('KEYMASTER_WORKERS: embedded PGlite is single-process');
  });
});
