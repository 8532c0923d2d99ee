// The public keys a private_key_jwt client signs its assertions with (RFC 7523 §2.2, OIDC Core §9):
// what a registered JWK Set may hold. Public keys of the asymmetric algorithms Keymaster verifies
// only; a set carrying a private or symmetric member is refused, not trimmed (its owner leaked it).
import { z } from 'zod';

/** The client assertion algorithms accepted (never HS*, never none: a client secret is not a key). */
export const CLIENT_ASSERTION_ALGS = ['RS256', 'PS256', 'ES256', 'EdDSA'] as const;

/** Members that only a private or symmetric JWK has (RFC 7518 §6.2.2, §6.3.2, §6.4.1; RFC 8037 §2). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;
const b64url = (max: number) =>
  z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'must be base64url')
    .max(max);

const Common = {
  kid: z.string().min(1).max(200).optional(),
  use: z.literal('sig').optional(),
  alg: z.enum(CLIENT_ASSERTION_ALGS).optional(),
  key_ops: z.array(z.literal('verify')).optional(),
};

const PublicJwk = z
  .discriminatedUnion('kty', [
    // 2048-bit modulus at least (342 base64url characters), 8192 at most.
    z.looseObject({ kty: z.literal('RSA'), n: b64url(1366).min(342, 'RSA keys must be at least 2048 bits'), e: b64url(16), ...Common }),
    z.looseObject({ kty: z.literal('EC'), crv: z.literal('P-256'), x: b64url(64), y: b64url(64), ...Common }),
    z.looseObject({ kty: z.literal('OKP'), crv: z.literal('Ed25519'), x: b64url(64), ...Common }),
  ])
  .refine((k) => PRIVATE_MEMBERS.every((m) => !(m in k)), 'must be a public key (no private members)')
  .refine((k) => k.alg === undefined || algFits(k.kty, k.alg), 'alg does not fit the key type');

function algFits(kty: string, alg: string): boolean {
  if (kty === 'RSA') return alg === 'RS256' || alg === 'PS256';
  return kty === 'EC' ? alg === 'ES256' : alg === 'EdDSA';
}

/** A public JWK Set (RFC 7517 §5): 1–20 keys; kids unique where given. */
export const PublicJwks = z.looseObject({ keys: z.array(PublicJwk).min(1, 'needs at least one key').max(20) }).refine((s) => {
  const kids = s.keys.flatMap((k) => (k.kid === undefined ? [] : [k.kid]));
  return new Set(kids).size === kids.length;
}, 'kid values must be unique');
export type PublicJwks = z.infer<typeof PublicJwks>;

/** Where a JWK Set is fetched from; whether http: is allowed is checkClientSettings's loopback rule. */
export const JwksUri = z
  .string()
  .max(2000)
  .refine((v) => URL.canParse(v) && /^https?:$/.test(new URL(v).protocol) && !v.includes('#'), 'must be an absolute http(s) URI');
