// The `claims` request parameter (OIDC Core §5.5): individual claims asked for in the ID token
// (`id_token`) and at /userinfo (`userinfo`), on top of those the scope grants (claims.ts). Each
// member maps a claim name to null or {essential, value, values} (§5.5.1); all three are accepted,
// and the claim is returned as the user's value whatever `value` says (a voluntary request; `essential`
// changes nothing either, §5.5.1: the request does not fail when a claim cannot be returned). Claim
// names Keymaster does not hold are ignored, and so are those the app may not have. A first-party app
// (asks no consent) gets a claim when it is allowed the scope that carries it (CLAIM_SCOPES), as §5.5
// intends (`scope=openid` plus a claim request for `name`). A third-party app gets one only when that
// scope is among the request's granted scopes: its consent page names those scopes and nothing else,
// so the parameter never widens what it learns beyond what the user allowed (docs/SECURITY.md).
// Malformed JSON or a malformed member is invalid_request (by redirect: authorization.ts).
import { z } from 'zod';
import type { App } from '../apps/apps.js';

/** Each user claim we hold and the scope that carries it (claims.ts). */
export const CLAIM_SCOPES: Readonly<Record<string, string>> = {
  name: 'profile',
  updated_at: 'profile',
  email: 'email',
  email_verified: 'email',
  roles: 'roles',
};

/** The validated request: for each target, the names of the claims granted (sorted, unique). */
export interface RequestedClaims {
  userinfo: string[];
  id_token: string[];
}

const Individual = z.union([
  z.null(),
  z.looseObject({
    essential: z.boolean().optional(),
    value: z.unknown().optional(),
    values: z.array(z.unknown()).optional(),
  }),
]);
const Member = z.record(z.string().max(200), Individual);
const ClaimsParam = z.looseObject({ userinfo: Member.optional(), id_token: Member.optional() });

/**
 * The claims parameter as `app` may have it for a request granted `grantedScopes`; 'invalid' when it
 * is not JSON of §5.5's shape.
 */
export function parseClaimsRequest(
  app: Pick<App, 'allowedScopes' | 'thirdParty'>,
  raw: string,
  grantedScopes: readonly string[],
): RequestedClaims | 'invalid' {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return 'invalid';
  }
  const parsed = ClaimsParam.safeParse(json);
  if (!parsed.success) return 'invalid';
  const scopes = app.thirdParty ? grantedScopes : app.allowedScopes;
  const granted = (member: Record<string, unknown> | undefined) =>
    Object.keys(member ?? {})
      .filter((name) => Object.hasOwn(CLAIM_SCOPES, name) && scopes.includes(CLAIM_SCOPES[name]!))
      .sort();
  return { userinfo: granted(parsed.data.userinfo), id_token: granted(parsed.data.id_token) };
}

/** The stored form (authorization_codes.requested_claims): JSON, or null when nothing was granted. */
export function formatRequestedClaims(r: RequestedClaims | undefined): string | null {
  return r && (r.userinfo.length > 0 || r.id_token.length > 0) ? JSON.stringify(r) : null;
}

const Stored = z.object({ userinfo: z.array(z.string()), id_token: z.array(z.string()) });

/** The stored form read back; nothing asked for when null (or, defensively, unreadable). */
export function readRequestedClaims(stored: string | null): RequestedClaims {
  if (stored === null) return { userinfo: [], id_token: [] };
  try {
    return Stored.parse(JSON.parse(stored));
  } catch {
    return { userinfo: [], id_token: [] };
  }
}
