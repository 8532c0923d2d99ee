// The account and email settings of loadConfig.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { passwordProblems } from '../src/domain/accounts/password-policy.js';

describe('account configuration', () => {
  it('defaults: seed 004 password policy, KEYMASTER-API.md limits, log-only email', () => {
    const c = loadConfig({});
    expect(c.passwordPolicy).toEqual({ minLength: 8, maxLength: 128, requireClasses: true });
    expect([c.rateLimitEmail, c.rateLimitIp, c.rateLimitWindowSeconds]).toEqual([5, 20, 900]);
    expect(c.smtpUrl).toBeUndefined();
    expect(c.defaultAppId).toBeUndefined();
    expect([c.verifyTokenTtlHours, c.resetTokenTtlMinutes]).toEqual([24, 60]);
  });

  it('reads every variable and lists bad values', () => {
    const c = loadConfig({
      SMTP_URL: 'smtps://user:pw@mail.example.com:465',
      KEYMASTER_MAIL_FROM: 'Acme <no-reply@acme.test>',
      KEYMASTER_DEFAULT_APP_ID: '4b0f4a7e-3c55-4a35-9a36-2f0f4d7f0a11',
      KEYMASTER_PASSWORD_MIN_LENGTH: '12',
      KEYMASTER_PASSWORD_MAX_LENGTH: '64',
      KEYMASTER_PASSWORD_REQUIRE_CLASSES: 'false',
      KEYMASTER_RATE_LIMIT_EMAIL: '50',
    });
    expect(c.passwordPolicy).toEqual({ minLength: 12, maxLength: 64, requireClasses: false });
    expect(passwordProblems(c.passwordPolicy, 'alllowercase')).toEqual([]);
    expect(passwordProblems(c.passwordPolicy, 'short')).toEqual(['at least 12 characters']);
    expect(c.rateLimitEmail).toBe(50);
    expect(() => loadConfig({ SMTP_URL: 'http://mail', KEYMASTER_DEFAULT_APP_ID: 'nope' })).toThrow(ConfigError);
    expect(() => loadConfig({ KEYMASTER_PASSWORD_MIN_LENGTH: '100', KEYMASTER_PASSWORD_MAX_LENGTH: '50' })).toThrow(/must not exceed/);
  });
});
