// Group commit of refresh rotations (domain/tokens/rotation-batcher.ts): the rotations of one
// event-loop turn are one statement, and each token is still decided on its own, exactly as alone.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { updateApp, type App } from '../../../src/domain/apps/apps.js';
import { verifyAccessToken } from '../../../src/domain/tokens/access-tokens.js';
import { issueTokens, revokeRefreshToken, rotateRefreshToken, successorToken } from '../../../src/domain/tokens/refresh-tokens.js';
import { randomToken, sha256 } from '../../../src/lib/crypto.js';
import { createTestContext, type TestContext } from '../../helpers/app.js';
import { makeApp, makeUser, member } from '../../helpers/factories.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx.close());

/** The transaction id that wrote each row: rows written by one statement share it. */
async function writers(tokens: string[]): Promise<Set<string>> {
  const hashes = tokens.map(sha256);
  const rows = await sql<{ x: string }>`select xmin::text as x from refresh_tokens where token_hash in (${sql.join(hashes)})`.execute(
    ctx.deps.db,
  );
  expect(rows.rows).toHaveLength(tokens.length);
  return new Set(rows.rows.map((r) => r.x));
}

async function appWithTokens(n: number, reuse?: number) {
  const { app } = await makeApp(ctx.deps);
  if (reuse !== undefined) await updateApp(ctx.deps, app.appId, { refreshReuseInterval: reuse });
  const fresh: App = { ...app, refreshReuseInterval: reuse ?? null };
  const { user } = await makeUser(ctx.deps);
  const sets = [];
  for (let i = 0; i < n; i++) sets.push(await issueTokens(ctx.deps, await member(ctx.deps, user, fresh), fresh));
  // Warm the app cache, so that every rotation below queues in the same turn.
  await rotateRefreshToken(ctx.deps, {
    refreshToken: (await issueTokens(ctx.deps, await member(ctx.deps, user, fresh), fresh)).refreshToken,
    appId: app.appId,
  });
  return { app: fresh, user, sets };
}

const rotate = (appId: string, refreshToken: string) => rotateRefreshToken(ctx.deps, { refreshToken, appId });

describe('rotation batches', () => {
  it('rotates the tokens of one turn in ONE transaction, each into its own family, with valid access tokens', async () => {
    const { app, user, sets } = await appWithTokens(12);
    const results = await Promise.all(sets.map((s) => rotate(app.appId, s.refreshToken)));
    const successors = results.map((r) => r.refreshToken);
    expect(new Set(successors).size).toBe(12);
    // All 12 successors were inserted by the same transaction: one statement, one commit.
    expect((await writers(successors)).size).toBe(1);
    for (const [i, r] of results.entries()) {
      expect(r.refreshToken).toBe(successorToken(ctx.deps.secret, sets[i]!.refreshToken));
      const claims = await verifyAccessToken(ctx.deps, r.accessToken, { audience: app.appId });
      expect(claims).toMatchObject({ sub: user.id, email: user.email });
      const row = await ctx.deps.db
        .selectFrom('refresh_tokens')
        .selectAll()
        .where('token_hash', '=', sha256(r.refreshToken))
        .executeTakeFirstOrThrow();
      expect(row.family_id).toBe(sets[i]!.familyId);
      const parent = await ctx.deps.db
        .selectFrom('refresh_tokens')
        .selectAll()
        .where('token_hash', '=', sha256(sets[i]!.refreshToken))
        .executeTakeFirstOrThrow();
      expect(row.parent_jti).toBe(parent.jti);
      expect(parent.successor_jti).toBe(row.jti);
      expect(parent.rotated_at).not.toBeNull();
    }
  });

  it('decides each token of a batch alone: revoked, unknown and wrong-app tokens fail, the live ones rotate', async () => {
    const { app, sets } = await appWithTokens(4);
    const { app: other } = await makeApp(ctx.deps);
    await revokeRefreshToken(ctx.deps, { refreshToken: sets[1]!.refreshToken });
    const outcomes = await Promise.allSettled([
      rotate(app.appId, sets[0]!.refreshToken),
      rotate(app.appId, sets[1]!.refreshToken),
      rotate(app.appId, randomToken(32)),
      rotate(other.appId, sets[2]!.refreshToken),
      rotate(app.appId, sets[3]!.refreshToken),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'rejected', 'fulfilled']);
    expect(String((outcomes[3] as PromiseRejectedResult).reason)).toMatch(/does not belong/);
    // The wrong app's presentation spent nothing: the token still rotates for its own app.
    await expect(rotate(app.appId, sets[2]!.refreshToken)).resolves.toMatchObject({
      refreshToken: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
  });

  it('a token presented twice in one turn: the second is decided after the first (reuse grace, or a replay with grace 0)', async () => {
    const grace = await appWithTokens(1);
    const [a, b] = await Promise.all([
      rotate(grace.app.appId, grace.sets[0]!.refreshToken),
      rotate(grace.app.appId, grace.sets[0]!.refreshToken),
    ]);
    expect(b.refreshToken).toBe(a.refreshToken);

    const strict = await appWithTokens(1, 0);
    const twice = await Promise.allSettled([
      rotate(strict.app.appId, strict.sets[0]!.refreshToken),
      rotate(strict.app.appId, strict.sets[0]!.refreshToken),
    ]);
    expect(twice.map((o) => o.status)).toEqual(['fulfilled', 'rejected']);
    const fam = await ctx.deps.db
      .selectFrom('refresh_tokens')
      .select(['revoked_reason'])
      .where('family_id', '=', strict.sets[0]!.familyId)
      .execute();
    expect(fam.map((r) => r.revoked_reason)).toEqual(['replay', 'replay']);
  });

  it("one rotation that fails in a batch (its successor's hash already taken) does not fail the others", async () => {
    const { app, user, sets } = await appWithTokens(3);
    // Plant a row with the hash the middle token's successor will have: its insert must fail.
    const planted = successorToken(ctx.deps.secret, sets[1]!.refreshToken);
    await ctx.deps.db
      .insertInto('refresh_tokens')
      .values({
        token_hash: sha256(planted),
        family_id: crypto.randomUUID(),
        app_id: app.appId,
        user_id: user.id,
        claims: '{}',
        expires_at: new Date(Date.now() + 86_400_000),
      })
      .execute();
    const outcomes = await Promise.allSettled(sets.map((s) => rotate(app.appId, s.refreshToken)));
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    // The failed one changed nothing: its token is still live.
    const parent = await ctx.deps.db
      .selectFrom('refresh_tokens')
      .selectAll()
      .where('token_hash', '=', sha256(sets[1]!.refreshToken))
      .executeTakeFirstOrThrow();
    expect(parent.rotated_at).toBeNull();
  });
});
