// The sign-in use case (domain/sign-in): a tagged outcome, and the SSO session written in the same
// transaction as the token set or the authorization code it issues.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sealPending } from '../../../src/domain/oidc/authorization.js';
import { signInWithPassword } from '../../../src/domain/sign-in/sign-in.js';
import { sha256 } from '../../../src/lib/crypto.js';
import { createTestContext, type TestContext } from '../../helpers/app.js';
import { DEFAULT_REDIRECT, makeApp, makeUser } from '../../helpers/factories.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx.close());

/** The transaction id that wrote a row: rows written by one transaction share it. */
async function writer(table: 'sessions' | 'refresh_tokens' | 'authorization_codes', column: string, value: string): Promise<string> {
  const r = await sql<{ x: string }>`select xmin::text as x from ${sql.table(table)} where ${sql.ref(column)} = ${value}`.execute(
    ctx.deps.db,
  );
  expect(r.rows).toHaveLength(1);
  return r.rows[0]!.x;
}

describe('signInWithPassword', () => {
  it('tokens: the SSO session and the refresh token are written by one transaction', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    const outcome = await signInWithPassword(
      ctx.deps,
      app,
      { redirectUri: DEFAULT_REDIRECT, state: 's1' },
      { email: user.email, password },
    );
    expect(outcome).toMatchObject({ kind: 'tokens', redirectUri: DEFAULT_REDIRECT, state: 's1' });
    if (outcome.kind !== 'tokens') throw new Error('expected tokens');
    const session = await writer('sessions', 'token_hash', sha256(outcome.sessionCookie!));
    expect(await writer('refresh_tokens', 'token_hash', sha256(outcome.tokens.refreshToken))).toBe(session);
  });

  it('code_redirect: the SSO session and the authorization code are written by one transaction', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    const authz = sealPending(ctx.deps, {
      clientId: app.appId,
      redirectUri: DEFAULT_REDIRECT,
      scope: 'openid',
      state: 'st',
      exp: Math.floor(ctx.deps.clock.now().getTime() / 1000) + 600,
    });
    const outcome = await signInWithPassword(ctx.deps, app, { redirectUri: DEFAULT_REDIRECT, authz }, { email: user.email, password });
    if (outcome.kind !== 'code_redirect') throw new Error('expected a code redirect');
    const code = new URL(outcome.url).searchParams.get('code')!;
    const session = await writer('sessions', 'token_hash', sha256(outcome.sessionCookie));
    expect(await writer('authorization_codes', 'code_hash', sha256(code))).toBe(session);
  });

  it('refuses a sealed request of another app before checking the password, and writes nothing', async () => {
    const { app } = await makeApp(ctx.deps);
    const { app: other } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    const authz = sealPending(ctx.deps, {
      clientId: other.appId,
      redirectUri: DEFAULT_REDIRECT,
      scope: 'openid',
      exp: Math.floor(ctx.deps.clock.now().getTime() / 1000) + 600,
    });
    await expect(
      signInWithPassword(ctx.deps, app, { redirectUri: DEFAULT_REDIRECT, authz }, { email: user.email, password }),
    ).rejects.toMatchObject({ reason: 'sign_in_request_mismatch' });
    const sessions = await ctx.deps.db.selectFrom('sessions').select('id').where('user_id', '=', user.id).execute();
    expect(sessions).toHaveLength(0);
  });
});
