// keymaster audit list — the audit trail, newest first.
import type { Command } from 'commander';
import { listAuditEvents, type AuditEntry } from '../../domain/audit/audit.js';
import { findUserByEmailOrId } from '../../domain/users/users.js';
import { appError } from '../../errors.js';
import { parseLimit, print, table, withDeps } from '../context.js';

export function auditJson(e: AuditEntry) {
  return {
    id: e.id,
    at: e.at.toISOString(),
    event: e.event,
    user_id: e.userId,
    app_id: e.appId,
    ip: e.ip,
    user_agent: e.userAgent,
    data: e.data,
  };
}

export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('the audit trail');
  audit
    .command('list')
    .description('list audit events, newest first')
    .option('--user <email|id>', 'only events about this user')
    .option('--app <app_id>', 'only events about this app')
    .option('--event <name>', 'only this event, e.g. login.failure')
    .option('--limit <n>', 'at most n events (default 100)', parseLimit)
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      await withDeps(async (deps) => {
        let userId: string | undefined;
        if (o.user) {
          const user = await findUserByEmailOrId(deps, o.user);
          if (!user) throw appError('user_ref_not_found', { ref: o.user });
          userId = user.id;
        }
        const events = await listAuditEvents(deps, { userId, appId: o.app, event: o.event, limit: o.limit });
        print(
          o.json,
          events.map(auditJson),
          table(events.map((e) => ({ at: e.at, event: e.event, user: e.userId, app: e.appId, ip: e.ip, data: JSON.stringify(e.data) }))),
        );
      });
    });
}
