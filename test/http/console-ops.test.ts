// The Console's Operations screens (issue 15) through app.inject, signed in through the hosted login:
// seed 001's JWT refresh keys (list with every field, "+" with the key shown once, revoke behind a
// confirmation), webhooks (add with the secret once, ping, deliveries, delete), the audit log (filters,
// cursor pages, details) and signing keys (rotate, rotate immediately behind a warning). Each change:
// the page, the row, the audit event naming the admin, a refusal without the CSRF token; and the tier
// boundaries, direct URLs included (signing keys are the platform's; an app admin sees their app only).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findConsoleAppId } from '../../src/domain/apps/console-app.js';
import { recordAuditEvent } from '../../src/domain/audit/audit.js';
import { deliverDueWebhooks } from '../../src/domain/webhooks/webhook-delivery.js';
import { sha256 } from '../../src/lib/crypto.js';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { enrol, makeAdminWorld, type AdminWorld } from '../helpers/admin-world.js';
import { consoleSignIn, type ConsoleBrowser } from './console-helpers.js';

let ctx: TestContext;
let w: AdminWorld;
let platform: ConsoleBrowser;
beforeAll(async () => {
  // No delivery worker: the deliveries stay as the ping queued them (the browser journey sends them).
  ctx = await createTestContext({ env: { KEYMASTER_WEBHOOK_WORKER: 'false' } });
  w = await makeAdminWorld(ctx);
  // A refresh key is the admin's own credential: it needs a membership of the app.
  await enrol(ctx, w.platform.user.id, w.a1.appId);
  await enrol(ctx, w.appAdminA1.user.id, w.a1.appId);
  platform = (await consoleSignIn(ctx, { email: w.platform.user.email, password: w.platform.password })).browser;
});
afterAll(async () => ctx?.close());

const auditOf = (event: string, appId?: string) => {
  let q = ctx.deps.db.selectFrom('audit_events').selectAll().where('event', '=', event);
  if (appId) q = q.where('app_id', '=', appId);
  return q.orderBy('id', 'desc').execute();
};
const countRows = async (table: 'refresh_tokens' | 'webhooks' | 'webhook_deliveries' | 'signing_keys') =>
  Number(
    (
      await ctx.deps.db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  );

describe('JWT Refresh Keys (seed 001)', () => {
  it('is in the navigation and lists the app with the seed-001 columns', async () => {
    const page = await platform.get(`/console/refresh-keys/${w.a1.appId}`);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('Setup › Integrations › JWT Refresh Keys');
    expect(page.body).toMatch(/<a href="\/console\/refresh-keys"[^>]*aria-current="page">JWT Refresh Keys<\/a>/);
    expect(page.body).toContain(`href="/console/refresh-keys/${w.a1.appId}/new"`);
    const chooser = await platform.get('/console/refresh-keys');
    expect(chooser.statusCode).toBe(200);
    for (const a of [w.a1, w.a2, w.b1]) expect(chooser.body).toContain(`href="/console/refresh-keys/${a.appId}"`);
    // Not the built-in Console app (a refresh key there would be a long-lived Admin JWT credential).
    expect(chooser.body).not.toContain(`href="/console/refresh-keys/${await findConsoleAppId(ctx.deps)}"`);
  });

  it('"+": audience and lifetime; the key is shown once (no-store, in no URL), stored hashed, audited', async () => {
    const form = await platform.get(`/console/refresh-keys/${w.a1.appId}/new`);
    expect(form.statusCode).toBe(200);
    expect(form.body).toContain(`<input id="audience" name="audience" type="text" required value="${w.a1.appId}"`);
    const before = await countRows('refresh_tokens');
    // Without the CSRF token: refused, nothing written.
    expect((await platform.post(`/console/refresh-keys/${w.a1.appId}/new`, { audience: w.a1.appId, lifetime: '30d' })).statusCode).toBe(
      403,
    );
    // Bad lifetime and bad audience: the API's refusal next to the field, nothing written.
    const badLifetime = await platform.post(`/console/refresh-keys/${w.a1.appId}/new`, { audience: w.a1.appId, lifetime: '10' }, form);
    expect(badLifetime.statusCode).toBe(400);
    expect(badLifetime.body).toMatch(/<input id="lifetime"[^>]*aria-invalid="true"/);
    expect(badLifetime.body).toMatch(/<p class="field-error" id="lifetime-error">[^<]*60 seconds<\/p>/);
    const badAudience = await platform.post(`/console/refresh-keys/${w.a1.appId}/new`, { audience: w.a2.appId, lifetime: '1h' }, form);
    expect(badAudience.statusCode).toBe(400);
    expect(badAudience.body).toMatch(/<p class="field-error" id="audience-error">[^<]+<\/p>/);
    expect(badAudience.body).toContain(`value="${w.a2.appId}"`);
    expect(await countRows('refresh_tokens')).toBe(before);

    const res = await platform.post(`/console/refresh-keys/${w.a1.appId}/new`, { audience: w.a1.appId, lifetime: '30d' }, form);
    expect(res.statusCode).toBe(201);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers.location).toBeUndefined();
    const token = /<code id="refresh-key"[^>]*>([^<]+)<\/code>/.exec(res.body)![1]!;
    expect(res.body).toContain('data-copy="refresh-key"');
    const row = await ctx.deps.db
      .selectFrom('refresh_tokens')
      .selectAll()
      .where('token_hash', '=', sha256(token))
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({ app_id: w.a1.appId, user_id: w.platform.user.id, issued_by: w.platform.user.id, revoked_at: null });
    expect(row.expires_at.getTime() - row.created_at.getTime()).toBe(30 * 86_400_000);
    const [audit] = await auditOf('refresh_key.created', w.a1.appId);
    expect(audit!.data).toMatchObject({ actor: 'admin', actor_id: w.platform.user.id, source: 'admin_api' });

    // The list shows the record's fields, never the token.
    const list = await platform.get(`/console/refresh-keys/${w.a1.appId}?keys_only=1`);
    expect(list.body).toContain(row.jti);
    expect(list.body).toContain(sha256(token).slice(0, 12));
    for (const col of ['Expires At', 'Created At', 'Revoked At', 'Last Used', 'Content', 'Token Hash', 'JTI', 'Device Info'])
      expect(list.body).toMatch(new RegExp(`<th scope="col">${col}( <span class="hint">\\(UTC\\)</span>)?</th>`));
    expect(list.body).toContain(w.platform.user.email);
    expect(list.body).not.toContain(token);
  });

  it('revokes only after a confirmation page, audited with the admin', async () => {
    const form = await platform.get(`/console/refresh-keys/${w.a1.appId}/new`);
    const created = await platform.post(`/console/refresh-keys/${w.a1.appId}/new`, { audience: w.a1.appId, lifetime: '3600' }, form);
    expect(created.statusCode).toBe(201);
    const jti = /JTI<\/dt><dd><code>([0-9a-f-]{36})<\/code>/.exec(created.body)![1]!;
    const list = await platform.get(`/console/refresh-keys/${w.a1.appId}`);
    expect(list.body).toContain(`href="/console/refresh-keys/${w.a1.appId}/${jti}/revoke"`);
    const confirm = await platform.get(`/console/refresh-keys/${w.a1.appId}/${jti}/revoke`);
    expect(confirm.statusCode).toBe(200);
    expect(confirm.body).toContain('This cannot be undone');
    expect((await platform.post(`/console/refresh-keys/${w.a1.appId}/${jti}/revoke`, {})).statusCode).toBe(403);
    const live = await ctx.deps.db.selectFrom('refresh_tokens').select('revoked_at').where('jti', '=', jti).executeTakeFirstOrThrow();
    expect(live.revoked_at).toBeNull();
    const res = await platform.post(`/console/refresh-keys/${w.a1.appId}/${jti}/revoke`, {}, confirm);
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe(`/console/refresh-keys/${w.a1.appId}?revoked=1`);
    const row = await ctx.deps.db.selectFrom('refresh_tokens').select('revoked_at').where('jti', '=', jti).executeTakeFirstOrThrow();
    expect(row.revoked_at).not.toBeNull();
    const [audit] = await auditOf('refresh_token.revoked', w.a1.appId);
    expect(audit!.data).toMatchObject({ actor: 'admin', actor_id: w.platform.user.id });
    expect((await platform.get(res.headers.location as string)).body).toContain('The refresh key was revoked.');
  });

  it('pages with a cursor', async () => {
    const form = await platform.get(`/console/refresh-keys/${w.a2.appId}/new`);
    await enrol(ctx, w.platform.user.id, w.a2.appId);
    for (let i = 0; i < 51; i++)
      expect(
        (await platform.post(`/console/refresh-keys/${w.a2.appId}/new`, { audience: w.a2.appId, lifetime: '1d' }, form)).statusCode,
      ).toBe(201);
    const first = await platform.get(`/console/refresh-keys/${w.a2.appId}?keys_only=1`);
    expect(first.body.match(/<tr>/g)).toHaveLength(51); // the header row + 50
    const next = /href="(\/console\/refresh-keys\/[^"]+cursor=[^"]+)">Next page/.exec(first.body)![1]!.replaceAll('&amp;', '&');
    expect(next).toContain('keys_only=1');
    const second = await platform.get(next);
    expect(second.statusCode).toBe(200);
    expect(second.body.match(/<tr>/g)).toHaveLength(2);
    expect(second.body).not.toContain('Next page');
    expect(second.body).toContain('First page');
  });
});

describe('Webhooks', () => {
  let hookId: string;
  it('adds a webhook (URL, events) and shows its secret once; bad URLs are refused next to the field', async () => {
    const page = await platform.get(`/console/webhooks/${w.a1.appId}`);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('No webhooks yet.');
    const before = await countRows('webhooks');
    const fields = { url: 'https://hooks.example.com/keymaster', events: 'user.login' };
    expect((await platform.post(`/console/webhooks/${w.a1.appId}`, fields)).statusCode).toBe(403);
    for (const url of ['not a url', 'http://127.0.0.1:9/hook']) {
      const bad = await platform.post(`/console/webhooks/${w.a1.appId}`, { ...fields, url }, page);
      expect(bad.statusCode, url).toBe(400);
      expect(bad.body).toMatch(/<input id="url"[^>]*aria-invalid="true"/);
      expect(bad.body).toMatch(/<p class="field-error" id="url-error">[^<]+<\/p>/);
    }
    const noEvents = await platform.post(`/console/webhooks/${w.a1.appId}`, { url: fields.url }, page);
    expect(noEvents.statusCode).toBe(400);
    expect(noEvents.body).toContain('id="events-error">name at least one event');
    expect(await countRows('webhooks')).toBe(before);

    const res = await platform.post(`/console/webhooks/${w.a1.appId}`, fields, page);
    expect(res.statusCode).toBe(201);
    expect(res.headers['cache-control']).toBe('no-store');
    const secret = /<code id="webhook-secret"[^>]*>([0-9a-f]{64})<\/code>/.exec(res.body)![1]!;
    const row = await ctx.deps.db.selectFrom('webhooks').selectAll().where('app_id', '=', w.a1.appId).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ url: fields.url, events: ['user.login'] });
    expect(row.secret_enc).not.toContain(secret);
    hookId = row.id;
    const [audit] = await auditOf('webhook.created', w.a1.appId);
    expect(audit!.data).toMatchObject({ actor: 'admin', actor_id: w.platform.user.id, webhookId: hookId });
    const list = await platform.get(`/console/webhooks/${w.a1.appId}`);
    expect(list.body).toContain(`href="/console/webhooks/${w.a1.appId}/${hookId}"`);
    expect(list.body).not.toContain(secret);
  });

  it('pings (CSRF-guarded) and shows the delivery with its status', async () => {
    const page = await platform.get(`/console/webhooks/${w.a1.appId}/${hookId}`);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('Nothing was sent yet.');
    expect((await platform.post(`/console/webhooks/${w.a1.appId}/${hookId}/ping`, {})).statusCode).toBe(403);
    expect(await countRows('webhook_deliveries')).toBe(0);
    const res = await platform.post(`/console/webhooks/${w.a1.appId}/${hookId}/ping`, {}, page);
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe(`/console/webhooks/${w.a1.appId}/${hookId}?pinged=1`);
    const delivery = await ctx.deps.db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('webhook_id', '=', hookId)
      .executeTakeFirstOrThrow();
    expect(delivery.event).toBe('ping');
    const [audit] = await auditOf('webhook.pinged', w.a1.appId);
    expect(audit!.data).toMatchObject({ actor: 'admin', actor_id: w.platform.user.id, deliveryId: delivery.id });
    const shown = await platform.get(res.headers.location as string);
    expect(shown.body).toContain('A ping was queued');
    expect(shown.body).toMatch(/<td>ping<\/td>\s*<td><span class="badge status-pending">pending<\/span><\/td>/);
  });

  it('retries a failed delivery (CSRF-guarded, audited); only a failed one', async () => {
    // The worker gives up on the ping after its one allowed attempt (hooks.example.com does not answer).
    const run = await deliverDueWebhooks(ctx.deps, { maxAttempts: 1, timeoutMs: 2000 });
    expect(run.failed).toBe(1);
    const page = await platform.get(`/console/webhooks/${w.a1.appId}/${hookId}`);
    expect(page.body).toContain('status-failed');
    const delivery = await ctx.deps.db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('webhook_id', '=', hookId)
      .executeTakeFirstOrThrow();
    const action = `/console/webhooks/${w.a1.appId}/${hookId}/deliveries/${delivery.id}/retry`;
    expect(page.body).toContain(`action="${action}"`);
    expect((await platform.post(action, {})).statusCode).toBe(403);
    expect(
      (await ctx.deps.db.selectFrom('webhook_deliveries').select('status').where('id', '=', delivery.id).executeTakeFirstOrThrow()).status,
    ).toBe('failed');
    const res = await platform.post(action, {}, page);
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe(`/console/webhooks/${w.a1.appId}/${hookId}?retried=1`);
    const row = await ctx.deps.db.selectFrom('webhook_deliveries').selectAll().where('id', '=', delivery.id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ status: 'pending', attempts: 0, payload: delivery.payload });
    const [audit] = await auditOf('webhook.delivery_retried', w.a1.appId);
    expect(audit!.data).toMatchObject({ actor: 'admin', actor_id: w.platform.user.id, deliveryId: delivery.id });
    const shown = await platform.get(res.headers.location as string);
    expect(shown.body).toContain('The delivery was queued again');
    expect(shown.body).not.toContain(`action="${action}"`);
    // Pending now: a second retry is refused (404), and nothing changes.
    expect((await platform.post(action, {}, page)).statusCode).toBe(404);
    expect(
      (await ctx.deps.db.selectFrom('webhook_deliveries').select('attempts').where('id', '=', delivery.id).executeTakeFirstOrThrow())
        .attempts,
    ).toBe(0);
  });

  it('deletes only after a confirmation page', async () => {
    const confirm = await platform.get(`/console/webhooks/${w.a1.appId}/${hookId}/delete`);
    expect(confirm.statusCode).toBe(200);
    expect(confirm.body).toContain('This cannot be undone');
    expect((await platform.post(`/console/webhooks/${w.a1.appId}/${hookId}/delete`, {})).statusCode).toBe(403);
    expect(await countRows('webhooks')).toBe(1);
    const res = await platform.post(`/console/webhooks/${w.a1.appId}/${hookId}/delete`, {}, confirm);
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe(`/console/webhooks/${w.a1.appId}?deleted=1`);
    expect(await countRows('webhooks')).toBe(0);
    const [audit] = await auditOf('webhook.deleted', w.a1.appId);
    expect(audit!.data).toMatchObject({ actor: 'admin', actor_id: w.platform.user.id });
    expect((await platform.get(`/console/webhooks/${w.a1.appId}/${hookId}`)).statusCode).toBe(404);
  });
});

describe('Audit log', () => {
  it('filters by event type, actor, app, user and time, and shows each event’s details', async () => {
    await recordAuditEvent(ctx.deps, { event: 'test.audit', appId: w.b1.appId, userId: w.uB1.id, data: { reason: 'b1 thing' } });
    await recordAuditEvent(
      ctx.deps,
      { event: 'test.audit', appId: w.a1.appId, userId: w.uA1.id, data: { reason: 'a1 thing', nested: { k: 1 } } },
      { actor: 'admin', actorId: w.appAdminA1.user.id, ip: '203.0.113.9' },
    );
    const all = await platform.get('/console/audit?event=test.audit');
    expect(all.statusCode).toBe(200);
    expect(all.body).toContain('a1 thing');
    expect(all.body).toContain('b1 thing');
    expect(all.body).toContain('203.0.113.9');
    expect(all.body).toContain('&quot;k&quot;: 1');
    const byActor = await platform.get(`/console/audit?event=test.audit&actor_id=${w.appAdminA1.user.id}`);
    expect(byActor.body).toContain('a1 thing');
    expect(byActor.body).not.toContain('b1 thing');
    const byApp = await platform.get(`/console/audit?event=test.audit&app_id=${w.b1.appId}`);
    expect(byApp.body).toContain('b1 thing');
    expect(byApp.body).not.toContain('a1 thing');
    expect(byApp.body).toContain(`<option value="${w.b1.appId}" selected>`);
    const byUser = await platform.get(`/console/audit?event=test.audit&user_id=${w.uA1.id}`);
    expect(byUser.body).toContain('a1 thing');
    expect(byUser.body).not.toContain('b1 thing');
    const future = await platform.get('/console/audit?event=test.audit&since=2999-01-01T00:00');
    expect(future.body).toContain('No events match these filters.');
    const past = await platform.get('/console/audit?event=test.audit&until=2000-01-01T00:00');
    expect(past.body).toContain('No events match these filters.');
    const window = await platform.get('/console/audit?event=test.audit&since=2000-01-01T00:00&until=2999-01-01T00:00');
    expect(window.body).toContain('a1 thing');
    // The admin's own actions, named as them.
    const mine = await platform.get(`/console/audit?event=refresh_key.created&actor_id=${w.platform.user.id}`);
    expect(mine.body).toContain('<code class="event">refresh_key.created</code>');
    expect(mine.body).toContain(`<code>${w.platform.user.id}</code>`);
  });

  it('shows a refused filter next to its field (400), not an error page', async () => {
    const res = await platform.get('/console/audit?user_id=not-a-uuid&since=yesterday');
    expect(res.statusCode).toBe(400);
    expect(res.body).toMatch(/<input id="user_id"[^>]*aria-invalid="true"/);
    expect(res.body).toMatch(/<p class="field-error" id="user_id-error">[^<]+<\/p>/);
    expect(res.body).toContain('value="not-a-uuid"');
  });

  it('pages older events with a cursor, keeping the filters', async () => {
    for (let i = 0; i < 55; i++) await recordAuditEvent(ctx.deps, { event: 'test.paging', appId: w.a1.appId, data: { n: i } });
    const first = await platform.get('/console/audit?event=test.paging');
    expect(first.body.match(/<code class="event">test\.paging<\/code>/g)).toHaveLength(50);
    const next = /href="([^"]+)">Older events/.exec(first.body)![1]!.replaceAll('&amp;', '&');
    expect(next).toContain('event=test.paging');
    const second = await platform.get(next);
    expect(second.body.match(/<code class="event">test\.paging<\/code>/g)).toHaveLength(5);
    expect(second.body).not.toContain('Older events');
  });
});

describe('Signing keys', () => {
  const keyRows = () => ctx.deps.db.selectFrom('signing_keys').select(['kid', 'state']).execute();

  it('lists the keys with their states and rotates (CSRF-guarded, audited)', async () => {
    const page = await platform.get('/console/keys');
    expect(page.statusCode).toBe(200);
    expect(page.body).toMatch(/<a href="\/console\/keys"[^>]*aria-current="page">Signing keys<\/a>/);
    const active = (await keyRows()).find((k) => k.state === 'active')!;
    expect(page.body).toContain(`<code>${active.kid}</code>`);
    expect(page.body).toContain('state-active');
    const before = await countRows('signing_keys');
    expect((await platform.post('/console/keys/rotate', {})).statusCode).toBe(403);
    expect(await countRows('signing_keys')).toBe(before);
    const res = await platform.post('/console/keys/rotate', {}, page);
    expect(res.statusCode).toBe(303);
    const next = (await keyRows()).find((k) => k.state === 'next')!;
    expect(res.headers.location).toBe(`/console/keys?rotated=${next.kid}`);
    const [audit] = await auditOf('signing_key.rotated');
    expect(audit!.data).toMatchObject({ actor: 'admin', actor_id: w.platform.user.id, kid: next.kid, immediate: false });
    const shown = await platform.get(res.headers.location as string);
    expect(shown.body).toContain('is the next key');
    expect(shown.body).toContain('state-next');
  });

  it('rotates immediately only through a confirmation page with the warning; the new key is in the JWKS', async () => {
    const confirm = await platform.get('/console/keys/rotate-now');
    expect(confirm.statusCode).toBe(200);
    expect(confirm.body).toContain('reject new tokens until they fetch it again');
    expect(confirm.body).toContain('tokens it signed stop verifying');
    expect(confirm.body).toContain('class="button danger"');
    const oldActive = (await keyRows()).find((k) => k.state === 'active')!;
    expect((await platform.post('/console/keys/rotate-now', {})).statusCode).toBe(403);
    expect((await keyRows()).find((k) => k.state === 'active')!.kid).toBe(oldActive.kid);
    const res = await platform.post('/console/keys/rotate-now', {}, confirm);
    expect(res.statusCode).toBe(303);
    const nowActive = (await keyRows()).find((k) => k.state === 'active')!;
    expect(nowActive.kid).not.toBe(oldActive.kid);
    expect(res.headers.location).toBe(`/console/keys?rotated=${nowActive.kid}&now=1`);
    const [audit] = await auditOf('signing_key.rotated');
    expect(audit!.data).toMatchObject({ actor_id: w.platform.user.id, kid: nowActive.kid, immediate: true });
    const jwks = (await ctx.app.inject({ url: '/.well-known/jwks.json' })).json<{ keys: { kid: string }[] }>();
    expect(jwks.keys.map((k) => k.kid)).toContain(nowActive.kid);
    expect(jwks.keys.map((k) => k.kid)).toContain(oldActive.kid);
  });
});

describe('Operations, tier boundaries', () => {
  it("an app admin: no signing keys (nav or URL), only their app's refresh keys, webhooks and audit", async () => {
    const { browser } = await consoleSignIn(ctx, { email: w.appAdminA1.user.email, password: w.appAdminA1.password });
    const home = await browser.get('/console');
    expect(home.body).toContain('href="/console/refresh-keys"');
    expect(home.body).toContain('href="/console/audit"');
    expect(home.body).not.toContain('href="/console/keys"');
    for (const path of ['/console/keys', '/console/keys/rotate-now']) {
      const res = await browser.get(path);
      expect(res.statusCode, path).toBe(404);
      expect(res.body).toContain('href="/console"');
    }
    const keysBefore = await countRows('signing_keys');
    for (const path of ['/console/keys/rotate', '/console/keys/rotate-now'])
      expect((await browser.post(path, {}, home)).statusCode, path).toBe(404);
    expect(await countRows('signing_keys')).toBe(keysBefore);

    // One app: the pickers go straight to it.
    expect((await browser.get('/console/refresh-keys')).headers.location).toBe(`/console/refresh-keys/${w.a1.appId}`);
    expect((await browser.get('/console/webhooks')).headers.location).toBe(`/console/webhooks/${w.a1.appId}`);
    const own = await browser.get(`/console/refresh-keys/${w.a1.appId}/new`);
    expect(own.statusCode).toBe(200);
    const created = await browser.post(`/console/refresh-keys/${w.a1.appId}/new`, { audience: w.a1.appId, lifetime: '1h' }, own);
    expect(created.statusCode).toBe(201);

    // Another app, by every URL: the Console's 404, and nothing written.
    const tokensBefore = await countRows('refresh_tokens');
    const hooksBefore = await countRows('webhooks');
    for (const other of [w.a2.appId, w.b1.appId]) {
      for (const path of [`/console/refresh-keys/${other}`, `/console/refresh-keys/${other}/new`, `/console/webhooks/${other}`]) {
        const res = await browser.get(path);
        expect(res.statusCode, path).toBe(404);
      }
      expect((await browser.post(`/console/refresh-keys/${other}/new`, { audience: other, lifetime: '1h' }, own)).statusCode).toBe(404);
      expect((await browser.post(`/console/webhooks/${other}`, { url: 'https://x.example.com/h', events: 'ping' }, own)).statusCode).toBe(
        404,
      );
    }
    // A refresh key of another app, revoked through this app's URL: 404, still live.
    const a2Key = await ctx.deps.db
      .selectFrom('refresh_tokens')
      .select('jti')
      .where('app_id', '=', w.a2.appId)
      .where('revoked_at', 'is', null)
      .executeTakeFirstOrThrow();
    expect((await browser.get(`/console/refresh-keys/${w.a2.appId}/${a2Key.jti}/revoke`)).statusCode).toBe(404);
    expect((await browser.post(`/console/refresh-keys/${w.a1.appId}/${a2Key.jti}/revoke`, {}, own)).statusCode).toBe(404);
    expect((await browser.post(`/console/refresh-keys/${w.a2.appId}/${a2Key.jti}/revoke`, {}, own)).statusCode).toBe(404);
    expect(
      (await ctx.deps.db.selectFrom('refresh_tokens').select('revoked_at').where('jti', '=', a2Key.jti).executeTakeFirstOrThrow())
        .revoked_at,
    ).toBeNull();
    expect(await countRows('refresh_tokens')).toBe(tokensBefore);
    expect(await countRows('webhooks')).toBe(hooksBefore);

    // A webhook of another app: not reachable under its own app's URL nor under this one's.
    const page = await platform.get(`/console/webhooks/${w.b1.appId}`);
    await platform.post(`/console/webhooks/${w.b1.appId}`, { url: 'https://b1.example.com/h', events: 'user.login' }, page);
    const b1Hook = await ctx.deps.db.selectFrom('webhooks').select('id').where('app_id', '=', w.b1.appId).executeTakeFirstOrThrow();
    for (const base of [`/console/webhooks/${w.b1.appId}/${b1Hook.id}`, `/console/webhooks/${w.a1.appId}/${b1Hook.id}`]) {
      expect((await browser.get(base)).statusCode, base).toBe(404);
      expect((await browser.get(`${base}/delete`)).statusCode).toBe(404);
      expect((await browser.post(`${base}/ping`, {}, own)).statusCode).toBe(404);
      expect((await browser.post(`${base}/delete`, {}, own)).statusCode).toBe(404);
      expect((await browser.post(`${base}/deliveries/${b1Hook.id}/retry`, {}, own)).statusCode).toBe(404);
    }
    expect(await ctx.deps.db.selectFrom('webhooks').select('id').where('id', '=', b1Hook.id).execute()).toHaveLength(1);
    expect(await ctx.deps.db.selectFrom('webhook_deliveries').select('id').where('webhook_id', '=', b1Hook.id).execute()).toHaveLength(0);

    // The audit log: their app's events only, whatever the filter asks.
    const audit = await browser.get('/console/audit?event=test.audit');
    expect(audit.statusCode).toBe(200);
    expect(audit.body).toContain('a1 thing');
    expect(audit.body).not.toContain('b1 thing');
    const asked = await browser.get(`/console/audit?app_id=${w.b1.appId}`);
    expect(asked.body).not.toContain('b1 thing');
    expect(asked.body).not.toContain(`<code>${w.b1.appId}</code>`);
    expect((await browser.get('/console/audit?event=signing_key.rotated')).body).toContain('No events match these filters.');
  });

  it('a manager lists and revokes but cannot create refresh keys or change webhooks', async () => {
    const { browser } = await consoleSignIn(ctx, { email: w.managerA1.user.email, password: w.managerA1.password });
    const list = await browser.get(`/console/refresh-keys/${w.a1.appId}`);
    expect(list.statusCode).toBe(200);
    expect(list.body).not.toContain(`href="/console/refresh-keys/${w.a1.appId}/new"`);
    expect((await browser.get(`/console/refresh-keys/${w.a1.appId}/new`)).statusCode).toBe(403);
    const before = await countRows('refresh_tokens');
    expect((await browser.post(`/console/refresh-keys/${w.a1.appId}/new`, { audience: w.a1.appId, lifetime: '1h' }, list)).statusCode).toBe(
      403,
    );
    expect(await countRows('refresh_tokens')).toBe(before);
    const hooks = await browser.get(`/console/webhooks/${w.a1.appId}`);
    expect(hooks.statusCode).toBe(200);
    expect(hooks.body).not.toContain('Add a webhook');
    const hooksBefore = await countRows('webhooks');
    expect(
      (await browser.post(`/console/webhooks/${w.a1.appId}`, { url: 'https://m.example.com/h', events: 'ping' }, hooks)).statusCode,
    ).toBe(403);
    expect(await countRows('webhooks')).toBe(hooksBefore);
    expect((await browser.get('/console/keys')).statusCode).toBe(404);
  });
});
