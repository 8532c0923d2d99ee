// RP-Initiated Logout 1.0 §2-§3: who is asking (id_token_hint and/or client_id) and where the browser
// may go afterwards (post_logout_redirect_uri, exact match, with state). A hint that does not verify
// (forged, alg none, unknown kid, not our issuer) is an error page: it never leads to a redirect.
import type { Deps } from '../../deps.js';
import { appError } from '../../errors.js';
import { findApp, isRegisteredLogoutUri, type App } from '../apps/apps.js';
import { verifyOurJwt } from '../tokens/verify-jwt.js';

export interface EndSessionParams {
  id_token_hint?: string | undefined;
  client_id?: string | undefined;
  post_logout_redirect_uri?: string | undefined;
  state?: string | undefined;
}

export interface EndSessionTarget {
  app?: App | undefined;
  continueTo?: string | undefined;
  /** The subject and session of a verified hint: enough to sign out without asking (§2, "SHOULD ask" unless the RP proves itself). */
  hint?: { sub: string; sid?: string | undefined } | undefined;
}

export async function resolveEndSession(
  deps: Pick<Deps, 'db' | 'clock' | 'config' | 'keys'>,
  p: EndSessionParams,
): Promise<EndSessionTarget> {
  let hint: EndSessionTarget['hint'];
  let clientId = p.client_id;
  if (p.id_token_hint !== undefined) {
    // §2: the OP need not check exp; an expired hint still identifies the RP and the user.
    const v = await verifyOurJwt(deps, p.id_token_hint, { typ: 'JWT', allowExpired: true });
    if (!v.ok || typeof v.payload.sub !== 'string') throw appError('id_token_hint_invalid', { detail: v.ok ? 'no sub' : v.reason });
    const aud = Array.isArray(v.payload.aud) ? v.payload.aud[0] : v.payload.aud;
    if (clientId !== undefined && clientId !== aud) throw appError('id_token_hint_client_mismatch');
    clientId = aud;
    hint = { sub: v.payload.sub, sid: typeof v.payload.sid === 'string' ? v.payload.sid : undefined };
  }
  const app = clientId ? await findApp(deps, clientId) : undefined;
  if (clientId && !app) throw appError('unknown_app', { party: 'client' });
  if (p.post_logout_redirect_uri === undefined) return { app, hint };
  if (!app) throw appError('logout_uri_needs_app', { party: 'client' });
  if (!isRegisteredLogoutUri(app, p.post_logout_redirect_uri)) throw appError('logout_uri_not_registered', { party: 'client' });
  const url = new URL(p.post_logout_redirect_uri);
  if (p.state !== undefined) url.searchParams.set('state', p.state);
  return { app, hint, continueTo: url.toString() };
}
