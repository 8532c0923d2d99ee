// users queries. Email lookups are case-insensitive (unique index on lower(email)).
import { sql, type RawBuilder, type SelectQueryBuilder } from 'kysely';
import type { Db } from '../../storage/db.js';
import type { Database, NewUser, UserRow } from '../../storage/schema.js';

/** A row of a users page, with what its cursor is made of. */
export type UserPageRow = UserRow & { cursor_ts: string; cursor_key?: string };

export async function insertUser(db: Db, row: NewUser): Promise<UserRow | undefined> {
  // ON CONFLICT on the expression index: a duplicate email returns nothing instead of raising.
  return db
    .insertInto('users')
    .values(row)
    .onConflict((oc) => oc.expression(sql`lower(email)`).doNothing())
    .returningAll()
    .executeTakeFirst();
}

export async function findUserByEmail(db: Db, email: string): Promise<UserRow | undefined> {
  return db
    .selectFrom('users')
    .selectAll()
    .where(sql<string>`lower(email)`, '=', email.toLowerCase())
    .executeTakeFirst();
}

export async function findUserById(db: Db, id: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listUsers(db: Db, limit = 1000): Promise<UserRow[]> {
  return db.selectFrom('users').selectAll().orderBy('created_at').limit(limit).execute();
}

/**
 * Counts a failed sign-in and, at the threshold, locks the account — in one conditional UPDATE, so
 * concurrent failures are all counted. Returns the new count and lock time.
 */
export async function recordFailedLogin(
  db: Db,
  id: string,
  threshold: number,
  lockUntil: Date,
): Promise<{ failed_logins: number; locked_until: Date | null } | undefined> {
  return db
    .updateTable('users')
    .set((eb) => ({
      failed_logins: eb('failed_logins', '+', 1),
      locked_until: sql<Date | null>`case when failed_logins + 1 >= ${threshold} then ${lockUntil}::timestamptz else locked_until end`,
    }))
    .where('id', '=', id)
    .returning(['failed_logins', 'locked_until'])
    .executeTakeFirst();
}

export async function recordSuccessfulLogin(db: Db, id: string, at: Date, newPasswordHash?: string): Promise<void> {
  await db
    .updateTable('users')
    .set({ failed_logins: 0, locked_until: null, last_login_at: at, ...(newPasswordHash && { password_hash: newPasswordHash }) })
    .where('id', '=', id)
    .execute();
}

export async function updateUser(db: Db, id: string, changes: Partial<Omit<NewUser, 'id'>>): Promise<UserRow | undefined> {
  return db.updateTable('users').set(changes).where('id', '=', id).returningAll().executeTakeFirst();
}

export async function setUserLocale(db: Db, id: string, locale: string): Promise<void> {
  await db.updateTable('users').set({ locale }).where('id', '=', id).execute();
}

/** Who a page of users is drawn from: all, those enrolled in an app of a scope, or in one app. */
export interface UserPageFilter {
  limit: number;
  /** Case-insensitive prefix of the email or the name (indexes users_email_prefix, users_name_prefix). */
  prefix?: string | undefined;
  /** With a prefix: after (search key, id) (searchUsersPage); without: after (created_at, id), newest first (users_created). */
  after?: { key: string; id: string } | { createdAt: string; id: string } | undefined;
  scope?: { tenantIds: string[]; appIds: string[] } | undefined;
  appId?: string | undefined;
}

/** LIKE's own characters in a user's text are literal. */
const likePrefix = (s: string) => `${s.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/**
 * `cursor_ts`: created_at as Postgres prints it, microseconds kept (a JS Date keeps milliseconds, and
 * a cursor rounded to them would skip rows).
 */
export async function listUsersPage(db: Db, f: UserPageFilter): Promise<UserPageRow[]> {
  let q = db
    .selectFrom('users')
    .selectAll('users')
    .select(sql<string>`users.created_at::text`.as('cursor_ts'));
  if (f.scope) {
    const { tenantIds, appIds } = f.scope;
    if (tenantIds.length === 0 && appIds.length === 0) return [];
    // The scope as app ids first (a tenant has few apps): with `app_id in (…)` the planner estimates
    // the members from memberships_app's statistics and starts from them when they are few; through
    // a join on apps.tenant_id it could not, and walked the whole users index (docs/ADMIN-API.md).
    const tenantApps = tenantIds.length
      ? (await db.selectFrom('apps').select('app_id').where('tenant_id', 'in', tenantIds).execute()).map((r) => r.app_id)
      : [];
    const scopeApps = [...new Set([...tenantApps, ...appIds])];
    if (scopeApps.length === 0) return [];
    q = q.where((eb) =>
      eb.exists(
        eb
          .selectFrom('memberships')
          .select('memberships.app_id')
          .whereRef('memberships.user_id', '=', 'users.id')
          .where('memberships.app_id', 'in', scopeApps),
      ),
    );
  }
  if (f.appId) {
    const appId = f.appId;
    q = q.where((eb) =>
      eb.exists(
        eb
          .selectFrom('memberships')
          .select('memberships.app_id')
          .whereRef('memberships.user_id', '=', 'users.id')
          .where('memberships.app_id', '=', appId),
      ),
    );
  }
  if (f.prefix !== undefined) {
    const { rows } = await searchUsers(q, f.prefix, f.after && 'key' in f.after ? f.after : undefined, f.limit).execute(db);
    return rows;
  }
  if (f.after && 'createdAt' in f.after) {
    const { createdAt, id } = f.after;
    q = q.where(
      sql<boolean>`(users.created_at < ${createdAt}::timestamptz or (users.created_at = ${createdAt}::timestamptz and users.id > ${id}::uuid))`,
    );
  }
  return q.orderBy('users.created_at', 'desc').orderBy('users.id').limit(f.limit).execute();
}

type UsersQuery = SelectQueryBuilder<Database, 'users', UserRow & { cursor_ts: string }>;

/**
 * The search, as two index range scans merged (users_email_prefix, users_name_prefix; text_pattern_ops
 * order is byte order, the `~<~` family): the users whose email starts with the prefix, keyed by their
 * email, and those whose name does but whose email does not, keyed by their name (so each user comes
 * once). Each scan stops after `limit` rows from the cursor on, and the page is the first `limit` of
 * the two in (key, id) order: a page costs the same for a prefix matching 10 users or 500,000
 * (docs/ADMIN-API.md, "User search and its index"); measured by `npm run bench` (BENCH_CASES=adminsearch).
 */
function searchUsers(q: UsersQuery, prefix: string, after: { key: string; id: string } | undefined, limit: number) {
  const p = likePrefix(prefix);
  const from = (key: RawBuilder<string>) =>
    after ? sql<boolean>`${key} ~>=~ ${after.key} and (${key} ~>~ ${after.key} or users.id > ${after.id}::uuid)` : sql<boolean>`true`;
  const email = sql<string>`lower(users.email)`;
  const name = sql<string>`lower(users.name)`;
  const byEmail = q
    .select(email.as('cursor_key'))
    .where(sql<boolean>`${email} like ${p}`)
    .where(from(email))
    .orderBy(sql`${email} using ~<~`)
    .orderBy('users.id')
    .limit(limit);
  const byName = q
    .select(name.as('cursor_key'))
    .where('users.name', 'is not', null)
    .where(sql<boolean>`${name} like ${p} and not (${email} like ${p})`)
    .where(from(name))
    .orderBy(sql`${name} using ~<~`)
    .orderBy('users.id')
    .limit(limit);
  return sql<UserPageRow>`select * from ((${byEmail}) union all (${byName})) page
    order by page.cursor_key collate "C", page.id limit ${limit}`;
}

/** A platform admin's first search page as SQL, for `npm run bench` to EXPLAIN the route's own query. */
export const searchUsersQuery = (db: Db, prefix: string, limit = 51) =>
  searchUsers(
    db
      .selectFrom('users')
      .selectAll('users')
      .select(sql<string>`users.created_at::text`.as('cursor_ts')),
    prefix,
    undefined,
    limit,
  ).compile(db);

export async function deleteUser(db: Db, id: string): Promise<UserRow | undefined> {
  return db.deleteFrom('users').where('id', '=', id).returningAll().executeTakeFirst();
}
