import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

describe('loadConfig', () => {
  it('has safe defaults for the embedded quick start', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      issuer: 'http://localhost:3000',
      dataDir: './data',
      accessTokenTtl: 900,
      refreshTokenTtlDays: 30,
      secureCookies: false,
    });
    expect(c.databaseUrl).toBeUndefined();
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('derives the issuer from PORT and treats empty values as unset', () => {
    expect(loadConfig({ PORT: '4000', DATABASE_URL: '' }).issuer).toBe('http://localhost:4000');
  });

  it('lists every bad variable by name', () => {
    try {
      loadConfig({ PORT: 'abc', KEYMASTER_ISSUER: 'https://id.example.com/', LOG_LEVEL: 'loud', KEYMASTER_SECRET: 'short' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const msg = (err as ConfigError).message;
      for (const name of ['PORT', 'KEYMASTER_ISSUER', 'LOG_LEVEL', 'KEYMASTER_SECRET']) expect(msg).toContain(name);
    }
  });

  it('requires KEYMASTER_SECRET with DATABASE_URL', () => {
    expect(() => loadConfig({ DATABASE_URL: 'postgres://u@h/db' })).toThrow(/KEYMASTER_SECRET/);
  });

  it('database timeouts have the documented defaults (README) and can be set or turned off', () => {
    expect(loadConfig({}).databaseTimeouts).toEqual({ connectMs: 5000, acquireMs: 3000, statementMs: 10_000, idleInTransactionMs: 10_000 });
    expect(loadConfig({}).databaseSessionSettings).toBe(true);
    const c = loadConfig({
      DATABASE_CONNECT_TIMEOUT_MS: '1000',
      DATABASE_POOL_TIMEOUT_MS: '250',
      DATABASE_STATEMENT_TIMEOUT_MS: '0',
      DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: '0',
      DATABASE_SESSION_TIMEOUTS: 'false',
    });
    expect(c.databaseTimeouts).toEqual({ connectMs: 1000, acquireMs: 250, statementMs: 0, idleInTransactionMs: 0 });
    expect(c.databaseSessionSettings).toBe(false);
    expect(() => loadConfig({ DATABASE_POOL_TIMEOUT_MS: '-1' })).toThrow(/DATABASE_POOL_TIMEOUT_MS/);
  });

  it('the refresh retry window defaults to one hour (README), 0 turns it off, past 30 days is refused', () => {
    expect(loadConfig({}).refreshRetryWindow).toBe(3600);
    expect(loadConfig({ KEYMASTER_REFRESH_RETRY_WINDOW: '0' }).refreshRetryWindow).toBe(0);
    expect(() => loadConfig({ KEYMASTER_REFRESH_RETRY_WINDOW: String(30 * 86_400 + 1) })).toThrow(/KEYMASTER_REFRESH_RETRY_WINDOW/);
  });

  it('KEYMASTER_DEVICE_GRANT (RFC 8628) is on by default (README), false turns it off, anything else is refused', () => {
    expect(loadConfig({}).deviceGrant).toBe(true);
    expect(loadConfig({ KEYMASTER_DEVICE_GRANT: 'false' }).deviceGrant).toBe(false);
    expect(() => loadConfig({ KEYMASTER_DEVICE_GRANT: 'maybe' })).toThrow(/KEYMASTER_DEVICE_GRANT/);
  });

  it('https issuer turns on secure cookies', () => {
    expect(loadConfig({ KEYMASTER_ISSUER: 'https://id.example.com' }).secureCookies).toBe(true);
  });
});
