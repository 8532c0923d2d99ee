// ID tokens (OIDC Core §2, §3.1.3.6): RS256, typ JWT, aud = client_id, at_hash of the access token,
// auth_time, nonce, sid, amr and acr when known (auth-context.ts); the user's claims only as the
// granted scope allows (OIDC Core §5.4, claims.ts) and those asked for with the `claims` parameter
// (§5.5, claims-request.ts).
import { createHash } from 'node:crypto';
import type { Deps } from '../../deps.js';
import { epochSeconds } from '../../lib/clock.js';
import type { App } from '../apps/apps.js';
import { authContextClaims } from './auth-context.js';
import { namedClaims, scopedClaims, type ClaimsUser } from './claims.js';

/** ID tokens live as long as the app's access tokens. */
export async function issueIdToken(
  deps: Pick<Deps, 'config' | 'clock' | 'keys'>,
  input: {
    user: ClaimsUser;
    app: App;
    scope: string;
    accessToken: string;
    authTime: Date | null;
    /** How the user signed in (auth-context.ts); null or absent: unknown, amr and acr omitted. */
    amr?: string | null;
    /** Claims asked for in the ID token with the `claims` parameter (OIDC Core §5.5). */
    claims?: readonly string[];
    nonce?: string | null;
    sessionId?: string | null;
    ttl: number;
  },
): Promise<string> {
  const iat = epochSeconds(deps.clock.now());
  const { user, scope } = input;
  const claims: Record<string, unknown> = {
    iss: deps.config.issuer,
    sub: user.id,
    aud: input.app.appId,
    azp: input.app.appId,
    iat,
    exp: iat + input.ttl,
    at_hash: atHash(input.accessToken),
    ...(input.authTime && { auth_time: epochSeconds(input.authTime) }),
    ...(input.nonce && { nonce: input.nonce }),
    ...(input.sessionId && { sid: input.sessionId }),
    ...authContextClaims(input.amr),
    ...namedClaims(user, input.claims ?? []),
    ...scopedClaims(user, scope),
  };
  return deps.keys.sign(claims, 'JWT');
}

/** OIDC Core §3.1.3.6: base64url of the left half of SHA-256 of the access token (RS256). */
export function atHash(accessToken: string): string {
  return createHash('sha256').update(accessToken, 'ascii').digest().subarray(0, 16).toString('base64url');
}
