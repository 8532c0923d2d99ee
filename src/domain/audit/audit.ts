// Audit trail: security-relevant events in audit_events (never secrets; ids and reasons only).
import type { Clock } from '../../lib/clock.js';
import { countAuditEvent, type Metrics } from '../../lib/metrics.js';
import type { Db } from '../../storage/db.js';
import { insertAuditEvent } from './audit-store.js';

export interface RequestMeta {
  ip?: string | undefined;
  userAgent?: string | undefined;
}

export interface AuditEvent {
  event: string;
  userId?: string | null | undefined;
  appId?: string | null | undefined;
  data?: Record<string, unknown>;
}

/** Also counts the event in /metrics when `deps.metrics` is there (the server's deps always have it). */
export async function recordAuditEvent(deps: { db: Db; clock: Clock; metrics?: Metrics }, e: AuditEvent, meta: RequestMeta = {}): Promise<void> {
  if (deps.metrics) countAuditEvent(deps.metrics, e.event, e.data);
  await insertAuditEvent(deps.db, {
    at: deps.clock.now(),
    event: e.event,
    user_id: e.userId ?? null,
    app_id: e.appId ?? null,
    ip: meta.ip ?? null,
    user_agent: meta.userAgent?.slice(0, 512) ?? null,
    data: JSON.stringify(e.data ?? {}),
  });
}
