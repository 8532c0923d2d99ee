// SSO sessions: the km_sso cookie holds 32 random bytes; the database holds only their SHA-256.
// A live session lets /login return at once with fresh tokens (the SSO fast path).
import type { Deps } from '../../deps.js';
import { HOUR } from '../../lib/clock.js';
import { randomToken, sha256 } from '../../lib/crypto.js';
import type { SessionRow } from '../../storage/schema.js';
import { formatAmr, type AuthMethod } from '../oidc/auth-context.js';
import { queueSessionLogouts } from '../oidc/backchannel-logout.js';
import { recordAuditEvent, type RequestMeta } from '../audit/audit.js';
import { forgetLiveness } from '../tokens/liveness.js';
import { findUserById, type User } from '../users/users.js';
import { enqueueUserEvent } from '../webhooks/webhooks.js';
import * as store from './session-store.js';

export async function startSession(
  deps: Pick<Deps, 'db' | 'clock' | 'config'>,
  userId: string,
  meta: RequestMeta = {},
  amr: readonly AuthMethod[] | null = null,
): Promise<{ cookieValue: string; session: SessionRow }> {
  // A new random id at every sign-in: a cookie planted before sign-in is never promoted (no fixation).
  const cookieValue = randomToken(32);
  const now = deps.clock.now();
  const session = await store.insertSession(deps.db, {
    token_hash: sha256(cookieValue),
    user_id: userId,
    auth_time: now,
    created_at: now,
    expires_at: new Date(now.getTime() + deps.config.ssoSessionTtlHours * HOUR),
    user_agent: meta.userAgent?.slice(0, 512) ?? null,
    ip: meta.ip ?? null,
    // How the user signed in (auth-context.ts); null when we cannot say (an upstream IdP).
    amr: formatAmr(amr),
  });
  return { cookieValue, session };
}

export async function findSession(deps: Pick<Deps, 'db' | 'clock'>, cookieValue: string | undefined): Promise<SessionRow | undefined> {
  if (!cookieValue || !/^[0-9a-f]{64}$/.test(cookieValue)) return undefined;
  return store.findLiveSession(deps.db, sha256(cookieValue), deps.clock.now());
}

export async function endSession(
  deps: Pick<Deps, 'db' | 'clock' | 'liveness'>,
  cookieValue: string | undefined,
  meta: RequestMeta = {},
): Promise<SessionRow | undefined> {
  if (!cookieValue || !/^[0-9a-f]{64}$/.test(cookieValue)) return undefined;
  const now = deps.clock.now();
  // The end and its back-channel logouts commit together: an app is told exactly when it happened.
  const ended = await deps.db.transaction().execute(async (trx) => {
    const row = await store.revokeSessionByHash(trx, sha256(cookieValue), now);
    if (row) await queueSessionLogouts({ db: trx }, { userId: row.user_id, sessionIds: [row.id], now });
    return row;
  });
  if (ended) {
    // Access tokens issued under this session (sid) before it ended are refused from now on.
    forgetLiveness(deps, ended.user_id);
    await recordAuditEvent(deps, { event: 'session.ended', userId: ended.user_id, data: { sessionId: ended.id } }, meta);
    // user.logout ("SSO session revoked") goes to every app this session signed in to.
    const user = await findUserById(deps, ended.user_id);
    if (user) await enqueueUserEvent(deps, { event: 'user.logout', user, sessionId: ended.id });
  }
  return ended;
}

/**
 * Ends every live session of a user (password reset or change, account disabled); returns how many.
 * Takes the caller's `db`, so it commits with the caller's transaction, back-channel logouts included.
 * No audit event: the caller records one.
 */
export async function endAllUserSessions(deps: Pick<Deps, 'db'>, userId: string, now: Date): Promise<number> {
  const sessionIds = await store.revokeUserSessions(deps.db, userId, now);
  await queueSessionLogouts(deps, { userId, sessionIds, now });
  return sessionIds.length;
}

/** The SSO fast path: the live session's user, if that user may still sign in. */
export async function resumeSession(
  deps: Pick<Deps, 'db' | 'clock'>,
  cookieValue: string | undefined,
): Promise<{ session: SessionRow; user: User } | undefined> {
  const session = await findSession(deps, cookieValue);
  if (!session) return undefined;
  const user = await findUserById(deps, session.user_id);
  if (!user || user.disabled || !user.emailVerified) return undefined;
  return { session, user };
}
