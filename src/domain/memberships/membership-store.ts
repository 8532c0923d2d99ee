// memberships queries (migration 0025): one row per (user, app) with that app's roles and status, and
// the app's access settings (registration policy, assignable roles) the membership rules read.
import { sql } from 'kysely';
import type { Db } from '../../storage/db.js';
import type { MembershipRow, MembershipStatus, RegistrationPolicy } from '../../storage/schema.js';

export interface AppAccessRow {
  app_id: string;
  name: string;
  registration_policy: RegistrationPolicy;
  available_roles: string[];
  auto_assign_roles: string[];
  builtin: string | null;
}

export async function findAppAccess(db: Db, appId: string): Promise<AppAccessRow | undefined> {
  return db
    .selectFrom('apps')
    .select(['app_id', 'name', 'registration_policy', 'available_roles', 'auto_assign_roles', 'builtin'])
    .where('app_id', '=', appId)
    .executeTakeFirst() as Promise<AppAccessRow | undefined>;
}

export async function findMembership(db: Db, userId: string, appId: string): Promise<MembershipRow | undefined> {
  return db.selectFrom('memberships').selectAll().where('user_id', '=', userId).where('app_id', '=', appId).executeTakeFirst();
}

/** Locks the row for the rest of the caller's transaction. */
export async function findMembershipForUpdate(db: Db, userId: string, appId: string): Promise<MembershipRow | undefined> {
  return db.selectFrom('memberships').selectAll().where('user_id', '=', userId).where('app_id', '=', appId).forUpdate().executeTakeFirst();
}

export async function listUserMemberships(db: Db, userId: string): Promise<MembershipRow[]> {
  return db.selectFrom('memberships').selectAll().where('user_id', '=', userId).orderBy('enrolled_at', 'desc').execute();
}

/** A page of an app's members, newest first, after the keyset (enrolled_at, user_id) given (index memberships_app). */
export async function listAppMembers(
  db: Db,
  appId: string,
  f: { after?: { enrolledAt: Date; userId: string } | undefined; limit: number; status?: MembershipStatus | undefined },
): Promise<MembershipRow[]> {
  let q = db.selectFrom('memberships').selectAll().where('app_id', '=', appId);
  if (f.status) q = q.where('status', '=', f.status);
  if (f.after) {
    const { enrolledAt, userId } = f.after;
    // Descending on enrolled_at, ascending on user_id within one instant (the index's order).
    q = q.where((eb) =>
      eb.or([eb('enrolled_at', '<', enrolledAt), eb.and([eb('enrolled_at', '=', enrolledAt), eb('user_id', '>', userId)])]),
    );
  }
  return q.orderBy('enrolled_at', 'desc').orderBy('user_id', 'asc').limit(f.limit).execute();
}

/** Enrols the user unless already enrolled; returns the new row, or undefined when one was there. */
export async function insertMembershipIfAbsent(
  db: Db,
  row: { user_id: string; app_id: string; roles: string[]; status: MembershipStatus; now: Date },
): Promise<MembershipRow | undefined> {
  return db
    .insertInto('memberships')
    .values({
      user_id: row.user_id,
      app_id: row.app_id,
      roles: row.roles,
      status: row.status,
      enrolled_at: row.now,
      status_changed_at: row.status === 'active' ? null : row.now,
      updated_at: row.now,
    })
    .onConflict((oc) => oc.columns(['user_id', 'app_id']).doNothing())
    .returningAll()
    .executeTakeFirst();
}

/** Sets the roles, enrolling the user (active) when not enrolled. */
export async function upsertMembershipRoles(
  db: Db,
  row: { user_id: string; app_id: string; roles: string[]; now: Date },
): Promise<MembershipRow> {
  return db
    .insertInto('memberships')
    .values({ user_id: row.user_id, app_id: row.app_id, roles: row.roles, status: 'active', enrolled_at: row.now, updated_at: row.now })
    .onConflict((oc) => oc.columns(['user_id', 'app_id']).doUpdateSet({ roles: row.roles, updated_at: row.now }))
    .returningAll()
    .executeTakeFirstOrThrow();
}

/**
 * An accepted invite's enrolment: the invite's roles join any the user had in the app; a pending
 * membership becomes active, a suspended one stays suspended (an invite does not lift a suspension).
 */
export async function enrolWithInvite(
  db: Db,
  row: { user_id: string; app_id: string; roles: string[]; now: Date },
): Promise<MembershipRow> {
  return db
    .insertInto('memberships')
    .values({ user_id: row.user_id, app_id: row.app_id, roles: row.roles, status: 'active', enrolled_at: row.now, updated_at: row.now })
    .onConflict((oc) =>
      oc.columns(['user_id', 'app_id']).doUpdateSet({
        roles: sql<string[]>`array(select distinct r from unnest(memberships.roles || excluded.roles) as r order by r)`,
        status: sql<MembershipStatus>`case when memberships.status = 'pending' then 'active' else memberships.status end`,
        status_changed_at: sql<Date | null>`case when memberships.status = 'pending' then excluded.updated_at else memberships.status_changed_at end`,
        updated_at: row.now,
      }),
    )
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Changes the status when it is `from` (any status when absent); undefined when nothing changed. */
export async function updateMembershipStatus(
  db: Db,
  f: { userId: string; appId: string; status: MembershipStatus; from?: MembershipStatus[]; now: Date },
): Promise<MembershipRow | undefined> {
  let q = db
    .updateTable('memberships')
    .set({ status: f.status, status_changed_at: f.now, updated_at: f.now })
    .where('user_id', '=', f.userId)
    .where('app_id', '=', f.appId)
    .where('status', '<>', f.status);
  if (f.from) q = q.where('status', 'in', f.from);
  return q.returningAll().executeTakeFirst();
}

export async function deleteMembership(db: Db, userId: string, appId: string): Promise<MembershipRow | undefined> {
  return db.deleteFrom('memberships').where('user_id', '=', userId).where('app_id', '=', appId).returningAll().executeTakeFirst();
}

export async function touchLastLogin(db: Db, userId: string, appId: string, now: Date): Promise<void> {
  await db.updateTable('memberships').set({ last_login_at: now }).where('user_id', '=', userId).where('app_id', '=', appId).execute();
}

/** Ends the user's live refresh tokens of one app (a removal). */
export async function revokeAppRefreshTokens(db: Db, userId: string, appId: string, now: Date, reason: string): Promise<number> {
  const res = await db
    .updateTable('refresh_tokens')
    .set({ revoked_at: now, revoked_reason: reason })
    .where('user_id', '=', userId)
    .where('app_id', '=', appId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}

/** Whether the user holds any admin tier (the Console app's access rule). */
export async function hasAdminGrant(db: Db, userId: string): Promise<boolean> {
  const row = await db
    .selectFrom('admin_grants')
    .select(sql<number>`1`.as('one'))
    .where('user_id', '=', userId)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

export interface AccessRow {
  registration_policy: RegistrationPolicy;
  auto_assign_roles: string[];
  builtin: string | null;
  roles: string[] | null;
  status: MembershipStatus | null;
  is_admin: boolean;
}

/** In one read: the app's policy, the user's membership of it (null columns: none) and whether they hold an admin tier. */
export async function findAccess(db: Db, userId: string, appId: string): Promise<AccessRow | undefined> {
  return db
    .selectFrom('apps as a')
    .leftJoin('memberships as m', (j) => j.onRef('m.app_id', '=', 'a.app_id').on('m.user_id', '=', userId))
    .select([
      'a.registration_policy',
      'a.auto_assign_roles',
      'a.builtin',
      'm.roles',
      'm.status',
      sql<boolean>`exists(select 1 from admin_grants g where g.user_id = ${userId})`.as('is_admin'),
    ])
    .where('a.app_id', '=', appId)
    .executeTakeFirst() as Promise<AccessRow | undefined>;
}
