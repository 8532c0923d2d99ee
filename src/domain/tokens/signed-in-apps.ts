// The apps a user (or one SSO session) has signed in to: every app that holds one of their refresh
// tokens. The webhooks module asks this to address user.logout and friends.
import type { Deps } from '../../deps.js';
import { appSessionsForUser, appsForSession, appsForUser } from './token-inventory-store.js';

export function appsOfUser(deps: Pick<Deps, 'db'>, userId: string): Promise<string[]> {
  return appsForUser(deps.db, userId);
}

export function appsOfSession(deps: Pick<Deps, 'db'>, sessionId: string): Promise<string[]> {
  return appsForSession(deps.db, sessionId);
}

/** Which apps hold refresh tokens from which of these SSO sessions of the user (back-channel logout asks). */
export async function appsOfUserSessions(
  deps: Pick<Deps, 'db'>,
  userId: string,
  sessionIds: string[],
): Promise<{ appId: string; sessionId: string }[]> {
  return (await appSessionsForUser(deps.db, userId, sessionIds)).map((r) => ({ appId: r.app_id, sessionId: r.session_id }));
}
