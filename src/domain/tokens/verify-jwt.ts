// Verification of JWTs we signed: RS256 only, a kid we publish, our issuer, the expected typ.
// `alg: none`, HS256 keyed with our public key and unknown kids all fail here (DESIGN.md §4.7).
import { errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import type { Deps } from '../../deps.js';

export type VerifyResult = { ok: true; payload: JWTPayload; expired: boolean } | { ok: false; reason: string; expired: boolean };

export async function verifyOurJwt(
  deps: Pick<Deps, 'config' | 'clock' | 'keys'>,
  token: string,
  opts: { typ: 'at+jwt' | 'JWT'; audience?: string; allowExpired?: boolean },
): Promise<VerifyResult> {
  try {
    const { payload } = await jwtVerify(
      token,
      async (header) => {
        const jwk = header.kid ? deps.keys.publicKey(header.kid) : undefined;
        if (!jwk) throw new joseErrors.JWKSNoMatchingKey();
        return jwk;
      },
      {
        algorithms: ['RS256'],
        issuer: deps.config.issuer,
        typ: opts.typ,
        // jose checks exp only when present: a token without one would never expire (RFC 9068 §2.2,
        // OIDC Core §2 make these claims required).
        requiredClaims: ['exp', 'iat', 'iss', 'sub'],
        currentDate: deps.clock.now(),
        ...(opts.audience !== undefined && { audience: opts.audience }),
      },
    );
    return { ok: true, payload, expired: false };
  } catch (err) {
    // jose checks the signature before the claims, so an expired token's payload is authentic.
    const expired = err instanceof joseErrors.JWTExpired;
    if (expired && opts.allowExpired) return { ok: true, payload: err.payload, expired: true };
    return { ok: false, reason: (err as Error).message, expired };
  }
}
