// Audit trail: security-relevant events in audit_events (never secrets; ids and reasons only).
// Who caused an event is `data.actor`: "cli" for the admin CLI, "user" for a signed-in user acting on
// their own account, "admin" / "service" for the Admin API (with `actor_id` and `source`), absent for
// anonymous requests (sign-in attempts, token presentations).
import type { Clock } from '../../lib/clock.js';
import { countAuditEvent, type Metrics } from '../../lib/metrics.js';
import type { Db } from '../../storage/db.js';
import type { AuditEventRow } from '../../storage/schema.js';
import { appError } from '../../errors.js';
import { z } from 'zod';
import { decodeCursor, encodeCursor } from '../../lib/cursor.js';
import { countAuditEventsSince, insertAuditEvent, listAuditEvents as listRows, listAuditEventsPage } from './audit-store.js';

export interface RequestMeta {
  ip?: string | undefined;
  userAgent?: string | undefined;
  /** Who acted: "cli", "user", "system"…; recorded in the audit event's data. */
  actor?: string | undefined;
  /** Who exactly, when actor is "admin" (the admin's user id) or "service" (the calling app's id). */
  actorId?: string | undefined;
  /** Through what the actor came: "admin_api", "service_token" (Keymaster's audit field), "cli"… */
  source?: string | undefined;
  /** Settles once the reply to the request has gone out (HTTP only): deps.background work waits for it. */
  answered?: Promise<void> | undefined;
}

export interface AuditEvent {
  event: string;
  userId?: string | null | undefined;
  appId?: string | null | undefined;
  data?: Record<string, unknown>;
}

/** Also counts the event in /metrics when `deps.metrics` is there (the server's deps always have it). */
export async function recordAuditEvent(
  deps: { db: Db; clock: Clock; metrics?: Metrics },
  e: AuditEvent,
  meta: RequestMeta = {},
): Promise<void> {
  if (deps.metrics) countAuditEvent(deps.metrics, e.event, e.data);
  const data = {
    ...(e.data ?? {}),
    ...(meta.actor !== undefined && { actor: meta.actor }),
    ...(meta.actorId !== undefined && { actor_id: meta.actorId }),
    ...(meta.source !== undefined && { source: meta.source }),
  };
  await insertAuditEvent(deps.db, {
    at: deps.clock.now(),
    event: e.event,
    user_id: e.userId ?? null,
    app_id: e.appId ?? null,
    ip: meta.ip ?? null,
    user_agent: meta.userAgent?.slice(0, 512) ?? null,
    data: JSON.stringify(data),
  });
}

export interface AuditEntry {
  id: number;
  at: Date;
  event: string;
  userId: string | null;
  appId: string | null;
  ip: string | null;
  userAgent: string | null;
  data: Record<string, unknown>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function listAuditEvents(
  deps: { db: Db },
  f: { userId?: string | undefined; appId?: string | undefined; event?: string | undefined; limit?: number | undefined } = {},
): Promise<AuditEntry[]> {
  // A malformed id cannot match a uuid column; answer "nothing" rather than a database error.
  if ((f.userId && !UUID.test(f.userId)) || (f.appId && !UUID.test(f.appId))) return [];
  const rows = await listRows(deps.db, {
    userId: f.userId,
    appId: f.appId,
    event: f.event,
    limit: Math.min(Math.max(f.limit ?? 100, 1), 10_000),
  });
  return rows.map((r: AuditEventRow) => ({
    id: Number(r.id),
    at: r.at,
    event: r.event,
    userId: r.user_id,
    appId: r.app_id,
    ip: r.ip,
    userAgent: r.user_agent,
    data: r.data,
  }));
}

/** How many events a page holds unless asked (and at most). */
export const AUDIT_PAGE = { default: 50, max: 200 } as const;

export interface AuditPage {
  events: AuditEntry[];
  /** Opaque; undefined on the last page. */
  next: string | undefined;
}

/**
 * The Admin API's audit list: filters, a time window [since, until), newest first, a keyset page at a
 * time. `appIds` confines it to those apps' events (a tenant or app admin); undefined means all.
 * `cursor` is a previous page's `next`; one that is not ours is cursor_invalid.
 */
export async function listAuditPage(
  deps: { db: Db },
  f: {
    userId?: string | undefined;
    appId?: string | undefined;
    event?: string | undefined;
    actorId?: string | undefined;
    since?: Date | undefined;
    until?: Date | undefined;
    appIds?: readonly string[] | undefined;
    cursor?: string | undefined;
    limit?: number | undefined;
  },
): Promise<AuditPage> {
  const limit = Math.min(Math.max(f.limit ?? AUDIT_PAGE.default, 1), AUDIT_PAGE.max);
  let afterId: number | undefined;
  if (f.cursor !== undefined) {
    const key = decodeCursor(z.tuple([z.number().int().positive()]), f.cursor);
    if (!key) throw appError('cursor_invalid');
    afterId = key[0];
  }
  if ((f.userId && !UUID.test(f.userId)) || (f.appId && !UUID.test(f.appId))) return { events: [], next: undefined };
  const rows = await listAuditEventsPage(deps.db, { ...f, afterId, limit: limit + 1 });
  const more = rows.length > limit;
  const shown = (more ? rows.slice(0, limit) : rows).map(toEntry);
  return { events: shown, next: more ? encodeCursor([shown[shown.length - 1]!.id]) : undefined };
}

/** Counts of `events` since `since`, within `appIds` when given (the Admin API's stats). */
export async function countRecentEvents(
  deps: { db: Db },
  events: readonly string[],
  since: Date,
  appIds?: readonly string[],
): Promise<Record<string, number>> {
  const counts = await countAuditEventsSince(deps.db, events, since, appIds);
  return Object.fromEntries(events.map((e) => [e, counts[e] ?? 0]));
}

function toEntry(r: AuditEventRow): AuditEntry {
  return {
    id: Number(r.id),
    at: r.at,
    event: r.event,
    userId: r.user_id,
    appId: r.app_id,
    ip: r.ip,
    userAgent: r.user_agent,
    data: r.data,
  };
}
