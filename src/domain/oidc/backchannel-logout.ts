// OpenID Connect Back-Channel Logout 1.0: when an SSO session ends, every app that signed in through
// it and registered a backchannel_logout_uri (§2.2) is sent a logout token (§2.4) naming the session
// (`sid`, the ID token's `sid`) and the user. Nothing is sent on the request path: each logout is a
// row on the webhook delivery queue, queued in the transaction that ended the session, and the
// delivery worker signs the token when it POSTs it (§2.5), so a retry carries a token that is fresh.
import { randomUUID } from 'node:crypto';
import type { Deps } from '../../deps.js';
import { epochSeconds } from '../../lib/clock.js';
import { appsWithBackchannelLogout } from '../apps/apps.js';
import { appsOfUserSessions } from '../tokens/signed-in-apps.js';
import { enqueueBackchannelLogouts } from '../webhooks/webhooks.js';
import { appSessionsOfRedeemedCodes } from './code-store.js';
import { appSessionsOfApprovedDeviceCodes } from './device-code-store.js';

/** §2.4: the one member of the token's `events` claim. */
export const BACKCHANNEL_LOGOUT_EVENT_URI = 'http://schemas.openid.net/event/backchannel-logout';

/** Seconds a logout token is valid (§2.4 `exp`, "RECOMMENDED ... two minutes or less"). */
export const LOGOUT_TOKEN_TTL = 120;

/** What a queued logout says; the token is signed from it at each attempt. */
interface LogoutPayload {
  sub: string;
  sid: string;
}

/**
 * Queues a logout for every app that signed in through one of `sessionIds` (a refresh-token family, a
 * redeemed authorization code or an approved device authorization, made in that session) and
 * registered a back-channel logout URI.
 * Called by every way a session ends: sign-out (/sso/logout, /end_session), sign out everywhere, a
 * password reset or change, disabling the user (and, when it exists, suspension). Takes the caller's
 * `db`, so the logout commits (or not) with the end of the session.
 */
export async function queueSessionLogouts(
  deps: Pick<Deps, 'db'>,
  ended: { userId: string; sessionIds: string[]; now: Date },
): Promise<number> {
  if (ended.sessionIds.length === 0) return 0;
  const tokens = await appsOfUserSessions(deps, ended.userId, ended.sessionIds);
  const codes = [
    ...(await appSessionsOfRedeemedCodes(deps.db, ended.sessionIds)),
    // RFC 8628: a device the user approved in that session signed in through it too.
    ...(await appSessionsOfApprovedDeviceCodes(deps.db, ended.sessionIds)),
  ];
  const grants = [...tokens, ...codes.map((c) => ({ appId: c.app_id, sessionId: c.session_id }))];
  return queueLogouts(deps, ended.userId, grants, ended.now);
}

/**
 * Queues a logout for one app's sign-in (an admin or the user revoking one refresh-token family): the
 * app's session `sid` ended, whatever happens to the SSO session. A grant made outside any SSO
 * session (the account API) has no `sid` to name, and is not told.
 */
export async function queueGrantLogout(
  deps: Pick<Deps, 'db'>,
  ended: { userId: string; appId: string; sessionId: string | null; now: Date },
): Promise<number> {
  if (!ended.sessionId) return 0;
  return queueLogouts(deps, ended.userId, [{ appId: ended.appId, sessionId: ended.sessionId }], ended.now);
}

async function queueLogouts(
  deps: Pick<Deps, 'db'>,
  userId: string,
  grants: { appId: string; sessionId: string }[],
  now: Date,
): Promise<number> {
  const told = new Set(await appsWithBackchannelLogout(deps, [...new Set(grants.map((g) => g.appId))]));
  const items = new Map<string, { appId: string; payload: string }>();
  for (const g of grants) {
    if (!told.has(g.appId)) continue;
    const payload: LogoutPayload = { sub: userId, sid: g.sessionId };
    items.set(`${g.appId} ${g.sessionId}`, { appId: g.appId, payload: JSON.stringify(payload) });
  }
  await enqueueBackchannelLogouts(deps, [...items.values()], now);
  return items.size;
}

/**
 * §2.4: the logout token for one queued logout, signed now with the active key: iss, aud (the app),
 * iat, exp, a jti of its own per attempt, sub, sid, events; `typ: logout+jwt` (§2.4, RFC 8725 §3.11);
 * never a nonce (§2.4: it would let the token pass for an ID token).
 */
export async function signLogoutToken(
  deps: Pick<Deps, 'config' | 'clock' | 'keys'>,
  appId: string,
  queuedPayload: string,
): Promise<string> {
  const { sub, sid } = JSON.parse(queuedPayload) as LogoutPayload;
  const iat = epochSeconds(deps.clock.now());
  return deps.keys.sign(
    {
      iss: deps.config.issuer,
      aud: appId,
      iat,
      exp: iat + LOGOUT_TOKEN_TTL,
      jti: randomUUID(),
      sub,
      sid,
      events: { [BACKCHANNEL_LOGOUT_EVENT_URI]: {} },
    },
    'logout+jwt',
  );
}
