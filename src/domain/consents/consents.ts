// Consent (issue 16): a third-party app (apps.third_party) gets a code only for scopes the user allowed
// it; first-party apps never ask. What was allowed is remembered per (user, app) as the union of the
// scopes granted so far, listed on /account and revocable there: revoking deletes it and ends the
// app's sign-ins for the user (refresh-token families, with their back-channel logouts).
import type { Deps } from '../../deps.js';
import { appError } from '../../errors.js';
import { isUuid, type App } from '../apps/apps.js';
import { recordAuditEvent, type RequestMeta } from '../audit/audit.js';
import { forgetLiveness } from '../tokens/liveness.js';
import { endAppSignIns } from '../tokens/token-inventory.js';
import * as store from './consent-store.js';

export interface Consent {
  id: string;
  appId: string;
  appName: string;
  logoUrl: string | null;
  scopes: string[];
  grantedAt: Date;
  updatedAt: Date;
}

/**
 * Whether /authorize must ask before answering `app` for `scopes`: never for a first-party app;
 * always when the client said prompt=consent (OIDC Core §3.1.2.1); otherwise unless a remembered
 * grant covers every scope asked for.
 */
export async function consentNeeded(
  deps: Pick<Deps, 'db'>,
  app: Pick<App, 'appId' | 'thirdParty'>,
  userId: string,
  scopes: readonly string[],
  forced: boolean,
): Promise<boolean> {
  if (!app.thirdParty) return false;
  if (forced) return true;
  const remembered = await store.findConsent(deps.db, userId, app.appId);
  return !remembered || scopes.some((s) => !remembered.scopes.includes(s));
}

/** Remembers that the user allowed `scopes` (added to what they allowed before). */
export async function grantConsent(
  deps: Pick<Deps, 'db' | 'clock'>,
  grant: { userId: string; appId: string; scopes: readonly string[] },
  meta: RequestMeta = {},
): Promise<void> {
  const row = await store.upsertConsent(deps.db, {
    user_id: grant.userId,
    app_id: grant.appId,
    scopes: [...grant.scopes],
    now: deps.clock.now(),
  });
  await recordAuditEvent(
    deps,
    { event: 'consent.granted', userId: grant.userId, appId: grant.appId, data: { scopes: grant.scopes, remembered: row.scopes } },
    meta,
  );
}

export async function listConsents(deps: Pick<Deps, 'db'>, userId: string): Promise<Consent[]> {
  return (await store.listUserConsents(deps.db, userId)).map((r) => ({
    id: r.id,
    appId: r.app_id,
    appName: r.app_name,
    logoUrl: r.logo_url,
    scopes: r.scopes,
    grantedAt: r.granted_at,
    updatedAt: r.updated_at,
  }));
}

/**
 * Revokes one of the user's own grants and ends that app's sign-ins for the user, in one transaction.
 * Someone else's grant (or an unknown id) is 404, alike, and changes nothing.
 */
export async function revokeConsent(
  deps: Pick<Deps, 'db' | 'clock' | 'liveness'>,
  userId: string,
  consentId: string,
  meta: RequestMeta = {},
): Promise<{ appId: string; families: number }> {
  const now = deps.clock.now();
  const result = !isUuid(consentId)
    ? undefined
    : await deps.db.transaction().execute(async (trx) => {
        const gone = await store.deleteUserConsent(trx, userId, consentId);
        if (!gone) return undefined;
        const families = await endAppSignIns({ db: trx }, { userId, appId: gone.app_id, now, reason: 'consent_revoked' });
        return { appId: gone.app_id, families: families.length };
      });
  if (!result) throw appError('consent_not_found');
  forgetLiveness(deps, userId);
  await recordAuditEvent(deps, { event: 'consent.revoked', userId, appId: result.appId, data: { families: result.families } }, meta);
  return result;
}
