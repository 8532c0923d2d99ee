// Bootstrap (issue 14): a fresh server has no admin. `keymaster admin create` makes one from the CLI;
// on the first start, while no platform admin exists, the server issues a one-time setup link whose
// page creates the first administrator. The link's token is random; only its SHA-256 is stored, in a
// single-row table, so issuing a new link (every start while there is still no admin) ends the old
// one, and at most one link is valid at a time however many processes start. It works until it is
// used, until any platform admin exists, or for 24 hours.
import type { Deps } from '../../deps.js';
import { appError } from '../../errors.js';
import { HOUR } from '../../lib/clock.js';
import { randomToken, safeEqual, sha256 } from '../../lib/crypto.js';
import { assertPasswordPolicy } from '../accounts/password-policy.js';
import { recordAuditEvent, type RequestMeta } from '../audit/audit.js';
import { hashPassword } from '../users/passwords.js';
import {
  createUser,
  createUserIfEmailFree,
  Email,
  findUserRecordByEmail,
  markEmailVerified,
  Password,
  toUser,
  type User,
} from '../users/users.js';
import { insertGrant, platformAdminExists } from './operator-grant-store.js';
import { grantTierAsOperator } from './operator-grants.js';
import { findSetupLink, lockSetupLink, markSetupLinkUsed, replaceSetupLink, type SetupLinkRow } from './setup-store.js';

export const SETUP_LINK_TTL_MS = 24 * HOUR;

export interface CreatedAdmin {
  user: User;
  /** False when the email belonged to an existing user (their password is left as it was). */
  userCreated: boolean;
  grantId: string;
  /** False when the user already was a platform admin. */
  grantCreated: boolean;
}

/**
 * `keymaster admin create`: the user with this email (created, email verified, when there is none)
 * becomes a platform admin. `password` is asked for only when a user has to be created.
 */
export async function createPlatformAdmin(
  deps: Pick<Deps, 'db' | 'clock' | 'config'>,
  input: { email: string; name?: string | undefined; password: () => Promise<string | undefined> },
  meta: RequestMeta = {},
): Promise<CreatedAdmin> {
  const email = Email.parse(input.email);
  const existing = await findUserRecordByEmail(deps, email);
  let user: User;
  if (existing) {
    user = toUser(existing);
    if (!existing.email_verified_at) {
      user = toUser((await markEmailVerified(deps, existing.id, deps.clock.now()))!);
      await recordAuditEvent(deps, { event: 'user.email_verified', userId: existing.id }, meta);
    }
  } else {
    const password = await input.password();
    if (!password)
      throw appError('usage', {
        message: `${email} has no account yet: give its password on stdin with --password-stdin, or run on a terminal to be asked for it`,
      });
    assertPasswordPolicy(deps.config.passwordPolicy, Password.parse(password));
    user = await createUser(deps, { email, password, name: input.name, verified: true }, meta);
  }
  const grant = await grantTierAsOperator(deps, { userId: user.id, tier: 'platform_admin' }, meta);
  return { user, userCreated: !existing, grantId: grant.grantId, grantCreated: grant.created };
}

/** A new setup link (the old one stops working), or undefined when a platform admin exists. */
export async function issueSetupLink(deps: Pick<Deps, 'db' | 'clock' | 'config'>): Promise<{ url: string; expiresAt: Date } | undefined> {
  const token = randomToken(32);
  const now = deps.clock.now();
  const expiresAt = new Date(now.getTime() + SETUP_LINK_TTL_MS);
  const issued = await deps.db.transaction().execute(async (tx) => {
    if (await platformAdminExists(tx)) return false;
    await replaceSetupLink(tx, { token_hash: sha256(token), created_at: now, expires_at: expiresAt });
    return true;
  });
  return issued ? { url: `${deps.config.issuer}/setup?token=${token}`, expiresAt } : undefined;
}

/** At start-up: while there is no admin, logs a new setup link (once per start). */
export async function announceSetupLink(deps: Pick<Deps, 'db' | 'clock' | 'config' | 'log'>): Promise<void> {
  const link = await issueSetupLink(deps);
  if (!link) return;
  deps.log.warn(
    { event: 'setup.link_issued', expiresAt: link.expiresAt.toISOString() },
    `No administrator yet. Open ${link.url} to create the first one (the link works once, for 24 hours, ` +
      'until the next restart, or until an administrator exists), or run `keymaster admin create --email <email>`.',
  );
}

const usable = (link: SetupLinkRow | undefined, token: string, now: Date): boolean =>
  link !== undefined && link.used_at === null && link.expires_at > now && safeEqual(link.token_hash, sha256(token));

/** Whether the setup page may be shown for this token. */
export async function isSetupLinkUsable(deps: Pick<Deps, 'db' | 'clock'>, token: string): Promise<boolean> {
  if (!usable(await findSetupLink(deps.db), token, deps.clock.now())) return false;
  return !(await platformAdminExists(deps.db));
}

/**
 * The setup page's POST: the user and their platform_admin grant, in ONE transaction that holds the
 * setup link's row lock, and only while no platform admin exists: of two concurrent submits, the
 * second waits for the first and then finds the link used (exactly one admin). Throws
 * `setup_link_invalid` for a wrong, used or expired token, `email_already_registered` for a taken email.
 */
export async function createFirstAdmin(
  deps: Pick<Deps, 'db' | 'clock' | 'config'>,
  input: { token: string; email: string; name?: string | undefined; password: string },
  meta: RequestMeta = {},
): Promise<User> {
  // A cheap refusal first, so that a wrong token costs no argon2 hash.
  if (!(await isSetupLinkUsable(deps, input.token))) throw appError('setup_link_invalid');
  const email = Email.parse(input.email);
  assertPasswordPolicy(deps.config.passwordPolicy, Password.parse(input.password));
  const passwordHash = await hashPassword(input.password);
  const outcome = await deps.db.transaction().execute(async (tx) => {
    const now = deps.clock.now();
    if (!usable(await lockSetupLink(tx), input.token, now) || (await platformAdminExists(tx))) return { kind: 'invalid' as const };
    const row = await createUserIfEmailFree({ db: tx }, { email, name: input.name ?? null, passwordHash, emailVerifiedAt: now });
    if (!row) return { kind: 'email_taken' as const };
    const grantId = (await insertGrant(tx, { user_id: row.id, tier: 'platform_admin', tenant_id: null, app_id: null, created_by: null }))!;
    await markSetupLinkUsed(tx, now);
    const auditDeps = { db: tx, clock: deps.clock };
    await recordAuditEvent(auditDeps, { event: 'user.created', userId: row.id, data: { source: 'setup_link' } }, meta);
    await recordAuditEvent(
      auditDeps,
      { event: 'admin.granted', userId: row.id, data: { grant_id: grantId, tier: 'platform_admin' } },
      meta,
    );
    return { kind: 'created' as const, user: toUser(row) };
  });
  if (outcome.kind === 'invalid') throw appError('setup_link_invalid');
  if (outcome.kind === 'email_taken') throw appError('email_already_registered');
  return outcome.user;
}
