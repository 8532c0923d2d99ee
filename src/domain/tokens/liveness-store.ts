// The one read behind access-token liveness (liveness.ts): for one user, in one round trip, whether
// the account is disabled, since when its tokens count (users.tokens_valid_after), which of its
// refresh-token families were revoked or had their authorization code replayed, and which of its SSO
// sessions ended — each only since `since` (older ends concern only tokens that have expired) — and in
// which apps its membership is not active (suspended or pending; the primary key's user_id prefix).
import { CompiledQuery } from 'kysely';
import type { Db } from '../../storage/db.js';
import { prepared } from '../../storage/prepared.js';

export interface LivenessRow {
  disabled: boolean;
  tokens_valid_after: Date | null;
  /** Family ids (the grant an access token names in `grant_id`). */
  ended_families: string[];
  /** Session id → the epoch second it ended. */
  ended_sessions: Record<string, number>;
  /** Apps whose membership is not active (suspended, pending): their tokens are not live (issue 14). */
  inactive_apps: string[];
}

// Static text, prepared (storage/prepared.ts): it runs on every liveness cache miss. Each part reads a
// partial index of ended rows by user (migration 0013; sessions_user_idx for sessions).
const LIVENESS_SQL = prepared(`
  select u.disabled_at is not null as disabled,
         u.tokens_valid_after,
         array(select r.family_id::text from refresh_tokens r where r.user_id = u.id and r.revoked_at > $2
               union
               select c.family_id::text from authorization_codes c where c.user_id = u.id and c.replayed_at > $2) as ended_families,
         coalesce((select json_object_agg(s.id, floor(extract(epoch from s.revoked_at)))
                     from sessions s where s.user_id = u.id and s.revoked_at > $2), '{}'::json) as ended_sessions,
         array(select m.app_id::text from memberships m where m.user_id = u.id and m.status <> 'active') as inactive_apps
    from users u
   where u.id = $1`);

/** The liveness facts of `userId` (a uuid), or undefined when there is no such user. */
export async function findLivenessRow(db: Db, userId: string, since: Date): Promise<LivenessRow | undefined> {
  const res = await db.executeQuery<LivenessRow>(CompiledQuery.raw(LIVENESS_SQL, [userId, since]));
  return res.rows[0];
}
