// The hosted account page (/account, issue 16): who the browser's SSO session belongs to, what the page
// lists (the user's live sign-ins and the apps they allowed), and its changes. Every change acts on the
// session's own user only; the ids it takes (a session, a connected app) are matched with that user,
// so another user's id is "not found" and changes nothing.
import type { Deps } from '../../deps.js';
import type { RequestMeta } from '../audit/audit.js';
import { listConsents, type Consent } from '../consents/consents.js';
import { resumeSession, startSession } from '../sessions/sessions.js';
import { listUserSessions, type UserSession } from '../tokens/token-inventory.js';
import type { User } from '../users/users.js';
import { updateAccount } from './accounts.js';

type AccountDeps = Parameters<typeof updateAccount>[0];

/** The user of the browser's live SSO session; undefined when it has none (the page asks to sign in). */
export async function accountHolder(deps: Pick<Deps, 'db' | 'clock'>, sessionCookie: string | undefined): Promise<User | undefined> {
  return (await resumeSession(deps, sessionCookie))?.user;
}

export interface AccountOverview {
  sessions: UserSession[];
  consents: Consent[];
}

export async function accountOverview(deps: Pick<Deps, 'db' | 'clock'>, user: User): Promise<AccountOverview> {
  const [sessions, consents] = [await listUserSessions(deps, user.id), await listConsents(deps, user.id)];
  return { sessions: sessions.sessions, consents };
}

/** The account API's rename (updateAccount), for the page. */
export async function renameAccount(deps: AccountDeps, user: User, name: string, meta: RequestMeta = {}): Promise<User> {
  return updateAccount(deps, { sub: user.id }, { name }, meta);
}

/**
 * The account API's password change (updateAccount: policy, current-password check, every session and
 * refresh token ended), then a new SSO session for this browser: the user just proved the password,
 * so only the other sessions end. Returns the new session's cookie value.
 */
export async function changeAccountPassword(
  deps: AccountDeps,
  user: User,
  input: { currentPassword: string; newPassword: string },
  meta: RequestMeta = {},
): Promise<string> {
  await updateAccount(deps, { sub: user.id }, input, meta);
  return (await startSession(deps, user.id, meta, ['pwd'])).cookieValue;
}
