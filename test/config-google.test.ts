// KEYMASTER_GOOGLE_*: both-or-neither, https unless loopback, every problem listed.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

const base = { KEYMASTER_SECRET: 'x'.repeat(32) };
const problemsOf = (env: Record<string, string>) => {
  try {
    loadConfig({ ...base, ...env });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

describe('Google upstream config', () => {
  it('is off by default and defaults the issuer to Google', () => {
    expect(loadConfig(base).google).toBeUndefined();
    const c = loadConfig({ ...base, KEYMASTER_GOOGLE_CLIENT_ID: 'id', KEYMASTER_GOOGLE_CLIENT_SECRET: 'secret' });
    expect(c.google).toEqual({ issuer: 'https://accounts.google.com', clientId: 'id', clientSecret: 'secret', allowHttp: false });
  });

  it('needs both the client id and the secret', () => {
    expect(problemsOf({ KEYMASTER_GOOGLE_CLIENT_ID: 'id' })).toEqual([
      'KEYMASTER_GOOGLE_CLIENT_SECRET: required when KEYMASTER_GOOGLE_CLIENT_ID is set',
    ]);
    expect(problemsOf({ KEYMASTER_GOOGLE_CLIENT_SECRET: 's' })).toEqual([
      'KEYMASTER_GOOGLE_CLIENT_ID: required when KEYMASTER_GOOGLE_CLIENT_SECRET is set',
    ]);
  });

  it('allows an http issuer only on loopback, and lists every problem at once', () => {
    const ok = loadConfig({
      ...base,
      KEYMASTER_GOOGLE_ISSUER: 'http://127.0.0.1:4000',
      KEYMASTER_GOOGLE_CLIENT_ID: 'id',
      KEYMASTER_GOOGLE_CLIENT_SECRET: 's',
    });
    expect(ok.google?.allowHttp).toBe(true);
    expect(problemsOf({ KEYMASTER_GOOGLE_ISSUER: 'http://idp.example.com', KEYMASTER_GOOGLE_CLIENT_ID: 'id' })).toEqual([
      'KEYMASTER_GOOGLE_CLIENT_SECRET: required when KEYMASTER_GOOGLE_CLIENT_ID is set',
      'KEYMASTER_GOOGLE_ISSUER: must be https (http is allowed only for loopback hosts)',
    ]);
    expect(problemsOf({ KEYMASTER_GOOGLE_ISSUER: 'ftp://idp.example.com' })[0]).toMatch(/^KEYMASTER_GOOGLE_ISSUER: /);
  });
});
