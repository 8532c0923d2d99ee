// Audit trail: security-relevant events in audit_events (never secrets; ids and reasons only).
import type { Clock } from '../../lib/clock.js';
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

export async function recordAuditEvent(deps: { db: Db; clock: Clock }, e: AuditEvent, meta: RequestMeta = {}): Promise<void> {
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
