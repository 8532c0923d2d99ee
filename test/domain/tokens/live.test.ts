// The live-refresh-token predicate (domain/tokens/live.ts): its SQL text, its Kysely form and its
// row check agree on a token in every state, on the real database.
import { CompiledQuery } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLiveRefreshToken, liveRefreshToken, liveRefreshTokenSql } from '../../../src/domain/tokens/live.js';
import { issueTokens } from '../../../src/domain/tokens/refresh-tokens.js';
import { DAY } from '../../../src/lib/clock.js';
import { sha256 } from '../../../src/lib/crypto.js';
import { createTestContext, type TestContext } from '../../helpers/app.js';
import { makeApp, makeUser, member } from '../../helpers/factories.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx.close());

describe('live refresh token predicate', () => {
  it('holds for a fresh token only: not for a rotated, revoked or expired one, in all three forms', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user } = await makeUser(ctx.deps);
    const now = ctx.deps.clock.now();
    const appUser = await member(ctx.deps, user, app);
    const issued = await Promise.all([0, 1, 2, 3].map(() => issueTokens(ctx.deps, appUser, app)));
    const [live, rotated, revoked, expired] = issued.map((t) => sha256(t.refreshToken)) as [string, string, string, string];
    const db = ctx.deps.db;
    await db.updateTable('refresh_tokens').set({ rotated_at: now }).where('token_hash', '=', rotated).execute();
    await db.updateTable('refresh_tokens').set({ revoked_at: now }).where('token_hash', '=', revoked).execute();
    await db
      .updateTable('refresh_tokens')
      .set({ expires_at: new Date(now.getTime() - DAY) })
      .where('token_hash', '=', expired)
      .execute();
    const hashes = [live, rotated, revoked, expired];

    const rows = await db.selectFrom('refresh_tokens').selectAll().where('token_hash', 'in', hashes).execute();
    expect(rows.filter((r) => isLiveRefreshToken(r, now)).map((r) => r.token_hash)).toEqual([live]);

    const viaKysely = await db
      .selectFrom('refresh_tokens as t')
      .select('t.token_hash')
      .where('t.token_hash', 'in', hashes)
      .where(liveRefreshToken('t', now))
      .execute();
    expect(viaKysely.map((r) => r.token_hash)).toEqual([live]);

    const text = `select token_hash from refresh_tokens r where r.token_hash = any($1::text[]) and ${liveRefreshTokenSql('r', '$2::timestamptz')}`;
    const viaText = await db.executeQuery<{ token_hash: string }>(CompiledQuery.raw(text, [hashes, now.toISOString()]));
    expect(viaText.rows.map((r) => r.token_hash)).toEqual([live]);
  });
});
