import { setMembershipRoles } from '../../../src/domain/memberships/memberships.js';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addWebhook, enqueueUserEvent, enqueueWebhookEvent, pingWebhook } from '../../../src/domain/webhooks/webhooks.js';
import { deliverDueWebhooks, type DeliveryOptions } from '../../../src/domain/webhooks/webhook-delivery.js';
import { type FixedClock, HOUR, SECOND } from '../../../src/lib/clock.js';
import { createTestContext, type TestContext } from '../../helpers/app.js';
import { DEFAULT_LOGOUT, makeApp, makeUser, member } from '../../helpers/factories.js';
import { issueTokens } from '../../../src/domain/tokens/refresh-tokens.js';
import { createUser } from '../../../src/domain/users/users.js';
import { adminUpdateUser } from '../../../src/domain/accounts/accounts.js';
import { cookieHeader, cookiesOf, csrfTokenOf, form, FORM } from '../../helpers/http.js';
import { signIn } from '../../helpers/sign-in.js';

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A real loopback receiver: records every request and answers with the next queued status (200 when none). */
class Receiver {
  received: Received[] = [];
  statuses: number[] = [];
  #server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      this.received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.statusCode = this.statuses.shift() ?? 200;
      res.end('ok');
    });
  });
  url = '';
  async start() {
    await new Promise<void>((r) => this.#server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/hooks`;
  }
  stop() {
    return new Promise<void>((r) => this.#server.close(() => r()));
  }
}

/** What a receiver does with the documented scheme: HMAC-SHA256 of the raw body, key = the secret's UTF-8 bytes. */
function verifySignature(secret: string, r: Received): boolean {
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(r.body).digest('hex')}`);
  const got = Buffer.from(String(r.headers['x-keymaster-signature']));
  return got.length === expected.length && timingSafeEqual(got, expected);
}

let ctx: TestContext;
let rx: Receiver;
const clock = () => ctx.clock as FixedClock;
const OPTS: DeliveryOptions = { maxAttempts: 3, timeoutMs: 5000, baseDelayMs: 30 * SECOND, random: () => 1 };

beforeAll(async () => {
  // The receiver is on loopback, which webhooks may reach only when allow-listed (development).
  ctx = await createTestContext({ clock: 'fixed', env: { KEYMASTER_WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8,::1/128' } });
  rx = new Receiver();
  await rx.start();
});
afterAll(async () => {
  await rx.stop();
  await ctx.close();
});

const deliveries = (webhookId: string) =>
  ctx.deps.db.selectFrom('webhook_deliveries').selectAll().where('webhook_id', '=', webhookId).orderBy('created_at').execute();

describe('webhook registration', () => {
  it('returns a 64-hex secret once and stores it only encrypted', async () => {
    const { app } = await makeApp(ctx.deps);
    const { webhook, secret } = await addWebhook(ctx.deps, { appId: app.appId, url: rx.url, events: ['user.login', 'user.logout'] });
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    const row = await ctx.deps.db.selectFrom('webhooks').selectAll().where('id', '=', webhook.id).executeTakeFirstOrThrow();
    expect(row.secret_enc).not.toContain(secret);
    expect(row.events).toEqual(['user.login', 'user.logout']);
  });

  it('rejects bad input without writing', async () => {
    const { app } = await makeApp(ctx.deps);
    await expect(addWebhook(ctx.deps, { appId: app.appId, url: 'ftp://x', events: ['user.login'] })).rejects.toThrow();
    await expect(addWebhook(ctx.deps, { appId: app.appId, url: rx.url, events: ['user.nope' as 'ping'] })).rejects.toThrow();
    const rows = await ctx.deps.db.selectFrom('webhooks').select('id').where('app_id', '=', app.appId).execute();
    expect(rows).toEqual([]);
  });
});

describe('delivery', () => {
  it('signs and sends user.login after a hosted sign-in, with the documented headers and body', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps, { name: 'Ada' });
    const { webhook, secret } = await addWebhook(ctx.deps, { appId: app.appId, url: rx.url, events: ['user.login'] });
    await signIn(ctx, app.appId, user.email, password);
    // Queued, not sent on the request path.
    const [queued] = await deliveries(webhook.id);
    expect(queued).toMatchObject({ event: 'user.login', status: 'pending', attempts: 0 });
    expect(rx.received.filter((r) => r.headers['x-keymaster-delivery'] === queued!.id)).toEqual([]);

    const result = await deliverDueWebhooks(ctx.deps, OPTS);
    expect(result).toMatchObject({ claimed: 1, delivered: 1 });
    const got = rx.received.find((r) => r.headers['x-keymaster-delivery'] === queued!.id)!;
    expect(got.headers['content-type']).toBe('application/json');
    expect(got.headers['x-keymaster-event']).toBe('user.login');
    expect(got.headers['x-keymaster-timestamp']).toBe(String(Math.floor(clock().now().getTime() / 1000)));
    expect(verifySignature(secret, got)).toBe(true);
    expect(verifySignature('wrong-secret', got)).toBe(false);
    expect(JSON.parse(got.body)).toEqual({
      event: 'user.login',
      timestamp: clock().now().toISOString(),
      app_id: app.appId,
      data: { user_id: user.id, email: user.email, name: 'Ada' },
    });
    const [row] = await deliveries(webhook.id);
    expect(row).toMatchObject({ status: 'delivered', attempts: 1, last_status: 200, last_error: null });
    expect(row!.delivered_at).toEqual(clock().now());
  });

  it('retries after a 500 with backoff, then succeeds', async () => {
    const { app } = await makeApp(ctx.deps);
    const { webhook, secret } = await addWebhook(ctx.deps, { appId: app.appId, url: rx.url, events: ['user.signup'] });
    const [id] = await enqueueWebhookEvent(ctx.deps, {
      appId: app.appId,
      event: 'user.signup',
      data: { user_id: null, email: 'x@example.com', name: null },
    });
    rx.statuses.push(500);
    expect(await deliverDueWebhooks(ctx.deps, OPTS)).toMatchObject({ claimed: 1, retried: 1 });
    let [row] = await deliveries(webhook.id);
    expect(row).toMatchObject({ status: 'pending', attempts: 1, last_status: 500, last_error: 'HTTP 500' });
    expect(row!.next_attempt_at).toEqual(new Date(clock().now().getTime() + 30 * SECOND));

    // Not due yet: nothing is sent.
    clock().advance(29 * SECOND);
    expect(await deliverDueWebhooks(ctx.deps, OPTS)).toMatchObject({ claimed: 0 });
    clock().advance(1 * SECOND);
    expect(await deliverDueWebhooks(ctx.deps, OPTS)).toMatchObject({ claimed: 1, delivered: 1 });
    [row] = await deliveries(webhook.id);
    expect(row).toMatchObject({ status: 'delivered', attempts: 2, last_status: 200 });
    const attempts = rx.received.filter((r) => r.headers['x-keymaster-delivery'] === id);
    expect(attempts).toHaveLength(2);
    expect(attempts[0]!.body).toBe(attempts[1]!.body);
    expect(attempts.every((a) => verifySignature(secret, a))).toBe(true);
  });

  it("gives up as 'failed' after the last attempt", async () => {
    const { app } = await makeApp(ctx.deps);
    const { webhook } = await addWebhook(ctx.deps, { appId: app.appId, url: rx.url, events: ['user.signup'] });
    await enqueueWebhookEvent(ctx.deps, { appId: app.appId, event: 'user.signup', data: { user_id: null, email: null, name: null } });
    for (let i = 0; i < 3; i++) {
      rx.statuses.push(503);
      await deliverDueWebhooks(ctx.deps, OPTS);
      clock().advance(2 * HOUR);
    }
    const [row] = await deliveries(webhook.id);
    expect(row).toMatchObject({ status: 'failed', attempts: 3, last_status: 503 });
    expect(await deliverDueWebhooks(ctx.deps, OPTS)).toMatchObject({ claimed: 0 });
  });

  it('two concurrent workers send each delivery exactly once', async () => {
    const { app } = await makeApp(ctx.deps);
    const { webhook } = await addWebhook(ctx.deps, { appId: app.appId, url: rx.url, events: ['ping'] });
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(await pingWebhook(ctx.deps, webhook.id));
    const [a, b] = await Promise.all([deliverDueWebhooks(ctx.deps, OPTS), deliverDueWebhooks(ctx.deps, OPTS)]);
    expect(a!.claimed + b!.claimed).toBe(6);
    for (const id of ids) expect(rx.received.filter((r) => r.headers['x-keymaster-delivery'] === id)).toHaveLength(1);
    const rows = await deliveries(webhook.id);
    expect(rows.map((r) => [r.status, r.attempts])).toEqual(ids.map(() => ['delivered', 1]));
  });

  it('queues user.logout to the apps an SSO session signed in to when it ends', async () => {
    const { app } = await makeApp(ctx.deps);
    const { app: unrelated } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    const { webhook } = await addWebhook(ctx.deps, { appId: app.appId, url: rx.url, events: ['user.logout'] });
    const { webhook: other } = await addWebhook(ctx.deps, { appId: unrelated.appId, url: rx.url, events: ['user.logout'] });
    const s = await signIn(ctx, app.appId, user.email, password);
    const q = `app_id=${app.appId}&post_logout_redirect_uri=${encodeURIComponent(DEFAULT_LOGOUT)}`;
    const confirm = await ctx.app.inject({ url: `/sso/logout?${q}`, headers: { cookie: `km_sso=${s.sso}` } });
    const post = await ctx.app.inject({
      method: 'POST',
      url: '/sso/logout',
      headers: { ...FORM, cookie: cookieHeader({ ...cookiesOf(confirm), km_sso: s.sso }) },
      payload: form({ _csrf: csrfTokenOf(confirm.body), app_id: app.appId, post_logout_redirect_uri: DEFAULT_LOGOUT }),
    });
    expect(post.statusCode).toBe(200);
    const rows = await deliveries(webhook.id);
    expect(rows.map((r) => r.event)).toEqual(['user.logout']);
    expect(JSON.parse(rows[0]!.payload).data).toEqual({ user_id: user.id, email: user.email, name: user.name });
    expect(await deliveries(other.id)).toEqual([]);
  });

  it('user events go to the apps that know the user, and only to subscribers of that event', async () => {
    const { app: a1 } = await makeApp(ctx.deps);
    const { app: a2 } = await makeApp(ctx.deps);
    const { user } = await makeUser(ctx.deps);
    const { webhook: h1 } = await addWebhook(ctx.deps, { appId: a1.appId, url: rx.url, events: ['user.role_changed', 'user.signup'] });
    const { webhook: h2 } = await addWebhook(ctx.deps, { appId: a2.appId, url: rx.url, events: ['user.role_changed'] });
    const { webhook: h1login } = await addWebhook(ctx.deps, { appId: a1.appId, url: rx.url, events: ['user.login'] });
    await issueTokens(ctx.deps, await member(ctx.deps, user, a1), a1);
    const ids = await enqueueUserEvent(ctx.deps, { event: 'user.role_changed', user });
    expect(ids).toHaveLength(1);
    expect((await deliveries(h1.id)).map((d) => d.event)).toEqual(['user.role_changed']);
    expect(await deliveries(h2.id)).toEqual([]);
    expect(await deliveries(h1login.id)).toEqual([]);

    // Sign-up through an app: user.signup to that app.
    const signedUp = await createUser(ctx.deps, { email: `new-${Date.now()}@example.com`, name: 'Neo' }, { appId: a1.appId });
    const signup = (await deliveries(h1.id)).find((d) => d.event === 'user.signup')!;
    expect(JSON.parse(signup.payload)).toMatchObject({
      event: 'user.signup',
      app_id: a1.appId,
      data: { user_id: signedUp.id, email: signedUp.email, name: 'Neo' },
    });
  });

  it('an admin role change or suspension queues user.role_changed / user.suspended; an unchanged role list does not', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user } = await makeUser(ctx.deps, { memberOf: { app, roles: ['user'] } });
    const { webhook } = await addWebhook(ctx.deps, { appId: app.appId, url: rx.url, events: ['user.role_changed', 'user.suspended'] });
    await issueTokens(ctx.deps, await member(ctx.deps, user, app, ['user']), app);
    // Roles are per app (issue 14): the membership's change is the app's webhook event.
    await setMembershipRoles(ctx.deps, { userId: user.id, appId: app.appId, roles: ['user'] });
    expect(await deliveries(webhook.id)).toEqual([]);
    await setMembershipRoles(ctx.deps, { userId: user.id, appId: app.appId, roles: ['user', 'admin'] });
    await adminUpdateUser(ctx.deps, user.id, { disabled: true });
    await adminUpdateUser(ctx.deps, user.id, { disabled: true });
    const events = (await deliveries(webhook.id)).map((d) => JSON.parse(d.payload) as { event: string; data: { user_id: string } });
    expect(events.map((e) => e.event).sort()).toEqual(['user.role_changed', 'user.suspended']);
    expect(events.every((e) => e.data.user_id === user.id)).toBe(true);
  });
});

describe('destinations: only public addresses (SSRF), checked at creation and at delivery', () => {
  /** The same deps as a production server: no allow-list. */
  const strict = () => ({ ...ctx.deps, config: { ...ctx.deps.config, webhookAllowedCidrs: [] } });
  const ONE_TRY: DeliveryOptions = { ...OPTS, maxAttempts: 1 };

  it('an IP literal in a refused range is refused when the webhook is added; nothing is written', async () => {
    const { app } = await makeApp(ctx.deps);
    for (const url of [
      'http://127.0.0.1/hook',
      'http://127.1.2.3:8080/hook',
      'http://2130706433/hook', // 127.0.0.1 as one decimal number (WHATWG URL parses it)
      'http://0x7f.1/hook',
      'http://0.0.0.0/hook',
      'http://10.0.0.1/hook',
      'http://172.16.5.4/hook',
      'http://192.168.1.1/hook',
      'http://100.64.0.1/hook',
      'http://169.254.169.254/latest/meta-data/',
      'http://224.0.0.1/hook',
      'http://255.255.255.255/hook',
      'http://[::1]/hook',
      'http://[::]/hook',
      'http://[::ffff:127.0.0.1]/hook',
      'http://[::ffff:a9fe:a9fe]/hook', // 169.254.169.254, IPv4-mapped
      'http://[fd00::1]/hook',
      'http://[fe80::1]/hook',
      'http://[ff02::1]/hook',
    ]) {
      await expect(addWebhook(strict(), { appId: app.appId, url, events: ['ping'] }), url).rejects.toMatchObject({
        reason: 'webhook_address_not_allowed',
      });
    }
    expect(await ctx.deps.db.selectFrom('webhooks').select('id').where('app_id', '=', app.appId).execute()).toEqual([]);
    // A public literal and a name are accepted (a name is checked when it resolves).
    await addWebhook(strict(), { appId: app.appId, url: 'https://93.184.215.14/hook', events: ['ping'] });
    await addWebhook(strict(), { appId: app.appId, url: 'https://hooks.example.com/hook', events: ['ping'] });
  });

  it('at delivery, a stored loopback literal is not connected to without the allow-list', async () => {
    const { app } = await makeApp(ctx.deps);
    const { webhook } = await addWebhook(ctx.deps, { appId: app.appId, url: rx.url, events: ['ping'] });
    const id = await pingWebhook(ctx.deps, webhook.id);
    await deliverDueWebhooks(strict(), ONE_TRY);
    const [row] = await deliveries(webhook.id);
    expect(row).toMatchObject({ id, status: 'failed', attempts: 1, last_status: null });
    expect(row!.last_error).toMatch(/address 127\.0\.0\.1 is in a private, loopback, link-local or reserved range/);
    expect(rx.received.filter((r) => r.headers['x-keymaster-delivery'] === id)).toEqual([]);
    expect(ctx.logs().some((l) => l.event === 'webhook.address_refused' && l.webhookId === webhook.id)).toBe(true);
  });

  it('a name that resolves to loopback (as a rebinding name would) is refused at connect time; allow-listed, it is delivered', async () => {
    const { app } = await makeApp(ctx.deps);
    const url = rx.url.replace('127.0.0.1', 'localhost');
    // Accepted at creation: a name says nothing until it resolves.
    const { webhook } = await addWebhook(strict(), { appId: app.appId, url, events: ['ping'] });
    const refused = await pingWebhook(ctx.deps, webhook.id);
    await deliverDueWebhooks(strict(), ONE_TRY);
    const row = (await deliveries(webhook.id)).find((d) => d.id === refused)!;
    expect(row).toMatchObject({ status: 'failed', last_status: null });
    expect(row.last_error).toMatch(/^localhost: address (127\.0\.0\.1|::1) is in a private, loopback/);
    expect(rx.received.filter((r) => r.headers['x-keymaster-delivery'] === refused)).toEqual([]);
    // The same name with loopback allow-listed: the lookup passes and the POST arrives.
    const allowed = await pingWebhook(ctx.deps, webhook.id);
    await deliverDueWebhooks(ctx.deps, ONE_TRY);
    expect((await deliveries(webhook.id)).find((d) => d.id === allowed)).toMatchObject({ status: 'delivered', last_status: 200 });
    expect(rx.received.filter((r) => r.headers['x-keymaster-delivery'] === allowed)).toHaveLength(1);
  });
});
