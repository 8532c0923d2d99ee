// The email outbox: a refused send never fails the request and is retried from the table with
// backoff; without SMTP_URL messages stay in the outbox and the log, with usable links.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { senderOf } from '../../../src/domain/email/mailer.js';
import { MAX_ATTEMPTS, processOutbox, queueEmail, retryDelayMs } from '../../../src/domain/email/outbox.js';
import { MINUTE, type FixedClock } from '../../../src/lib/clock.js';
import { createTestContext, type TestContext } from '../../helpers/app.js';
import { linkIn, startSmtpCapture, type SmtpCapture } from '../../helpers/smtp.js';

const register = (c: TestContext, email: string) =>
  c.app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: { email, password: 'Str0ng-Passw0rd!', name: 'Out Box' } });

describe('outbox over SMTP', () => {
  let ctx: TestContext;
  let smtp: SmtpCapture;
  beforeAll(async () => {
    smtp = await startSmtpCapture();
    ctx = await createTestContext({ clock: 'fixed', env: { SMTP_URL: smtp.url } });
  });
  afterAll(async () => {
    await ctx.close();
    await smtp.close();
  });

  const row = (email: string) =>
    ctx.deps.db.selectFrom('email_outbox').selectAll().where('to_address', '=', email).executeTakeFirstOrThrow();

  it('a refused send leaves the request successful; the worker retries with backoff until it is sent', async () => {
    const clock = ctx.clock as FixedClock;
    smtp.failing = true;
    const res = await register(ctx, 'retry-me@example.com');
    expect(res.statusCode).toBe(201);
    await expect.poll(async () => (await row('retry-me@example.com')).last_error).toContain('Mailbox temporarily unavailable');
    const first = await row('retry-me@example.com');
    expect(first).toMatchObject({ status: 'pending', attempts: 1 });
    expect(first.next_attempt_at.getTime() - clock.now().getTime()).toBe(retryDelayMs(1));

    // Not due yet: nothing happens.
    expect(await processOutbox(ctx.deps)).toBe(0);
    expect((await row('retry-me@example.com')).attempts).toBe(1);

    clock.advance(MINUTE);
    expect(await processOutbox(ctx.deps)).toBe(0);
    const second = await row('retry-me@example.com');
    expect(second).toMatchObject({ status: 'pending', attempts: 2 });
    expect(second.next_attempt_at.getTime() - clock.now().getTime()).toBe(2 * MINUTE);

    smtp.failing = false;
    clock.advance(2 * MINUTE);
    expect(await processOutbox(ctx.deps)).toBe(1);
    expect(await row('retry-me@example.com')).toMatchObject({ status: 'sent', attempts: 3, body_enc: null, last_error: null });
    const mail = await smtp.next('retry-me@example.com');
    expect(linkIn(mail, '/account/verify').searchParams.get('token')).toMatch(/^[0-9a-f]{64}$/);
    expect(await processOutbox(ctx.deps)).toBe(0);
  });

  it(`gives up after ${MAX_ATTEMPTS} attempts`, async () => {
    const clock = ctx.clock as FixedClock;
    smtp.failing = true;
    await register(ctx, 'never@example.com');
    await expect.poll(async () => (await row('never@example.com')).attempts).toBe(1);
    for (let i = 2; i <= MAX_ATTEMPTS; i++) {
      clock.advance(retryDelayMs(i - 1));
      await processOutbox(ctx.deps);
    }
    expect(await row('never@example.com')).toMatchObject({ status: 'failed', attempts: MAX_ATTEMPTS, body_enc: null });
    smtp.failing = false;
  });

  it("the sender's display name is the app's name, with KEYMASTER_MAIL_FROM's address", async () => {
    await queueEmail(ctx.deps, {
      to: 'from-name@example.com',
      template: 'password-changed',
      data: { appName: 'Acme "Notes"', senderName: 'Acme "Notes"', primaryColor: '#1a73e8', changedAt: new Date() },
    });
    const mail = await smtp.next('from-name@example.com');
    const from = /^from:\s*(.*)$/im.exec(mail.raw.replace(/\r?\n[ \t]+/g, ' '))?.[1];
    expect(from).toBe('"Acme \\"Notes\\"" <no-reply@localhost>');
    expect(mail.from).toBe('no-reply@localhost');
  });
});

describe('outbox without SMTP_URL', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(() => ctx.close());

  it('keeps the message in the outbox, logs it, and its link works', async () => {
    expect(ctx.deps.mailer.mode).toBe('log');
    expect((await register(ctx, 'dev@example.com')).statusCode).toBe(201);
    const out = await ctx.deps.db
      .selectFrom('email_outbox')
      .selectAll()
      .where('to_address', '=', 'dev@example.com')
      .executeTakeFirstOrThrow();
    expect(out).toMatchObject({ status: 'logged', template: 'verify-email' });
    const line = ctx.logs().find((l) => l.event === 'email.outbox' && l.to === 'dev@example.com');
    expect(line?.subject).toBe('Verify your email for Keymaster');
    const token = /token=([0-9a-f]{64})/.exec(String(line?.body))?.[1];
    expect(token).toBeDefined();
    const verified = await ctx.app.inject({ method: 'POST', url: '/api/v1/auth/verify-email', payload: { token } });
    expect(verified.statusCode).toBe(200);
    expect(await processOutbox(ctx.deps)).toBe(0);
  });
});

describe('senderOf', () => {
  it('keeps the configured address, takes the name, and never lets a name add a header line', () => {
    expect(senderOf('Keymaster <no-reply@example.com>', 'Acme')).toEqual({ name: 'Acme', address: 'no-reply@example.com' });
    expect(senderOf('no-reply@example.com', 'Acme')).toEqual({ name: 'Acme', address: 'no-reply@example.com' });
    expect(senderOf('Keymaster <no-reply@example.com>', 'Evil\r\nBcc: victim@example.com')).toEqual({
      name: 'Evil  Bcc: victim@example.com',
      address: 'no-reply@example.com',
    });
    expect(senderOf('Keymaster <no-reply@example.com>', undefined)).toBe('Keymaster <no-reply@example.com>');
    expect(senderOf('Keymaster <no-reply@example.com>', ' \n ')).toBe('Keymaster <no-reply@example.com>');
  });
});
