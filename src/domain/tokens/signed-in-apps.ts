// The apps a user (or one SSO session) has signed in to: every app that holds one of their refresh
// tokens. The webhooks module asks this to address user.logout and friends.
import type { Deps } from '../../deps.js';
import { appsForSession, appsForUser } from './token-inventory-store.js';

export function appsOfUser(deps: Pick<Deps, 'db'>, userId: string): Promise<string[]> {
  return appsForUser(deps.db, userId);
}

export function appsOfSession(deps: Pick<Deps, 'db'>, sessionId: string): Promise<string[]> {
  return appsForSession(deps.db, sessionId);
}
