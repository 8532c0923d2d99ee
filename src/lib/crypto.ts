// Domain-free crypto helpers: random secrets, hashing, constant-time comparison, AES-256-GCM.
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

/** 32 random bytes as 64 hex characters: the format of refresh tokens, client secrets and cookie ids. */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('hex');
}

/** HMAC-SHA256 of `value` under `key`, hex. */
export function hmacSha256(key: Buffer, value: string): string {
  return createHmac('sha256', key).update(value, 'utf8').digest('hex');
}

export function sha256(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/**
 * Constant-time string equality. Both sides are hashed first so that inputs of different lengths
 * neither throw (timingSafeEqual requires equal lengths) nor leak their length through timing.
 */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a, 'utf8').digest();
  const hb = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb);
}

/** Derives a purpose-bound 256-bit key from KEYMASTER_SECRET (HKDF-SHA256), so one secret serves several uses. */
// HKDF is pure and the (secret, purpose) pairs are few and fixed, so each key is derived once: the
// refresh path would derive one per request otherwise (it showed in a profile).
const derived = new Map<string, Buffer>();

export function deriveKey(secret: string, purpose: string): Buffer {
  const id = `${purpose}\u0000${secret}`;
  let key = derived.get(id);
  if (!key) {
    key = Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.alloc(0), `keymaster:${purpose}`, 32));
    derived.set(id, key);
  }
  return key;
}

/** AES-256-GCM; output is `v1.<iv>.<tag>.<ciphertext>` in base64url. `aad` binds the ciphertext to its row. */
export function encrypt(key: Buffer, plaintext: string, aad = ''): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', iv, cipher.getAuthTag(), body].map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join('.');
}

export function decrypt(key: Buffer, box: string, aad = ''): string {
  const [version, iv, tag, body] = box.split('.');
  if (version !== 'v1' || !iv || !tag || body === undefined) throw new Error('unrecognised ciphertext format');
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
}
