// Invites (issue 14): an admin invites an email address to an app with some of its roles. The code is
// random, emailed as a link to the hosted accept page (/invite), and kept only as its SHA-256. It works
// once (a conditional UPDATE), until it expires (72 hours unless told, at most 30 days), only for the
// email it was sent to, and not after it was revoked. Accepting enrols the user in the app, active,
// with the invite's roles: the one way into an app whose registration policy is `invite`.
import { z } from 'zod';
import type { Deps } from '../../deps.js';
import { appError } from '../../errors.js';
import { DEFAULT_LOCALE, isLocale } from '../../i18n/locales.js';
import { DEFAULT_BRAND_COLOR } from '../../lib/brand-palette.js';
import { HOUR } from '../../lib/clock.js';
import { decodeCursor, encodeCursor } from '../../lib/cursor.js';
import { randomToken, sha256 } from '../../lib/crypto.js';
import type { InviteRow } from '../../storage/schema.js';
import { assertPasswordPolicy } from '../accounts/password-policy.js';
import { findApp, isUuid } from '../apps/apps.js';
import { recordAuditEvent, type RequestMeta } from '../audit/audit.js';
import { queueEmail } from '../email/outbox.js';
import { checkAppRoles, enrolWithInvite, getAppAccess, toMembership, type Membership } from '../memberships/memberships.js';
import { hashPassword } from '../users/passwords.js';
import { createUserIfEmailFree, Email, findUserRecordByEmail, toUser, type User } from '../users/users.js';
import * as store from './invite-store.js';

export const INVITE_DEFAULT_HOURS = 72;
export const INVITE_MAX_HOURS = 30 * 24;

export interface Invite {
  id: string;
  appId: string;
  email: string;
  roles: string[];
  createdBy: string | null;
  createdAt: Date;
  expiresAt: Date;
  acceptedAt: Date | null;
  acceptedBy: string | null;
  revokedAt: Date | null;
  /** open: can still be accepted. */
  status: 'open' | 'accepted' | 'revoked' | 'expired';
}

export function toInvite(r: InviteRow, now: Date): Invite {
  const status = r.accepted_at ? 'accepted' : r.revoked_at ? 'revoked' : r.expires_at <= now ? 'expired' : 'open';
  return {
    id: r.id,
    appId: r.app_id,
    email: r.email,
    roles: r.roles,
    createdBy: r.created_by,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    acceptedAt: r.accepted_at,
    acceptedBy: r.accepted_by,
    revokedAt: r.revoked_at,
    status,
  };
}

export const InviteInput = z.object({
  appId: z.string().refine(isUuid, 'must be an app id (uuid)'),
  email: Email,
  roles: z.array(z.string()).max(50).default([]),
  expiresInHours: z.number().int().min(1).max(INVITE_MAX_HOURS).default(INVITE_DEFAULT_HOURS),
});

type InviteDeps = Pick<Deps, 'db' | 'clock' | 'config' | 'mailer' | 'log' | 'secret'>;

const codeHash = (code: string) => sha256(code);

/** The hosted accept page the email links to. */
export function inviteLink(deps: Pick<Deps, 'config'>, appId: string, code: string): string {
  const url = new URL(`${deps.config.issuer}/invite`);
  url.searchParams.set('app_id', appId);
  url.searchParams.set('code', code);
  return url.toString();
}

/** Creates an invite and emails its link; the code is returned once (for an admin to pass on by hand). */
export async function createInvite(
  deps: InviteDeps,
  input: z.input<typeof InviteInput>,
  meta: RequestMeta = {},
): Promise<{ invite: Invite; code: string }> {
  const v = InviteInput.parse(input);
  const access = await getAppAccess(deps, v.appId);
  const roles = checkAppRoles(access, v.roles);
  const app = await findApp(deps, v.appId);
  const now = deps.clock.now();
  const code = randomToken(32);
  const createdBy = meta.actor === 'admin' && meta.actorId && isUuid(meta.actorId) ? meta.actorId : null;
  const row = await deps.db.transaction().execute(async (trx) => {
    const d = { ...deps, db: trx };
    const inserted = await store.insertInvite(trx, {
      app_id: v.appId,
      email: v.email,
      roles,
      code_hash: codeHash(code),
      created_by: createdBy,
      created_at: now,
      expires_at: new Date(now.getTime() + v.expiresInHours * HOUR),
    });
    // The email is queued in the same transaction: an invite is never created without its mail.
    const locale = app?.defaultLocale && isLocale(app.defaultLocale) ? app.defaultLocale : DEFAULT_LOCALE;
    await queueEmail(d, {
      to: v.email,
      template: 'invite',
      data: {
        locale,
        texts: app?.textOverrides[locale],
        appName: access.name,
        logoUrl: app?.logoUrl ?? null,
        primaryColor: app?.primaryColor ?? DEFAULT_BRAND_COLOR,
        senderName: access.name,
        email: v.email,
        name: null,
        link: inviteLink(deps, v.appId, code),
        hours: v.expiresInHours,
      },
    });
    await recordAuditEvent(
      d,
      { event: 'invite.created', appId: v.appId, data: { inviteId: inserted.id, roles, expiresInHours: v.expiresInHours } },
      meta,
    );
    return inserted;
  });
  return { invite: toInvite(row, now), code };
}

/** A page position: the last row's creation time and id (decodeCursor checks it strictly). */
const InviteCursor = z.tuple([z.iso.datetime(), z.uuid()]);
const InvitesPage = z.object({ cursor: z.string().max(200).optional(), limit: z.number().int().min(1).max(200) });

export async function listInvites(
  deps: Pick<Deps, 'db' | 'clock'>,
  appId: string,
  opts: { cursor?: string | undefined; limit: number },
): Promise<{ items: Invite[]; nextCursor: string | null }> {
  const o = InvitesPage.parse(opts);
  if (!isUuid(appId)) throw appError('app_id_invalid');
  let after: { createdAt: Date; id: string } | undefined;
  if (o.cursor) {
    const key = decodeCursor(InviteCursor, o.cursor);
    if (!key) throw appError('cursor_invalid');
    after = { createdAt: new Date(key[0]), id: key[1] };
  }
  const rows = await store.listAppInvites(deps.db, appId, { after, limit: o.limit + 1 });
  const page = rows.slice(0, o.limit);
  const last = page.at(-1);
  const now = deps.clock.now();
  return {
    items: page.map((r) => toInvite(r, now)),
    nextCursor: rows.length > o.limit && last ? encodeCursor([last.created_at.toISOString(), last.id]) : null,
  };
}

export async function revokeInvite(
  deps: Pick<Deps, 'db' | 'clock'>,
  input: { appId: string; inviteId: string },
  meta: RequestMeta = {},
): Promise<Invite> {
  if (!isUuid(input.appId) || !isUuid(input.inviteId)) throw appError('invite_not_found');
  const now = deps.clock.now();
  const row = await store.revokeOpenInvite(deps.db, input.appId, input.inviteId, now);
  if (!row) {
    const existing = await store.findInvite(deps.db, input.appId, input.inviteId);
    if (!existing) throw appError('invite_not_found');
    return toInvite(existing, now); // already accepted or revoked: nothing to do
  }
  await recordAuditEvent(deps, { event: 'invite.revoked', appId: input.appId, data: { inviteId: row.id } }, meta);
  return toInvite(row, now);
}

/** The open invite of `code` for `appId`, or invite_invalid (unknown, used, revoked or expired alike). */
export async function findOpenInvite(deps: Pick<Deps, 'db' | 'clock'>, appId: string, code: string): Promise<Invite> {
  const row = isUuid(appId) && code.length <= 200 ? await store.findInviteByCodeHash(deps.db, appId, codeHash(code)) : undefined;
  const invite = row && toInvite(row, deps.clock.now());
  if (!invite || invite.status !== 'open') throw appError('invite_invalid');
  return invite;
}

export interface AcceptInviteInput {
  appId: string;
  code: string;
  email: string;
  /** A new user's name and password (the password is needed only when no account has this email). */
  name?: string | undefined;
  password?: string | undefined;
  /**
   * The existing account this request has proven to be (signed in, or its password checked by the
   * caller with authenticatePassword). Without it, an existing account's email is refused.
   */
  provenUserId?: string | undefined;
}

/**
 * Redeems an invite: checks the code and its email, creates the account when there is none (the email is
 * verified: the code came to it), consumes the invite (once) and enrols the user in the app, active,
 * with the invite's roles. One transaction: a refused step writes nothing.
 */
export async function acceptInvite(
  deps: Pick<Deps, 'db' | 'clock' | 'config' | 'liveness'>,
  input: AcceptInviteInput,
  meta: RequestMeta = {},
): Promise<{ user: User; membership: Membership; created: boolean }> {
  const invite = await findOpenInvite(deps, input.appId, input.code);
  const email = Email.safeParse(input.email);
  if (!email.success) throw appError('email_invalid');
  if (email.data.toLowerCase() !== invite.email.toLowerCase()) throw appError('invite_email_mismatch');
  const existing = await findUserRecordByEmail(deps, email.data);
  if (existing && existing.id !== input.provenUserId) throw appError('invite_sign_in_required');
  let passwordHash: string | null = null;
  if (!existing) {
    if (!input.password) throw appError('parameter_missing', { name: 'password' });
    assertPasswordPolicy(deps.config.passwordPolicy, input.password);
    passwordHash = await hashPassword(input.password);
  }
  const now = deps.clock.now();
  const result = await deps.db.transaction().execute(async (trx) => {
    const d = { ...deps, db: trx };
    let user = existing;
    if (!user) {
      user = await createUserIfEmailFree(d, {
        email: email.data,
        name: input.name?.trim().slice(0, 200) || null,
        passwordHash,
        emailVerifiedAt: now,
      });
      if (!user) throw appError('invite_sign_in_required');
    }
    if (!(await store.consumeInvite(trx, invite.id, user.id, now))) throw appError('invite_invalid');
    const membership = await enrolWithInvite(trx, { user_id: user.id, app_id: invite.appId, roles: invite.roles, now });
    if (!existing)
      await recordAuditEvent(d, { event: 'user.created', userId: user.id, appId: invite.appId, data: { via: 'invite' } }, meta);
    await recordAuditEvent(
      d,
      { event: 'invite.accepted', userId: user.id, appId: invite.appId, data: { inviteId: invite.id, roles: membership.roles } },
      meta,
    );
    return { user: toUser(user), membership: toMembership(membership), created: !existing };
  });
  deps.liveness.invalidate(result.user.id);
  return result;
}

/** The app of an invite, or undefined (no such invite): the Admin API checks the caller may see it first. */
export async function findInviteAppId(deps: Pick<Deps, 'db'>, inviteId: string): Promise<string | undefined> {
  return isUuid(inviteId) ? store.findInviteAppId(deps.db, inviteId) : undefined;
}
