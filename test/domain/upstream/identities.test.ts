// The linking rules of upstream sign-in, on a real database (the browser journeys are in test/e2e).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signInWithUpstreamProfile, type UpstreamProfile } from '../../../src/domain/upstream/identities.js';
import { updateUser } from '../../../src/domain/users/user-store.js';
import { authenticatePassword } from '../../../src/domain/users/users.js';
import { AppError } from '../../../src/errors.js';
import { createTestContext, type TestContext } from '../../helpers/app.js';
import { makeApp, makeUser } from '../../helpers/factories.js';

let ctx: TestContext;
let appId: string;
beforeAll(async () => {
  ctx = await createTestContext({ clock: 'fixed' });
  appId = (await makeApp(ctx.deps, { providers: ['password', 'google'] })).app.appId;
});
afterAll(() => ctx.close());

const uniq = () => randomBytes(5).toString('hex');
const profile = (p: Partial<UpstreamProfile> = {}): UpstreamProfile => {
  const sub = `sub-${uniq()}`;
  return { provider: 'google', subject: sub, email: `${sub}@example.com`, emailVerified: true, name: 'Up Stream', ...p };
};
const identities = (subject: string) => ctx.deps.db.selectFrom('identities').selectAll().where('subject', '=', subject).execute();
const userRow = (email: string) => ctx.deps.db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();

async function refused(p: UpstreamProfile): Promise<AppError> {
  const err = await signInWithUpstreamProfile(ctx.deps, p, { appId }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

describe('signInWithUpstreamProfile', () => {
  it('creates a verified, password-less user and links it; the next sign-in finds it by subject even if the email changed', async () => {
    const p = profile();
    const user = await signInWithUpstreamProfile(ctx.deps, p, { appId });
    const row = await userRow(p.email!);
    expect(row?.id).toBe(user.id);
    expect(row?.email_verified_at).toEqual(ctx.clock.now());
    expect(row?.password_hash).toBeNull();
    expect(row?.name).toBe('Up Stream');
    expect((await identities(p.subject)).map((i) => i.user_id)).toEqual([user.id]);
    const again = await signInWithUpstreamProfile(
      ctx.deps,
      { ...p, email: `changed-${uniq()}@example.com`, emailVerified: false },
      { appId },
    );
    expect(again.id).toBe(user.id);
  });

  it('refuses an unverified upstream email with the same message whether or not an account has it, and writes nothing', async () => {
    const { user } = await makeUser(ctx.deps);
    const existing = await refused(profile({ email: user.email, emailVerified: false }));
    const fresh = profile({ emailVerified: 'true' }); // a string is not `true`
    const unknown = await refused(fresh);
    expect(existing).toMatchObject({ code: 'forbidden', reason: 'upstream_email_not_verified' });
    expect(existing.description).toBe('Email not verified by Google');
    expect(unknown.description).toBe(existing.description);
    expect(await userRow(fresh.email!)).toBeUndefined();
    expect(await ctx.deps.db.selectFrom('identities').select('id').where('user_id', '=', user.id).execute()).toHaveLength(0);
  });

  it('refuses a profile without a usable email', async () => {
    const err = await refused(profile({ email: undefined }));
    expect(err).toMatchObject({ code: 'invalid_request', reason: 'upstream_no_email' });
    expect(err.description).toBe('Google did not share a usable email address');
  });

  it('links to a verified local account and keeps its password', async () => {
    const { user, password } = await makeUser(ctx.deps);
    const linked = await signInWithUpstreamProfile(ctx.deps, profile({ email: user.email }), { appId });
    expect(linked.id).toBe(user.id);
    expect((await authenticatePassword(ctx.deps, { email: user.email, password })).id).toBe(user.id);
  });

  it('links to an unverified local account, verifies it and drops the password nobody proved they own', async () => {
    const { user, password } = await makeUser(ctx.deps, { verified: false });
    const p = profile({ email: user.email });
    const linked = await signInWithUpstreamProfile(ctx.deps, p, { appId });
    expect(linked.id).toBe(user.id);
    const row = await userRow(user.email);
    expect(row?.email_verified_at).not.toBeNull();
    expect(row?.password_hash).toBeNull();
    await expect(authenticatePassword(ctx.deps, { email: user.email, password })).rejects.toMatchObject({
      code: 'invalid_grant',
      reason: 'invalid_credentials',
    });
    const audit = await ctx.deps.db
      .selectFrom('audit_events')
      .select(['event', 'data'])
      .where('user_id', '=', user.id)
      .where('event', '=', 'identity.linked')
      .execute();
    expect(audit[0]?.data).toMatchObject({ provider: 'google', passwordRemoved: true });
  });

  it('refuses a disabled account (and keeps the link for when it is re-enabled)', async () => {
    const { user } = await makeUser(ctx.deps);
    await updateUser(ctx.deps.db, user.id, { disabled_at: ctx.clock.now() });
    const p = profile({ email: user.email });
    const err = await refused(p);
    expect(err).toMatchObject({ code: 'forbidden', reason: 'account_disabled' });
    expect(err.description).toBe('Account is disabled');
    expect((await identities(p.subject)).map((i) => i.user_id)).toEqual([user.id]);
    expect(await ctx.deps.db.selectFrom('refresh_tokens').select('jti').where('user_id', '=', user.id).execute()).toHaveLength(0);
  });

  it('two concurrent first sign-ins of one upstream account end with one user and one link', async () => {
    const p = profile();
    const [a, b] = await Promise.all([
      signInWithUpstreamProfile(ctx.deps, p, { appId }),
      signInWithUpstreamProfile(ctx.deps, p, { appId }),
    ]);
    expect(a.id).toBe(b.id);
    expect(await identities(p.subject)).toHaveLength(1);
  });
});
