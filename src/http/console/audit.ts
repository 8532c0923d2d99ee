// Console: the audit log. The filters the Admin API has (event, actor, app, user, time window), keyset
// pages, and each event's details (who acted, from where, its data) readable in place. GET
// /admin/audit-events scopes it to the apps the admin reaches; the form's values go to the API as
// they are, and what it refuses is shown next to its field.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Deps } from '../../deps.js';
import { consoleApi, renderConsole } from './kit.js';
import type { AuditEventWire } from './overview.js';
import { CursorQuery, utc, visibleApps } from './ops-kit.js';

const text = (max: number) => z.string().max(max).optional();
const AuditQuery = z.object({
  event: text(100),
  actor_id: text(100),
  app_id: text(100),
  user_id: text(100),
  since: text(40),
  until: text(40),
  cursor: CursorQuery,
});
type Filters = Omit<z.infer<typeof AuditQuery>, 'cursor'>;

/** A datetime-local value ("2026-12-08T09:30") is UTC here; the API takes ISO 8601 with an offset. */
function instant(v: string | undefined): string | undefined {
  if (!v) return undefined;
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(v)) return `${v}:00Z`;
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$/.test(v)) return `${v}Z`;
  return v;
}

/** Events offered as suggestions (the field takes any name). */
const KNOWN_EVENTS = [
  'admin.granted',
  'admin.revoked',
  'app.created',
  'app.deleted',
  'app.logo_uploaded',
  'app.secret_rotated',
  'app.updated',
  'authorization_code.replay',
  'consent.granted',
  'consent.revoked',
  'invite.accepted',
  'invite.created',
  'invite.revoked',
  'login.failure',
  'login.locked',
  'login.second_factor',
  'login.success',
  'password_reset.completed',
  'password_reset.requested',
  'refresh_key.created',
  'refresh_token.replay',
  'refresh_token.revoked',
  'session.ended',
  'signing_key.rotated',
  'tenant.created',
  'tenant.deleted',
  'tenant.updated',
  'totp.disabled',
  'totp.enabled',
  'user.approved',
  'user.created',
  'user.deleted',
  'user.locked',
  'user.role_changed',
  'user.signed_out_everywhere',
  'user.suspended',
  'user.unlocked',
  'user.updated',
  'webhook.created',
  'webhook.deleted',
  'webhook.pinged',
];

const auditRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app) => {
  app.get('/audit', { schema: { querystring: AuditQuery } }, async (req, reply) => {
    const { cursor, ...raw } = req.query;
    const filters: Filters = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, v?.trim() ?? ''])) as Filters;
    const api = consoleApi(req);
    const [apps, r] = await Promise.all([
      visibleApps(req),
      api.get<{ events: AuditEventWire[]; next_cursor: string | null }>('/audit-events', {
        limit: 50,
        cursor,
        event: filters.event,
        actor_id: filters.actor_id,
        app_id: filters.app_id,
        user_id: filters.user_id,
        since: instant(filters.since),
        until: instant(filters.until),
      }),
    ]);
    if (!r.ok && (r.error.status >= 500 || r.error.status === 401 || r.error.status === 403)) throw r.error;
    const errors = r.ok ? {} : r.error.fields;
    const detail = !r.ok && Object.keys(errors).length === 0 ? r.error.detail : undefined;
    const kept = new URLSearchParams(Object.entries(filters).filter(([, v]) => v) as [string, string][]);
    const next = r.ok && r.body.next_cursor ? `/console/audit?${new URLSearchParams([...kept, ['cursor', r.body.next_cursor]])}` : null;
    return renderConsole(
      req,
      reply,
      'audit.eta',
      {
        title: 'Audit log',
        filters,
        events: r.ok ? r.body.events : [],
        appNames: Object.fromEntries(apps.map((a) => [a.id, a.name])),
        apps,
        known: KNOWN_EVENTS,
        errors,
        detail,
        next,
        first: cursor ? `/console/audit${kept.size ? `?${kept}` : ''}` : null,
        utc,
      },
      { status: r.ok ? 200 : r.error.status },
    );
  });
};
export default auditRoutes;
