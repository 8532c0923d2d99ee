// Forged JWTs for the forged-token suite: every way an attacker might make a token we should refuse.
// Built by hand (base64url JSON + signature) so nothing in jose can "fix" them on the way out.
import { createHmac, createPublicKey, createSign, generateKeyPairSync } from 'node:crypto';
import { exportJWK } from 'jose';
import type { Deps } from '../../src/deps.js';

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

export function decodeParts(token: string): { header: Record<string, unknown>; payload: Record<string, unknown>; signature: string } {
  const [h, p, s] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(h!, 'base64url').toString()),
    payload: JSON.parse(Buffer.from(p!, 'base64url').toString()),
    signature: s ?? '',
  };
}

/** alg none, empty signature. */
export function algNone(header: Record<string, unknown>, payload: Record<string, unknown>): string {
  return `${b64({ ...header, alg: 'none' })}.${b64(payload)}.`;
}

/** HS256 with `secret` as the HMAC key: the classic key-confusion attack when secret is our public key. */
export function hs256(header: Record<string, unknown>, payload: Record<string, unknown>, secret: string | Buffer): string {
  const input = `${b64({ ...header, alg: 'HS256' })}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** RS256 signed with an attacker's own key, whatever the header says (kid, jku, x5u, jwk...). */
export const attackerKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
export function rs256WithAttackerKey(header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const input = `${b64({ ...header, alg: 'RS256' })}.${b64(payload)}`;
  return `${input}.${createSign('RSA-SHA256').update(input).sign(attackerKeys.privateKey).toString('base64url')}`;
}
export const attackerJwk = async () => ({ ...(await exportJWK(attackerKeys.publicKey)), alg: 'RS256', use: 'sig' });

/** Our real signature over a different payload: signature of token A, payload of token B. */
export function tamperPayload(token: string, changes: Record<string, unknown>): string {
  const [h, p, s] = token.split('.');
  const payload = { ...JSON.parse(Buffer.from(p!, 'base64url').toString()), ...changes };
  return `${h}.${b64(payload)}.${s}`;
}

/** Signs with OUR active private key (via the key ring), so only the claims or typ make the token wrong. */
export async function signWithOurKey(
  deps: Pick<Deps, 'keys'>,
  payload: Record<string, unknown>,
  header: Record<string, unknown> = {},
): Promise<string> {
  const { kid, privateKey } = deps.keys.active;
  const input = `${b64({ alg: 'RS256', kid, typ: 'at+jwt', ...header })}.${b64(payload)}`;
  return `${input}.${createSign('RSA-SHA256').update(input).sign(privateKey).toString('base64url')}`;
}

/** Our public key in every byte form a confused verifier might use as an HMAC secret. */
export function publicKeyForms(deps: Pick<Deps, 'keys'>): { name: string; secret: string }[] {
  const jwk = deps.keys.publicKey(deps.keys.active.kid)!;
  const pub = createPublicKey(deps.keys.active.privateKey);
  return [
    { name: 'public key SPKI PEM', secret: pub.export({ type: 'spki', format: 'pem' }).toString() },
    { name: 'public key PKCS#1 PEM', secret: pub.export({ type: 'pkcs1', format: 'pem' }).toString() },
    { name: 'public JWK JSON', secret: JSON.stringify(jwk) },
    { name: 'JWK n', secret: jwk.n },
  ];
}
