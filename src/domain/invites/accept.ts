// Accepting an invite and signing in with it (POST /auth/accept-invite, /api/v1/auth/accept-invite,
// the hosted /invite page). A new user gives a name and a password; an existing one proves it is
// them, by their password (with the sign-in's lockout and throttles) or by being signed in already.
// Then the invite is redeemed (invites.ts) and the user signed in to the app as a login would: the
// app's access rule (a suspended member stays refused), TOTP when the account has it.
import type { Deps } from '../../deps.js';
import { appError } from '../../errors.js';
import { findApp, type App } from '../apps/apps.js';
import type { RequestMeta } from '../audit/audit.js';
import { admitToApp } from '../memberships/memberships.js';
import { openApiSecondFactor } from '../sign-in/sign-in.js';
import { issueTokens, type IssuedTokens } from '../tokens/refresh-tokens.js';
import { authenticatePassword, findUserRecordByEmail, type User } from '../users/users.js';
import { acceptInvite, findOpenInvite } from './invites.js';

type AcceptDeps = Pick<
  Deps,
  'db' | 'clock' | 'config' | 'keys' | 'log' | 'secret' | 'liveness' | 'rateCounters' | 'metrics' | 'apps' | 'rotations'
>;

export interface InviteSignIn {
  appId: string;
  code: string;
  email: string;
  name?: string | undefined;
  password?: string | undefined;
  /** The user id of the caller's live access token or SSO session, when they are signed in. */
  signedInUserId?: string | undefined;
}

export type InviteOutcome =
  { kind: 'tokens'; tokens: IssuedTokens; user: User; app: App } | { kind: 'totp_required'; totpSession: string; user: User; app: App };

/** Redeems the invite and signs the user in to its app; refusals are thrown (invalid code → 400 invite_invalid, …). */
export async function acceptInviteAndSignIn(deps: AcceptDeps, input: InviteSignIn, meta: RequestMeta = {}): Promise<InviteOutcome> {
  const invite = await findOpenInvite(deps, input.appId, input.code);
  const app = await findApp(deps, invite.appId);
  if (!app) throw appError('invite_invalid');
  if (input.email.trim().toLowerCase() !== invite.email.toLowerCase()) throw appError('invite_email_mismatch');
  const existing = await findUserRecordByEmail(deps, invite.email);
  let provenUserId: string | undefined;
  if (existing) {
    if (input.signedInUserId === existing.id) provenUserId = existing.id;
    else if (input.password) {
      provenUserId = (await authenticatePassword(deps, { email: invite.email, password: input.password, appId: app.appId }, meta)).id;
    } else throw appError('invite_sign_in_required');
  }
  const { user } = await acceptInvite(
    deps,
    { appId: app.appId, code: input.code, email: input.email, name: input.name, password: input.password, provenUserId },
    meta,
  );
  // A password proved it (not a session): an account with TOTP on gives the code first, as a login does.
  if (existing && provenUserId !== input.signedInUserId) {
    const totpSession = await openApiSecondFactor(deps, user, app);
    if (totpSession) return { kind: 'totp_required', totpSession, user, app };
  }
  const { roles } = await admitToApp(deps, { userId: user.id, appId: app.appId, record: true }, meta);
  return { kind: 'tokens', tokens: await issueTokens(deps, { ...user, roles }, app, {}, meta), user, app };
}
