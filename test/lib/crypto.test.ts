import { describe, expect, it } from 'vitest';
import { decrypt, deriveKey, encrypt, randomToken, safeEqual, sha256 } from '../../src/lib/crypto.js';

describe('crypto helpers', () => {
  it('randomToken gives 32 random bytes as 64 hex chars', () => {
    const a = randomToken();
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(randomToken()).not.toBe(a);
  });

  it('safeEqual compares values of any length without throwing', () => {
    expect(safeEqual('abc', 'abc')).toBe(true);
    expect(safeEqual('abc', 'abcd')).toBe(false);
    expect(safeEqual('', 'x'.repeat(10_000))).toBe(false);
  });

  it('AES-256-GCM round-trips and refuses a tampered box, another key or another AAD', () => {
    const key = deriveKey('s'.repeat(40), 'test');
    const box = encrypt(key, 'secret text', 'row-1');
    expect(box).not.toContain('secret');
    expect(decrypt(key, box, 'row-1')).toBe('secret text');
    const parts = box.split('.');
    const flipped = [
      parts[0],
      parts[1],
      parts[2],
      Buffer.from('x' + Buffer.from(parts[3]!, 'base64url').toString('latin1').slice(1), 'latin1').toString('base64url'),
    ].join('.');
    expect(() => decrypt(key, flipped, 'row-1')).toThrow();
    expect(() => decrypt(deriveKey('t'.repeat(40), 'test'), box, 'row-1')).toThrow();
    expect(() => decrypt(key, box, 'row-2')).toThrow();
    expect(() => decrypt(deriveKey('s'.repeat(40), 'other-purpose'), box, 'row-1')).toThrow();
  });

  it('sha256 is hex', () => {
    expect(sha256('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});
