// Known devices (OWASP's "device cookie" against lockout attacks, DESIGN.md §7 rule 12): a browser
// that has signed in to an account carries a signed token naming that account. Failures typed in that
// browser are counted against the browser, not the account, and the account's lock and its per-email
// limit do not apply there. So a third party who knows an email can lock the account for everyone
// else (seed 004's lockout keeps its contract), but never for a browser its owner has signed in with.
//
// The cookie holds up to MAX_ENTRIES entries `<userId>.<nonce>.<mac>`, joined by `~`; mac =
// HMAC-SHA256(key derived from KEYMASTER_SECRET, `<userId>.<nonce>`), base64url. Unsigned or altered
// entries are ignored (the browser is then a stranger, nothing worse). The nonce names the browser in
// the per-device failure counter, so it stays the same across sign-ins.
import { randomBytes } from 'node:crypto';
import { deriveKey, hmacSha256, safeEqual } from '../../lib/crypto.js';

export interface KnownDevice {
  userId: string;
  nonce: string;
}

const MAX_ENTRIES = 5;
const MAX_COOKIE_LENGTH = 1024;
const ENTRY = /^([0-9a-f-]{36})\.([A-Za-z0-9_-]{22})\.([0-9a-f]{64})$/;

function mac(secret: string, userId: string, nonce: string): string {
  return hmacSha256(deriveKey(secret, 'known-device'), `${userId}.${nonce}`);
}

/** The verified entries of a device cookie, newest first; anything malformed or unsigned is dropped. */
export function readKnownDevices(secret: string, cookie: string | undefined): KnownDevice[] {
  if (!cookie || cookie.length > MAX_COOKIE_LENGTH) return [];
  const out: KnownDevice[] = [];
  for (const part of cookie.split('~').slice(0, MAX_ENTRIES)) {
    const m = ENTRY.exec(part);
    if (m && safeEqual(m[3]!, mac(secret, m[1]!, m[2]!))) out.push({ userId: m[1]!, nonce: m[2]! });
  }
  return out;
}

/** The cookie after `userId` signed in: its entry first (same nonce if it had one), the others kept, at most MAX_ENTRIES. */
export function rememberKnownDevice(secret: string, cookie: string | undefined, userId: string): string {
  const known = readKnownDevices(secret, cookie);
  const nonce = known.find((d) => d.userId === userId)?.nonce ?? randomBytes(16).toString('base64url');
  const entries = [{ userId, nonce }, ...known.filter((d) => d.userId !== userId)].slice(0, MAX_ENTRIES);
  return entries.map((d) => `${d.userId}.${d.nonce}.${mac(secret, d.userId, d.nonce)}`).join('~');
}
