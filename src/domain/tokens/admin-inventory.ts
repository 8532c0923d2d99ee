// The Admin API's view of refresh tokens (seed 001): a user's tokens and live sign-ins, an app's
// tokens, revocation. Each function takes `appIds`, the apps the acting admin may see (undefined: a
// platform admin, every app); a token, sign-in or family outside them is "not found", exactly like an
// unknown one, so a scoped admin learns nothing about other apps. Revocation goes through the same
// functions as the CLI (token-inventory.ts) once the target is known to be within reach.
import type { Deps } from '../../deps.js';
import { appError } from '../../errors.js';
import { z } from 'zod';
import { decodeCursor, encodeCursor } from '../../lib/cursor.js';
import { isUuid } from '../apps/apps.js';
import { recordAuditEvent, type RequestMeta } from '../audit/audit.js';
import { forgetLiveness } from './liveness.js';
import * as store from './admin-inventory-store.js';
import { endAppSignIns, revokeTokens, signOutEverywhere, toTokenInfo, type TokenInfo } from './token-inventory.js';

export const TOKEN_PAGE = { default: 50, max: 200 } as const;

export interface TokenPage {
  tokens: TokenInfo[];
  next: string | undefined;
}

type Scope = readonly string[] | undefined;

const inScope = (appIds: Scope, appId: string) => appIds === undefined || appIds.includes(appId);

function pageLimit(limit: number | undefined): number {
  return Math.min(Math.max(limit ?? TOKEN_PAGE.default, 1), TOKEN_PAGE.max);
}

function afterOf(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  const key = decodeCursor(z.tuple([z.uuid()]), cursor);
  if (!key) throw appError('cursor_invalid');
  return key[0];
}

async function page(deps: Pick<Deps, 'db' | 'clock'>, f: store.TokenPageFilter): Promise<TokenPage> {
  const now = deps.clock.now();
  const rows = await store.listTokensPage(deps.db, { ...f, limit: f.limit + 1 });
  const more = rows.length > f.limit;
  const shown = more ? rows.slice(0, f.limit) : rows;
  return { tokens: shown.map((r) => toTokenInfo(r, now)), next: more ? encodeCursor([shown[shown.length - 1]!.jti]) : undefined };
}

/** A user's refresh tokens, newest first; `active` keeps the usable ones (one per live sign-in). */
export async function listUserTokensPage(
  deps: Pick<Deps, 'db' | 'clock'>,
  userId: string,
  f: { appIds: Scope; appId?: string | undefined; active?: boolean | undefined; cursor?: string | undefined; limit?: number | undefined },
): Promise<TokenPage> {
  const afterJti = afterOf(f.cursor);
  // A filter on an app out of reach answers like an app with no tokens.
  if (f.appId !== undefined && !inScope(f.appIds, f.appId)) return { tokens: [], next: undefined };
  return page(deps, {
    userId,
    appId: f.appId,
    appIds: f.appIds,
    liveAt: f.active ? deps.clock.now() : undefined,
    afterJti,
    limit: pageLimit(f.limit),
  });
}

/** An app's refresh tokens (seed 001's inventory), newest first; `keysOnly`: those an admin created. */
export async function listAppTokensPage(
  deps: Pick<Deps, 'db' | 'clock'>,
  appId: string,
  f: { active?: boolean | undefined; keysOnly?: boolean | undefined; cursor?: string | undefined; limit?: number | undefined },
): Promise<TokenPage> {
  return page(deps, {
    appId,
    liveAt: f.active ? deps.clock.now() : undefined,
    keysOnly: f.keysOnly,
    afterJti: afterOf(f.cursor),
    limit: pageLimit(f.limit),
  });
}

/** The user's live sign-ins (one live token per refresh-token family) within reach, newest first. */
export async function listUserSignInsPage(
  deps: Pick<Deps, 'db' | 'clock'>,
  userId: string,
  f: { appIds: Scope; cursor?: string | undefined; limit?: number | undefined },
): Promise<TokenPage> {
  return page(deps, { userId, appIds: f.appIds, liveAt: deps.clock.now(), afterJti: afterOf(f.cursor), limit: pageLimit(f.limit) });
}

/**
 * Revokes the family of `jti` (or the family `familyId`): 404 when unknown or out of reach. When
 * `appId` is given the token must also belong to that app (the app's own inventory route).
 */
export async function revokeTokenFamilyAsAdmin(
  deps: Pick<Deps, 'db' | 'clock' | 'liveness'>,
  target: { jti: string } | { familyId: string },
  scope: { appIds: Scope; appId?: string | undefined },
  meta: RequestMeta,
): Promise<{ revoked: number; familyId: string }> {
  const row =
    'jti' in target
      ? isUuid(target.jti)
        ? await store.findTokenByJti(deps.db, target.jti)
        : undefined
      : isUuid(target.familyId)
        ? await store.findFamilyToken(deps.db, target.familyId)
        : undefined;
  const reachable = row && inScope(scope.appIds, row.app_id) && (scope.appId === undefined || row.app_id === scope.appId);
  if (!row || !reachable) {
    throw 'jti' in target ? appError('refresh_token_not_found', { jti: target.jti }) : appError('token_family_not_found', target);
  }
  const r = await revokeTokens(deps, { familyId: row.family_id }, meta);
  return { revoked: r.revoked, familyId: row.family_id };
}

/** Ends one live sign-in (family) of the user; 404 when it is not theirs, not live or out of reach. */
export async function endUserSignIn(
  deps: Pick<Deps, 'db' | 'clock' | 'liveness'>,
  userId: string,
  familyId: string,
  appIds: Scope,
  meta: RequestMeta,
): Promise<number> {
  const row = isUuid(familyId) ? await store.findFamilyToken(deps.db, familyId) : undefined;
  if (!row || row.user_id !== userId || !inScope(appIds, row.app_id)) throw appError('session_not_found');
  const { revoked } = await revokeTokens(deps, { familyId }, meta);
  if (revoked === 0) throw appError('session_not_found');
  return revoked;
}

/**
 * Sign-out-everywhere by an admin. A platform admin ends everything (every token, SSO session and
 * earlier access token: signOutEverywhere). A scoped admin ends the user's sign-ins in the apps within
 * reach only: another tenant's apps, and the user's SSO sessions (which span apps), are not theirs.
 */
export async function signOutUserAsAdmin(
  deps: Pick<Deps, 'db' | 'clock' | 'liveness'>,
  userId: string,
  appIds: Scope,
  meta: RequestMeta,
): Promise<{ revoked: number; sessions: number; apps: string[] | undefined }> {
  if (appIds === undefined) return { ...(await signOutEverywhere(deps, userId, meta)), apps: undefined };
  const now = deps.clock.now();
  const apps = await store.liveAppsOfUser(deps.db, userId, now, appIds);
  const families = await deps.db.transaction().execute(async (trx) => {
    const ended: string[] = [];
    for (const appId of apps) ended.push(...(await endAppSignIns({ db: trx }, { userId, appId, now, reason: 'admin' })));
    return ended;
  });
  forgetLiveness(deps, userId);
  // One event per app, so each app's admins find it in their audit list.
  for (const appId of apps)
    await recordAuditEvent(deps, { event: 'user.signed_out_everywhere', userId, appId, data: { scoped: true } }, meta);
  return { revoked: families.length, sessions: 0, apps };
}
