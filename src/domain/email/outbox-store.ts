// email_outbox queries. A message is claimed for one attempt by a conditional UPDATE that also pushes
// its next attempt into the future, so two processes (or the request and the worker) never send it twice.
import { sql } from 'kysely';
import type { Db } from '../../storage/db.js';
import type { EmailOutboxRow } from '../../storage/schema.js';

export async function insertOutboxMessage(
  db: Db,
  row: { to_address: string; template: string; body_enc: string; status: 'pending' | 'logged'; created_at: Date; next_attempt_at: Date },
): Promise<EmailOutboxRow> {
  return db.insertInto('email_outbox').values(row).returningAll().executeTakeFirstOrThrow();
}

/** Claims message `id` if it is pending and due; counts the attempt and sets the retry time. */
export async function claimOutboxMessage(db: Db, id: number, now: Date, retryAt: Date): Promise<EmailOutboxRow | undefined> {
  return db
    .updateTable('email_outbox')
    .set((eb) => ({ attempts: eb('attempts', '+', 1), next_attempt_at: retryAt }))
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .where('next_attempt_at', '<=', now)
    .returningAll()
    .executeTakeFirst();
}

/** Claims the oldest due pending message, skipping rows another process holds. */
export async function claimNextDueMessage(db: Db, now: Date, retryAt: Date): Promise<EmailOutboxRow | undefined> {
  const res = await sql<EmailOutboxRow>`
    update email_outbox set attempts = attempts + 1, next_attempt_at = ${retryAt}
    where id = (select id from email_outbox where status = 'pending' and next_attempt_at <= ${now}
                order by next_attempt_at limit 1 for update skip locked)
      and status = 'pending'
    returning *`.execute(db);
  return res.rows[0];
}

export async function markOutboxSent(db: Db, id: number, at: Date): Promise<void> {
  await db
    .updateTable('email_outbox')
    .set({ status: 'sent', sent_at: at, body_enc: null, last_error: null })
    .where('id', '=', id)
    .execute();
}

export async function markOutboxFailed(db: Db, id: number, error: string, final: boolean, retryAt: Date): Promise<void> {
  await db
    .updateTable('email_outbox')
    .set({ last_error: error.slice(0, 500), next_attempt_at: retryAt, ...(final && { status: 'failed' as const, body_enc: null }) })
    .where('id', '=', id)
    .execute();
}

export async function findOutboxMessage(db: Db, id: number): Promise<EmailOutboxRow | undefined> {
  return db.selectFrom('email_outbox').selectAll().where('id', '=', id).executeTakeFirst();
}
