// Linking an upstream account to a Keymaster user. Rules, in order:
//  1. (provider, subject) already linked → that user.
//  2. Otherwise the upstream must say email_verified === true, else "Email not verified by <provider>"
//     (the same answer whether or not a local account has that email: nothing is revealed).
//  3. A user with that email (case-insensitive) exists → link to it. If the local email was never
//     verified, its password is dropped: whoever set it never proved they own the address, and keeping
//     it would let them into the account the real owner has just claimed (pre-account hijacking).
//  4. No such user → create one, email verified now, no password, name from the upstream.
// A disabled user is refused after linking. Account lockout guards passwords and does not apply here.
import type { Deps } from '../../deps.js';
import { appError } from '../../errors.js';
import { recordAuditEvent, type RequestMeta } from '../audit/audit.js';
import {
  createUserIfEmailFree,
  Email,
  findUserRecord,
  findUserRecordByEmail,
  markEmailVerified,
  recordLastLogin,
  toUser,
  type User,
} from '../users/users.js';
import * as store from './identity-store.js';
import { PROVIDER_LABELS, type UpstreamProviderName } from './upstream-providers.js';

export interface UpstreamProfile {
  provider: UpstreamProviderName;
  subject: string;
  email: string | undefined;
  emailVerified: unknown;
  name: string | undefined;
}

export async function signInWithUpstreamProfile(
  deps: Pick<Deps, 'db' | 'clock'>,
  profile: UpstreamProfile,
  ctx: { appId: string },
  meta: RequestMeta = {},
): Promise<User> {
  const label = PROVIDER_LABELS[profile.provider];
  const now = deps.clock.now();
  const result = await deps.db.transaction().execute(async (trx) => {
    const d = { db: trx };
    const linked = await store.findIdentity(trx, profile.provider, profile.subject);
    if (linked) {
      await store.touchIdentity(trx, linked.id, now);
      return { userId: linked.user_id, event: undefined };
    }
    if (profile.emailVerified !== true) return { refused: 'email_not_verified' as const };
    const email = Email.safeParse(profile.email ?? '');
    if (!email.success) return { refused: 'no_email' as const };
    let user = await findUserRecordByEmail(d, email.data);
    let event: 'identity.linked' | 'user.created' = 'identity.linked';
    if (user) {
      if (!user.email_verified_at) {
        await markEmailVerified(d, user.id, now, { dropPassword: true });
      }
    } else {
      event = 'user.created';
      user =
        (await createUserIfEmailFree(d, {
          email: email.data,
          name: profile.name?.slice(0, 200) || null,
          passwordHash: null,
          emailVerifiedAt: now,
        })) ?? (await findUserRecordByEmail(d, email.data));
      if (!user) throw appError('account_not_created', { detail: 'user insert raced and vanished' });
    }
    const identity = {
      user_id: user.id,
      provider: profile.provider,
      subject: profile.subject,
      email: email.data,
      created_at: now,
      last_login_at: now,
    };
    const inserted = await store.insertIdentity(trx, identity);
    // Lost a race with a concurrent first sign-in of the same upstream account: use its link.
    if (!inserted) return { userId: (await store.findIdentity(trx, profile.provider, profile.subject))!.user_id, event: undefined };
    return { userId: user.id, event, hadUnverifiedPassword: user.email_verified_at === null && user.password_hash !== null };
  });

  if ('refused' in result) {
    await recordAuditEvent(
      deps,
      { event: 'login.failure', appId: ctx.appId, data: { method: profile.provider, reason: result.refused } },
      meta,
    );
    if (result.refused === 'email_not_verified') throw appError('upstream_email_not_verified', { provider: label });
    throw appError('upstream_no_email', { provider: label });
  }
  const row = await findUserRecord(deps, result.userId);
  if (!row) throw appError('account_not_loaded', { detail: `user ${result.userId} missing` });
  if (result.event) {
    await recordAuditEvent(
      deps,
      {
        event: result.event,
        userId: row.id,
        appId: ctx.appId,
        data: {
          provider: profile.provider,
          ...('hadUnverifiedPassword' in result && result.hadUnverifiedPassword && { passwordRemoved: true }),
        },
      },
      meta,
    );
  }
  if (row.disabled_at) {
    await recordAuditEvent(
      deps,
      { event: 'login.failure', userId: row.id, appId: ctx.appId, data: { method: profile.provider, reason: 'disabled' } },
      meta,
    );
    throw appError('account_disabled');
  }
  // Only last_login_at: the password lockout counters are left to password sign-in.
  await recordLastLogin(deps, row.id, now);
  await recordAuditEvent(deps, { event: 'login.success', userId: row.id, appId: ctx.appId, data: { method: profile.provider } }, meta);
  return toUser({ ...row, last_login_at: now });
}
