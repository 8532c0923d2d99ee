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

  it('https issuer turns on secure cookies', () => {
    expect(loadConfig({ KEYMASTER_ISSUER: 'https://id.example.com' }).secureCookies).toBe(true);
  });
});
