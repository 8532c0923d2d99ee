// users queries. Email lookups are case-insensitive (unique index on lower(email)).
import { sql } from 'kysely';
import type { Db } from '../../storage/db.js';
import type { NewUser, UserRow } from '../../storage/schema.js';

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
