// Memberships (issue 14): a user's enrolment in one app, with that app's roles and a status. Roles are
// per app: the access token of app A carries the user's roles in A only. A suspended membership
// refuses sign-in and refresh for that app alone and makes its live access tokens inactive
// (liveness.ts); a removed one ends that app's refresh tokens. Every change is audited and sent to
// the app's webhooks (user.role_changed, user.suspended, user.deleted = "removed from the app").
import { z } from 'zod';
import type { Deps } from '../../deps.js';
import { AppError, appError } from '../../errors.js';
import { decodeCursor, encodeCursor } from '../../lib/cursor.js';
import type { Db } from '../../storage/db.js';
import type { MembershipRow, MembershipStatus } from '../../storage/schema.js';
import { isUuid } from '../apps/apps.js';
import { recordAuditEvent, type RequestMeta } from '../audit/audit.js';
import { forgetLiveness } from '../tokens/liveness.js';
import { Role } from '../users/users.js';
import { enqueueWebhookEvent } from '../webhooks/webhooks.js';
import * as store from './membership-store.js';

export type { AppAccessRow } from './membership-store.js';

export interface Membership {
  userId: string;
  appId: string;
  roles: string[];
  status: 'active' | 'suspended' | 'pending';
  enrolledAt: Date;
  lastLoginAt: Date | null;
  statusChangedAt: Date | null;
}

export function toMembership(r: MembershipRow): Membership {
  return {
    userId: r.user_id,
    appId: r.app_id,
    roles: r.roles,
    status: r.status,
    enrolledAt: r.enrolled_at,
    lastLoginAt: r.last_login_at,
    statusChangedAt: r.status_changed_at,
  };
}

type MembershipDeps = Pick<Deps, 'db' | 'clock' | 'liveness'>;

export const MEMBERSHIP_STATUSES = ['active', 'suspended', 'pending'] as const;
export const MembershipRoles = z.array(Role).max(50);
const MembersPage = z.object({
  cursor: z.string().max(200).optional(),
  limit: z.number().int().min(1).max(200),
  status: z.enum(MEMBERSHIP_STATUSES).optional(),
});

function assertIds(userId: string, appId: string): void {
  if (!isUuid(appId)) throw appError('app_id_invalid');
  if (!isUuid(userId)) throw appError('user_not_found');
}

export async function getMembership(deps: Pick<Deps, 'db'>, userId: string, appId: string): Promise<Membership | undefined> {
  if (!isUuid(userId) || !isUuid(appId)) return undefined;
  const row = await store.findMembership(deps.db, userId, appId);
  return row && toMembership(row);
}

export async function listMembershipsOfUser(deps: Pick<Deps, 'db'>, userId: string): Promise<Membership[]> {
  if (!isUuid(userId)) return [];
  return (await store.listUserMemberships(deps.db, userId)).map(toMembership);
}

/** A page position: the last row's enrolment time and user id (decodeCursor checks it strictly). */
const MemberCursor = z.tuple([z.iso.datetime(), z.uuid()]);
const memberCursor = (r: MembershipRow) => encodeCursor([r.enrolled_at.toISOString(), r.user_id]);

function afterCursor(cursor: string): { enrolledAt: Date; userId: string } {
  const key = decodeCursor(MemberCursor, cursor);
  if (!key) throw appError('cursor_invalid');
  return { enrolledAt: new Date(key[0]), userId: key[1] };
}

/** An app's members, newest enrolment first; `nextCursor` (opaque) fetches the next page. */
export async function listMembersOfApp(
  deps: Pick<Deps, 'db'>,
  appId: string,
  opts: { cursor?: string | undefined; limit: number; status?: MembershipStatus | undefined },
): Promise<{ items: Membership[]; nextCursor: string | null }> {
  const o = MembersPage.parse(opts);
  if (!isUuid(appId)) throw appError('app_id_invalid');
  const after = o.cursor ? afterCursor(o.cursor) : undefined;
  const rows = await store.listAppMembers(deps.db, appId, { after, limit: o.limit + 1, status: o.status });
  const page = rows.slice(0, o.limit);
  const last = page.at(-1);
  return { items: page.map(toMembership), nextCursor: rows.length > o.limit && last ? memberCursor(last) : null };
}

/** The app's access settings, or app_not_found. */
export async function getAppAccess(deps: Pick<Deps, 'db'>, appId: string): Promise<store.AppAccessRow> {
  const app = isUuid(appId) ? await store.findAppAccess(deps.db, appId) : undefined;
  if (!app) throw appError('app_not_found', { appId });
  return app;
}

/** Valid role names, each one of the app's available_roles (else a 400 naming the first that is not). */
export function checkAppRoles(app: Pick<store.AppAccessRow, 'available_roles'>, roles: unknown): string[] {
  const parsed = MembershipRoles.safeParse(roles);
  if (!parsed.success) {
    const bad = Array.isArray(roles) ? roles.find((r) => !Role.safeParse(r).success) : undefined;
    if (typeof bad === 'string') throw appError('invalid_role', { role: bad });
    throw appError('invalid_input', { problems: 'roles must be a list of at most 50 role names' });
  }
  const unknown = parsed.data.find((r) => !app.available_roles.includes(r));
  if (unknown !== undefined) throw appError('role_not_available', { role: unknown, available: app.available_roles });
  return [...new Set(parsed.data)];
}

async function userData(db: Db, userId: string) {
  const u = await db.selectFrom('users').select(['id', 'email', 'name']).where('id', '=', userId).executeTakeFirst();
  if (!u) throw appError('user_not_found');
  return { user_id: u.id, email: u.email, name: u.name };
}

const sameRoles = (a: string[], b: string[]) => [...a].sort().join(',') === [...b].sort().join(',');

/** Replaces the user's roles in the app (enrolling them, active, when not enrolled). One transaction. */
export async function setMembershipRoles(
  deps: MembershipDeps,
  input: { userId: string; appId: string; roles: string[] },
  meta: RequestMeta = {},
): Promise<Membership> {
  return deps.db.transaction().execute((trx) => setMembershipRolesInTransaction({ ...deps, db: trx }, input, meta));
}

/** setMembershipRoles inside the caller's transaction (`deps.db` is it), for a use case that enrols as one step of several. */
export async function setMembershipRolesInTransaction(
  deps: MembershipDeps,
  input: { userId: string; appId: string; roles: string[] },
  meta: RequestMeta = {},
): Promise<Membership> {
  assertIds(input.userId, input.appId);
  const app = await getAppAccess(deps, input.appId);
  const roles = checkAppRoles(app, input.roles);
  const now = deps.clock.now();
  const trx = deps.db;
  const data = await userData(trx, input.userId);
  const before = await store.findMembershipForUpdate(trx, input.userId, input.appId);
  const after = await store.upsertMembershipRoles(trx, { user_id: input.userId, app_id: input.appId, roles, now });
  if (!before || !sameRoles(before.roles, after.roles)) {
    await recordAuditEvent(
      { ...deps, db: trx },
      {
        event: 'user.role_changed',
        userId: input.userId,
        appId: input.appId,
        data: { roles: after.roles, previous: before?.roles ?? null, enrolled: !before },
      },
      meta,
    );
    await enqueueWebhookEvent({ ...deps, db: trx }, { appId: input.appId, event: 'user.role_changed', data });
  }
  return toMembership(after);
}

/** Suspends (for this app only, at once) or reactivates a membership. */
export async function setMembershipStatus(
  deps: MembershipDeps,
  input: { userId: string; appId: string; status: 'active' | 'suspended' },
  meta: RequestMeta = {},
): Promise<Membership> {
  assertIds(input.userId, input.appId);
  const status = z.enum(['active', 'suspended']).parse(input.status);
  const now = deps.clock.now();
  const row = await deps.db.transaction().execute(async (trx) => {
    const before = await store.findMembershipForUpdate(trx, input.userId, input.appId);
    if (!before) throw appError('membership_not_found');
    if (before.status === status) return before;
    const after = await store.updateMembershipStatus(trx, { userId: input.userId, appId: input.appId, status, now });
    if (!after) return before;
    const event = status === 'suspended' ? 'user.suspended' : 'user.reactivated';
    await recordAuditEvent(
      { ...deps, db: trx },
      { event, userId: input.userId, appId: input.appId, data: { previous: before.status } },
      meta,
    );
    if (status === 'suspended') {
      await enqueueWebhookEvent(
        { ...deps, db: trx },
        { appId: input.appId, event: 'user.suspended', data: await userData(trx, input.userId) },
      );
    }
    return after;
  });
  forgetLiveness(deps, input.userId);
  return toMembership(row);
}

/** pending → active (an approval-policy app's admin lets the user in). */
export async function approveMembership(
  deps: MembershipDeps,
  input: { userId: string; appId: string },
  meta: RequestMeta = {},
): Promise<Membership> {
  assertIds(input.userId, input.appId);
  const now = deps.clock.now();
  const row = await deps.db.transaction().execute(async (trx) => {
    const after = await store.updateMembershipStatus(trx, { ...input, status: 'active', from: ['pending'], now });
    if (!after) {
      const current = await store.findMembership(trx, input.userId, input.appId);
      if (!current) throw appError('membership_not_found');
      throw appError('membership_not_pending');
    }
    await recordAuditEvent({ ...deps, db: trx }, { event: 'user.approved', userId: input.userId, appId: input.appId }, meta);
    return after;
  });
  forgetLiveness(deps, input.userId);
  return toMembership(row);
}

/** Removes the user from the app: the membership goes and that app's refresh tokens end. */
export async function removeMembership(
  deps: MembershipDeps,
  input: { userId: string; appId: string },
  meta: RequestMeta = {},
): Promise<void> {
  assertIds(input.userId, input.appId);
  const now = deps.clock.now();
  await deps.db.transaction().execute(async (trx) => {
    const removed = await store.deleteMembership(trx, input.userId, input.appId);
    if (!removed) throw appError('membership_not_found');
    const tokens = await store.revokeAppRefreshTokens(trx, input.userId, input.appId, now, 'membership_removed');
    await recordAuditEvent(
      { ...deps, db: trx },
      { event: 'user.removed_from_app', userId: input.userId, appId: input.appId, data: { roles: removed.roles, tokens } },
      meta,
    );
    await enqueueWebhookEvent({ ...deps, db: trx }, { appId: input.appId, event: 'user.deleted', data: await userData(trx, input.userId) });
  });
  forgetLiveness(deps, input.userId);
}

/**
 * The sign-in rule of an app (every way a user gets tokens for it calls this before issuing them):
 * - the built-in Console app (apps.builtin = 'console'): only a user holding an admin tier
 *   (admin_grants), no membership needed; else `You do not have access`;
 * - a member: active → admitted with the membership's roles; suspended → `Account suspended`;
 *   pending → waiting for approval;
 * - not a member: open policy → enrolled (active) with the app's auto_assign_roles; invite →
 *   `You do not have access` (the way in is an invite, acceptInvite); approval → enrolled as pending
 *   and refused as waiting for approval.
 * Records last_login_at on an admitted membership when `record` is set (a sign-in, not a refresh).
 * Returns the roles for the app's tokens.
 */
export async function admitToApp(
  deps: Pick<Deps, 'db' | 'clock'> & { metrics?: Deps['metrics'] },
  input: { userId: string; appId: string; record?: boolean },
  meta: RequestMeta = {},
): Promise<{ roles: string[]; enrolled: boolean }> {
  const access = await store.findAccess(deps.db, input.userId, input.appId);
  if (!access) throw appError('app_access_denied', { detail: 'unknown app' });
  const now = deps.clock.now();
  if (access.builtin === 'console') {
    if (!access.is_admin) throw appError('app_access_denied', { detail: 'console: no admin grant' });
    if (access.status !== null && input.record) await store.touchLastLogin(deps.db, input.userId, input.appId, now);
    return { roles: access.roles ?? [], enrolled: false };
  }
  if (access.status === 'active') {
    if (input.record) await store.touchLastLogin(deps.db, input.userId, input.appId, now);
    return { roles: access.roles ?? [], enrolled: false };
  }
  if (access.status === 'suspended') throw appError('membership_suspended');
  if (access.status === 'pending') throw appError('membership_pending');
  if (access.registration_policy === 'invite') throw appError('app_access_denied', { detail: 'invite-only app, not a member' });
  const status = access.registration_policy === 'approval' ? 'pending' : 'active';
  const row = await store.insertMembershipIfAbsent(deps.db, {
    user_id: input.userId,
    app_id: input.appId,
    roles: access.auto_assign_roles,
    status,
    now,
  });
  if (row) {
    if (input.record && status === 'active') await store.touchLastLogin(deps.db, input.userId, input.appId, now);
    await recordAuditEvent(
      deps,
      {
        event: status === 'pending' ? 'membership.requested' : 'membership.enrolled',
        userId: input.userId,
        appId: input.appId,
        data: { roles: row.roles },
      },
      meta,
    );
  }
  // A concurrent sign-in may have enrolled the user first: its row decides.
  const current = row ?? (await store.findMembership(deps.db, input.userId, input.appId));
  if (!current) throw appError('app_access_denied', { detail: 'membership vanished' });
  if (current.status === 'suspended') throw appError('membership_suspended');
  if (current.status === 'pending') throw appError('membership_pending');
  return { roles: current.roles, enrolled: row !== undefined };
}

/**
 * The roles for a refresh of the user's tokens for the app: admitToApp's rule without enrolling (a
 * refresh never enrols) and without last_login_at. Throws its refusals (suspended, pending, none).
 */
export async function refreshRoles(deps: Pick<Deps, 'db'>, userId: string, appId: string): Promise<string[]> {
  const access = await store.findAccess(deps.db, userId, appId);
  if (!access) throw appError('app_access_denied', { detail: 'unknown app' });
  if (access.builtin === 'console') {
    if (!access.is_admin) throw appError('app_access_denied', { detail: 'console: no admin grant' });
    return access.roles ?? [];
  }
  if (access.status === 'active') return access.roles ?? [];
  if (access.status === 'suspended') throw appError('membership_suspended');
  if (access.status === 'pending') throw appError('membership_pending');
  throw appError('app_access_denied', { detail: 'not a member' });
}

/** The refusals of admitToApp: a hosted page shows them as what happened, an OAuth flow answers access_denied. */
const ACCESS_REFUSALS: ReadonlySet<string> = new Set(['app_access_denied', 'membership_suspended', 'membership_pending']);
export const isAccessRefusal = (err: unknown): err is AppError => err instanceof AppError && ACCESS_REFUSALS.has(err.reason);

/** Whether the user's registration through the app is allowed at all (an invite app takes new users only by invite). */
export async function assertRegistrationOpen(deps: Pick<Deps, 'db'>, appId: string | undefined): Promise<void> {
  if (!appId || !isUuid(appId)) return;
  const app = await store.findAppAccess(deps.db, appId);
  if (app?.registration_policy === 'invite') throw appError('invite_required');
}

/** apps.available_roles' default (migration 0025). */
export const DEFAULT_AVAILABLE_ROLES = ['user', 'manager', 'admin'];
export const REGISTRATION_POLICIES = ['open', 'invite', 'approval'] as const;
export const AppAccessInput = z.object({
  registrationPolicy: z.enum(REGISTRATION_POLICIES).optional(),
  availableRoles: z.array(Role).max(100).optional(),
  autoAssignRoles: z.array(Role).max(50).optional(),
});

/**
 * An app's access settings (CLI `apps create|update --registration-policy --available-roles
 * --auto-assign-roles`): auto-assigned roles must be available ones. Audited as app.updated.
 */
export async function setAppAccess(
  deps: Pick<Deps, 'db' | 'clock'>,
  appId: string,
  input: z.input<typeof AppAccessInput>,
  meta: RequestMeta = {},
): Promise<store.AppAccessRow> {
  const v = AppAccessInput.parse(input);
  const current = await getAppAccess(deps, appId);
  const available = v.availableRoles ? [...new Set(v.availableRoles)] : current.available_roles;
  const auto = v.autoAssignRoles ? [...new Set(v.autoAssignRoles)] : current.auto_assign_roles;
  checkAppRoles({ available_roles: available }, auto);
  const fields = Object.keys(v).filter((k) => v[k as keyof typeof v] !== undefined);
  if (fields.length === 0) return current;
  const row = await store.updateAppAccess(deps.db, appId, {
    ...(v.registrationPolicy !== undefined && { registration_policy: v.registrationPolicy }),
    ...(v.availableRoles !== undefined && { available_roles: available }),
    ...(v.autoAssignRoles !== undefined && { auto_assign_roles: auto }),
    updated_at: deps.clock.now(),
  });
  await recordAuditEvent(deps, { event: 'app.updated', appId, data: { fields } }, meta);
  return row;
}

/**
 * An accepted invite's enrolment (invites.ts, inside its transaction: takes the caller's db): the
 * invite's roles join any the user had in the app; pending becomes active, suspended stays suspended.
 */
export async function enrolWithInvite(
  db: Db,
  row: { user_id: string; app_id: string; roles: string[]; now: Date },
): Promise<MembershipRow> {
  return store.enrolWithInvite(db, row);
}
