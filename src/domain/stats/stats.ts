// The Admin API's overview: how much there is and what went wrong in the last 24 hours, counted over
// what the acting admin may see (`appIds`; undefined for a platform admin).
import type { Deps } from '../../deps.js';
import { HOUR } from '../../lib/clock.js';
import { countRecentEvents } from '../audit/audit.js';
import * as store from './stats-store.js';

/** The audit events counted as "recent problems": failed sign-ins, refresh-token replays, lockouts. */
export const RECENT_EVENTS = { signInFailures: 'login.failure', replays: 'refresh_token.replay', lockouts: 'user.locked' } as const;

export interface AdminStats {
  users: number;
  apps: number;
  activeSessions: number;
  liveRefreshTokens: number;
  last24h: { since: Date; signInFailures: number; replays: number; lockouts: number };
}

export async function adminStats(deps: Pick<Deps, 'db' | 'clock'>, appIds: readonly string[] | undefined): Promise<AdminStats> {
  const now = deps.clock.now();
  const since = new Date(now.getTime() - 24 * HOUR);
  const events = Object.values(RECENT_EVENTS);
  const [users, apps, activeSessions, liveRefreshTokens, recent] = await Promise.all([
    store.countUsers(deps.db, appIds),
    store.countApps(deps.db, appIds),
    store.countLiveSsoSessions(deps.db, now, appIds),
    store.countLiveRefreshTokens(deps.db, now, appIds),
    countRecentEvents(deps, events, since, appIds),
  ]);
  return {
    users,
    apps,
    activeSessions,
    liveRefreshTokens,
    last24h: {
      since,
      signInFailures: recent[RECENT_EVENTS.signInFailures] ?? 0,
      replays: recent[RECENT_EVENTS.replays] ?? 0,
      lockouts: recent[RECENT_EVENTS.lockouts] ?? 0,
    },
  };
}
