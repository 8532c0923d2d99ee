// Signing keys: RSA-2048, RS256, kid = RFC 7638 thumbprint. Private keys are encrypted at rest with
// AES-256-GCM under a key derived from KEYMASTER_SECRET; the kid is the AAD so a ciphertext cannot be
// moved to another row. The KeyRing caches the active key and the JWKS body and can reload.
import { createHash, createPrivateKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { calculateJwkThumbprint, exportJWK, SignJWT, type JWK, type JWTPayload } from 'jose';
import { sql } from 'kysely';
import type { Clock } from '../../lib/clock.js';
import { decrypt, deriveKey, encrypt } from '../../lib/crypto.js';
import type { Db } from '../../storage/db.js';
import type { SigningKeyRow } from '../../storage/schema.js';
import { findActiveKey, insertKey, listPublishableKeys } from './key-store.js';

const generateKeyPairAsync = promisify(generateKeyPair);
const KEYGEN_LOCK = 0x6b6b6579; // "kkey"

export interface PublicJwk extends JWK {
  kid: string;
  kty: 'RSA';
  alg: 'RS256';
  use: 'sig';
  n: string;
  e: string;
}

interface KeyDeps {
  db: Db;
  clock: Clock;
  secret: string;
}

export async function generateSigningKey(deps: KeyDeps, state: 'next' | 'active'): Promise<SigningKeyRow['kid']> {
  const { privateKey, publicKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
  const { kty, n, e } = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint({ kty: kty!, n: n!, e: e! }, 'sha256');
  const jwk: PublicJwk = { kty: 'RSA', n: n!, e: e!, kid, alg: 'RS256', use: 'sig' };
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const now = deps.clock.now();
  await insertKey(deps.db, {
    kid,
    public_jwk: JSON.stringify(jwk),
    private_key_enc: encrypt(deriveKey(deps.secret, 'signing-keys'), pem, kid),
    state,
    created_at: now,
    activated_at: state === 'active' ? now : null,
  });
  return kid;
}

/** Makes the first key on first start. Serialised by an advisory lock so N processes make exactly one. */
export async function ensureActiveKey(deps: KeyDeps): Promise<void> {
  if (await findActiveKey(deps.db)) return;
  await deps.db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(${KEYGEN_LOCK})`.execute(trx);
    if (await findActiveKey(trx)) return;
    await generateSigningKey({ ...deps, db: trx }, 'active');
  });
}

export interface ActiveKey {
  kid: string;
  privateKey: KeyObject;
}

/**
 * In-process cache of what the database says about keys: the active private key and the JWKS body
 * (serialised once, with its ETag). `reload()` re-reads the table; nothing here is the source of truth.
 */
export class KeyRing {
  #active: ActiveKey | undefined;
  #jwksBody = '{"keys":[]}';
  #etag = '';
  #publicKeys = new Map<string, PublicJwk>();

  constructor(private readonly deps: KeyDeps) {}

  async reload(): Promise<void> {
    const rows = await listPublishableKeys(this.deps.db);
    const active = rows.find((r) => r.state === 'active');
    if (!active) throw new Error('no active signing key (run migrations and start the server once)');
    if (this.#active?.kid !== active.kid) {
      const pem = decrypt(deriveKey(this.deps.secret, 'signing-keys'), active.private_key_enc, active.kid);
      this.#active = { kid: active.kid, privateKey: createPrivateKey(pem) };
    }
    const keys = rows.map((r) => r.public_jwk as unknown as PublicJwk);
    this.#publicKeys = new Map(keys.map((k) => [k.kid, k]));
    this.#jwksBody = JSON.stringify({ keys });
    this.#etag = `"${createHash('sha256').update(this.#jwksBody).digest('base64url').slice(0, 27)}"`;
  }

  get active(): ActiveKey {
    if (!this.#active) throw new Error('KeyRing used before reload()');
    return this.#active;
  }
  get jwksBody(): string {
    return this.#jwksBody;
  }
  get etag(): string {
    return this.#etag;
  }
  publicKey(kid: string): PublicJwk | undefined {
    return this.#publicKeys.get(kid);
  }

  /** Signs a JWT with the active key; `typ` distinguishes access tokens (at+jwt, RFC 9068) from ID tokens. */
  async sign(payload: JWTPayload, typ = 'JWT'): Promise<string> {
    const { kid, privateKey } = this.active;
    return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid, typ }).sign(privateKey);
  }
}
