// A refresh whose rotation committed but whose answer never reached the client: the client presents
// the parent again, long after the reuse interval. While the successor was never used it gets that
// successor back (no replay, session kept); once the successor was used, the parent is a replay that
// revokes the family; past KEYMASTER_REFRESH_RETRY_WINDOW it is a replay too. docs/SECURITY.md,
// "Lost-response retry".
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAccessToken } from '../../src/domain/tokens/access-tokens.js';
import { issueTokens, successorToken } from '../../src/domain/tokens/refresh-tokens.js';
import { HOUR, MINUTE, SECOND, type FixedClock } from '../../src/lib/clock.js';
import { sha256 } from '../../src/lib/crypto.js';
import { createTestContext } from '../helpers/app.js';
import { makeApp, makeUser, member } from '../helpers/factories.js';

async function setUp(env: Record<string, string> = {}) {
  const ctx = await createTestContext({ clock: 'fixed', listen: true, env });
  const refresh = (appId: string, token: string, ua = 'phone-app') =>
    ctx.app.inject({
      method: 'POST',
      url: '/token/refresh',
      headers: { 'user-agent': ua },
      payload: { refresh_token: token, app_id: appId },
    });
  const family = (familyId: string) =>
    ctx.deps.db.selectFrom('refresh_tokens').selectAll().where('family_id', '=', familyId).orderBy('created_at').execute();
  const replays = (userId: string) =>
    ctx.deps.db.selectFrom('audit_events').select('id').where('user_id', '=', userId).where('event', '=', 'refresh_token.replay').execute();
  const signIn = async () => {
    const { app } = await makeApp(ctx.deps);
    const { user } = await makeUser(ctx.deps);
    const set = await issueTokens(ctx.deps, await member(ctx.deps, user, app), app, {}, { userAgent: 'phone-app' });
    return { app, user, set };
  };
  return { ctx, clock: ctx.clock as FixedClock, refresh, family, replays, signIn };
}

type Env = Awaited<ReturnType<typeof setUp>>;
const live = (rows: { rotated_at: Date | null; revoked_at: Date | null }[]) => rows.filter((r) => !r.rotated_at && !r.revoked_at);

/**
 * Sends a refresh over a real socket and hangs up without reading the answer, once the rotation has
 * committed: the client never learns its successor (a process killed, a connection cut).
 */
async function refreshAndLoseAnswer(env: Env, appId: string, token: string): Promise<void> {
  const body = JSON.stringify({ refresh_token: token, app_id: appId });
  const { port } = new URL(env.ctx.baseUrl);
  const socket = connect(Number(port), '127.0.0.1');
  socket.on('error', () => {});
  socket.on('data', () => {}); // read and dropped: the client never sees it
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  socket.write(
    `POST /token/refresh HTTP/1.1\r\nHost: localhost\r\nUser-Agent: phone-app\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  const hash = sha256(token);
  for (let i = 0; i < 200; i++) {
    const row = await env.ctx.deps.db.selectFrom('refresh_tokens').select('rotated_at').where('token_hash', '=', hash).executeTakeFirst();
    if (row?.rotated_at) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  socket.destroy();
}

describe('lost-response retry (default window 1 h, reuse interval 10 s)', () => {
  let env: Env;
  beforeAll(async () => {
    env = await setUp();
  });
  afterAll(() => env.ctx.close());

  it('a retry after the reuse interval, successor never used: the same successor, no replay event, the session lives on', async () => {
    const { app, user, set } = await env.signIn();
    await refreshAndLoseAnswer(env, app.appId, set.refreshToken);
    const [parent, successor] = await env.family(set.familyId);
    expect(parent!.rotated_at).not.toBeNull();
    expect(successor!.token_hash).toBe(sha256(successorToken(env.ctx.deps.secret, set.refreshToken)));

    env.clock.advance(12 * SECOND); // the issue's case: past the reuse interval
    const retry = await env.refresh(app.appId, set.refreshToken);
    expect(retry.statusCode).toBe(200);
    expect(sha256(retry.json().refresh_token)).toBe(successor!.token_hash);
    expect((await verifyAccessToken(env.ctx.deps, retry.json().access_token, { audience: app.appId })).sub).toBe(user.id);

    env.clock.advance(45 * MINUTE); // and again, much later (the app restarted), still within the hour
    const again = await env.refresh(app.appId, set.refreshToken);
    expect(again.statusCode).toBe(200);
    expect(again.json().refresh_token).toBe(retry.json().refresh_token);

    const rows = await env.family(set.familyId);
    expect(rows).toHaveLength(2);
    expect(rows.every((r) => r.revoked_at === null)).toBe(true);
    expect(live(rows)).toHaveLength(1);
    expect(await env.replays(user.id)).toEqual([]);
    const events = env.ctx.logs().filter((l) => l.familyId === set.familyId);
    expect(events.map((l) => l.event)).toEqual(['refresh_token.retry', 'refresh_token.retry']);

    // The successor handed out again is the family's live token: it rotates normally.
    const next = await env.refresh(app.appId, retry.json().refresh_token);
    expect(next.statusCode).toBe(200);
    expect(live(await env.family(set.familyId))).toHaveLength(1);
  });

  it('the spent token presented after its successor was used is a replay: the family is revoked, one replay event', async () => {
    const { app, user, set } = await env.signIn();
    const first = await env.refresh(app.appId, set.refreshToken);
    const second = await env.refresh(app.appId, first.json().refresh_token, 'thief');
    expect(second.statusCode).toBe(200);
    env.clock.advance(12 * SECOND);
    const replay = await env.refresh(app.appId, set.refreshToken);
    expect(replay.statusCode).toBe(401);
    expect(replay.json()).toEqual({ error: 'invalid_grant', error_description: 'Invalid or expired refresh token' });
    const rows = await env.family(set.familyId);
    expect(rows).toHaveLength(3);
    expect(rows.every((r) => r.revoked_at !== null && r.revoked_reason === 'replay')).toBe(true);
    expect(await env.replays(user.id)).toHaveLength(1);
    // The token the used successor was rotated to is dead too.
    expect((await env.refresh(app.appId, second.json().refresh_token)).statusCode).toBe(401);
  });

  it('the same holds for a lost answer: once its successor was used, the retried parent is a replay', async () => {
    const { app, user, set } = await env.signIn();
    await refreshAndLoseAnswer(env, app.appId, set.refreshToken);
    // Someone else holds the successor and uses it (it can only come from the parent or the secret).
    expect((await env.refresh(app.appId, successorToken(env.ctx.deps.secret, set.refreshToken), 'thief')).statusCode).toBe(200);
    env.clock.advance(MINUTE);
    expect((await env.refresh(app.appId, set.refreshToken)).statusCode).toBe(401);
    expect(live(await env.family(set.familyId))).toHaveLength(0);
    expect(await env.replays(user.id)).toHaveLength(1);
  });

  it('the window is bounded: past it, the parent is a replay even with its successor unused', async () => {
    const { app, user, set } = await env.signIn();
    await refreshAndLoseAnswer(env, app.appId, set.refreshToken);
    env.clock.advance(HOUR + SECOND);
    expect((await env.refresh(app.appId, set.refreshToken)).statusCode).toBe(401);
    expect(live(await env.family(set.familyId))).toHaveLength(0);
    expect(await env.replays(user.id)).toHaveLength(1);
  });
});

describe('KEYMASTER_REFRESH_RETRY_WINDOW=0: the reuse interval only', () => {
  let env: Env;
  beforeAll(async () => {
    env = await setUp({ KEYMASTER_REFRESH_RETRY_WINDOW: '0' });
  });
  afterAll(() => env.ctx.close());

  it('within the reuse interval the retry gets the successor; after it, a replay', async () => {
    const a = await env.signIn();
    await refreshAndLoseAnswer(env, a.app.appId, a.set.refreshToken);
    env.clock.advance(5 * SECOND);
    expect((await env.refresh(a.app.appId, a.set.refreshToken)).statusCode).toBe(200);

    const b = await env.signIn();
    await refreshAndLoseAnswer(env, b.app.appId, b.set.refreshToken);
    env.clock.advance(11 * SECOND);
    expect((await env.refresh(b.app.appId, b.set.refreshToken)).statusCode).toBe(401);
    expect(await env.replays(b.user.id)).toHaveLength(1);
  });
});
