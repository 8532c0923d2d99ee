// Signing keys: RSA-2048, RS256, kid = RFC 7638 thumbprint. Private keys are encrypted at rest with
// AES-256-GCM under a key derived from KEYMASTER_SECRET; the kid is the AAD so a ciphertext cannot be
// moved to another row. The KeyRing caches the active key and the JWKS body and can reload.
//
// Lifecycle: next → active → previous → retired. A next key is published for at least one JWKS cache
// period (plus two polls, so every process serves it) before it signs; the key it replaces stays
// published until every token it signed has expired, then retires. Every step runs under one advisory
// lock, so any number of processes (and the CLI) may run advanceKeyLifecycle at once.
import { createHash, createPrivateKey, generateKeyPair, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { calculateJwkThumbprint, exportJWK, type JWK, type JWTPayload } from 'jose';
import { sql } from 'kysely';
import type { Deps } from '../../deps.js';
import { DAY, SECOND, type Clock } from '../../lib/clock.js';
import { decrypt, deriveKey, encrypt } from '../../lib/crypto.js';
import type { Db } from '../../storage/db.js';
import type { KeyState, SigningKeyRow } from '../../storage/schema.js';
import { longestAppAccessTokenTtl } from '../apps/apps.js';
import { recordAuditEvent, type RequestMeta } from '../audit/audit.js';
import * as store from './key-store.js';
import { findActiveKey, insertKey, listPublishableKeys } from './key-store.js';

/** Resource servers may cache the JWKS this long (seconds); served as Cache-Control max-age. */
export const JWKS_MAX_AGE = 300;
/** Allowance for clock skew between us and verifiers when retiring a key (seconds). */
const RETIRE_LEEWAY = 60;

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

export async function generateSigningKey(
  deps: KeyDeps,
  state: 'next' | 'active',
  activateAt: Date | null = null,
): Promise<SigningKeyRow['kid']> {
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
    activate_at: state === 'next' ? activateAt : null,
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

type LifecycleDeps = KeyDeps & Pick<Deps, 'config'>;

/** How long a next key is published before it may sign (ms). */
export function publishLeadMs(deps: Pick<Deps, 'config'>): number {
  return (JWKS_MAX_AGE + 2 * deps.config.keyPollSeconds) * SECOND;
}

/** How long a replaced key stays published: the longest access-token lifetime plus polls and skew (ms). */
async function retireDelayMs(deps: LifecycleDeps, db: Db): Promise<number> {
  const ttl = Math.max(deps.config.accessTokenTtl, (await longestAppAccessTokenTtl({ db })) ?? 0);
  return (ttl + 2 * deps.config.keyPollSeconds + RETIRE_LEEWAY) * SECOND;
}

export interface KeyLifecycleChanges {
  scheduled: string | null;
  activated: string | null;
  retired: string[];
}

async function withKeyLock<T>(deps: KeyDeps, fn: (trx: Db) => Promise<T>): Promise<T> {
  return deps.db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(${KEYGEN_LOCK})`.execute(trx);
    return fn(trx);
  });
}

async function advanceInLock(deps: LifecycleDeps, trx: Db): Promise<KeyLifecycleChanges> {
  const now = deps.clock.now();
  const changes: KeyLifecycleChanges = { scheduled: null, activated: null, retired: [] };
  let next = await store.findNextKey(trx);
  const active = await findActiveKey(trx);
  // Automatic rotation: once the active key is old enough, schedule its successor.
  if (!next && active && deps.config.keyRotationDays > 0) {
    const since = (active.activated_at ?? active.created_at).getTime();
    if (since + deps.config.keyRotationDays * DAY <= now.getTime()) {
      const activateAt = new Date(now.getTime() + publishLeadMs(deps));
      changes.scheduled = await generateSigningKey({ ...deps, db: trx }, 'next', activateAt);
      next = await store.findNextKey(trx);
    }
  }
  if (next && (next.activate_at?.getTime() ?? 0) <= now.getTime()) {
    // Demote first: a unique index allows one active key.
    await store.demoteActiveKey(trx, new Date(now.getTime() + (await retireDelayMs(deps, trx))));
    await store.activateKey(trx, next.kid, now);
    changes.activated = next.kid;
  }
  changes.retired = await store.retireDueKeys(trx, now);
  return changes;
}

/** One step of the lifecycle: schedule, activate and retire whatever is due now. Safe to run anywhere, any time. */
export async function advanceKeyLifecycle(deps: LifecycleDeps): Promise<KeyLifecycleChanges> {
  return withKeyLock(deps, (trx) => advanceInLock(deps, trx));
}

/**
 * `keymaster keys rotate`: publishes a next key now; it signs after one publication lead (or at once
 * with `immediate`, for a compromised key: verifiers with a cached JWKS may then reject new tokens until
 * their cache expires). An already scheduled next key is reused, not duplicated.
 */
export async function rotateSigningKey(
  deps: LifecycleDeps,
  opts: { immediate?: boolean } = {},
  meta?: RequestMeta,
): Promise<{ kid: string; activateAt: Date; changes: KeyLifecycleChanges }> {
  const rotated = await withKeyLock(deps, async (trx) => {
    const now = deps.clock.now();
    const activateAt = opts.immediate ? now : new Date(now.getTime() + publishLeadMs(deps));
    const existing = await store.findNextKey(trx);
    let kid: string;
    if (existing) {
      kid = existing.kid;
      if (opts.immediate) await store.setActivateAt(trx, kid, now);
    } else {
      kid = await generateSigningKey({ ...deps, db: trx }, 'next', activateAt);
    }
    const changes = await advanceInLock(deps, trx);
    const row = (await store.listAllKeys(trx)).find((k) => k.kid === kid)!;
    return { kid, activateAt: row.activate_at ?? row.activated_at ?? now, changes };
  });
  // The Admin API's rotations are audited with the acting admin (the CLI's go to its own log).
  if (meta) {
    const data = { kid: rotated.kid, immediate: Boolean(opts.immediate), activateAt: rotated.activateAt.toISOString() };
    await recordAuditEvent(deps, { event: 'signing_key.rotated', data }, meta);
  }
  return rotated;
}

export interface SigningKeyInfo {
  kid: string;
  state: KeyState;
  createdAt: Date;
  activateAt: Date | null;
  activatedAt: Date | null;
  retireAt: Date | null;
  retiredAt: Date | null;
}

export async function listSigningKeys(deps: Pick<KeyDeps, 'db'>, opts: { all?: boolean } = {}): Promise<SigningKeyInfo[]> {
  const rows = opts.all ? await store.listAllKeys(deps.db) : await listPublishableKeys(deps.db);
  return rows.map((r) => ({
    kid: r.kid,
    state: r.state,
    createdAt: r.created_at,
    activateAt: r.activate_at,
    activatedAt: r.activated_at,
    retireAt: r.retire_at,
    retiredAt: r.retired_at,
  }));
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
  #fingerprint = '';

  constructor(private readonly deps: KeyDeps) {}

  /** Re-reads the keys only if a published key was added or changed state; returns whether it reloaded. */
  async reloadIfChanged(): Promise<boolean> {
    const fp = fingerprintOf(await store.listPublishedKeyStates(this.deps.db));
    if (fp === this.#fingerprint) return false;
    await this.reload();
    return true;
  }

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
    this.#fingerprint = fingerprintOf(rows);
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
  // Signed synchronously with node:crypto (an RSA-2048 signature is well under a millisecond): jose
  // signs through WebCrypto, which hops to the libuv pool and back for every token. The compact form is built by hand (RFC 7515 §7.1);
  // jose and openid-client verify it in the tests.
  async sign(payload: JWTPayload, typ = 'JWT'): Promise<string> {
    const { kid, privateKey } = this.active;
    const header = Buffer.from(JSON.stringify({ alg: 'RS256', kid, typ })).toString('base64url');
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    const input = `${header}.${body}`;
    const signature = cryptoSign('sha256', Buffer.from(input), privateKey).toString('base64url');
    return `${input}.${signature}`;
  }
}

/** Sorted in JS, not SQL: the database collation must not make equal sets look different. */
function fingerprintOf(rows: { kid: string; state: string }[]): string {
  return rows
    .map((r) => `${r.kid}:${r.state}`)
    .sort()
    .join(',');
}
