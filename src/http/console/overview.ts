// Console overview: the counts of GET /admin/stats and the latest sign-in failures, refresh-token
// replays and lockouts (GET /admin/audit-events), over what the signed-in admin may see.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import type { Deps } from '../../deps.js';
import type { AuditItem, Stats } from '../admin/operations-schemas.js';
import { consoleApi, must, renderConsole, type ConsoleScreen } from './kit.js';

/** The Admin API's records, as its schemas say (operations-schemas.ts). */
type StatsWire = z.infer<typeof Stats>;

export type AuditEventWire = z.infer<typeof AuditItem>;

/** The problems the overview lists, as the audit log names them (domain/stats/stats.ts RECENT_EVENTS). */
export const PROBLEM_EVENTS = [
  { event: 'login.failure', label: 'Sign-in failures' },
  { event: 'refresh_token.replay', label: 'Refresh-token replays' },
  { event: 'user.locked', label: 'Lockouts' },
] as const;

const overviewRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app) => {
  app.get('/', { schema: {} }, async (req, reply) => {
    const api = consoleApi(req);
    const [stats, ...recent] = await Promise.all([
      api.get<StatsWire>('/stats').then(must),
      ...PROBLEM_EVENTS.map((p) => api.get<{ events: AuditEventWire[] }>('/audit-events', { event: p.event, limit: 5 }).then(must)),
    ]);
    const problems = PROBLEM_EVENTS.map((p, i) => ({ ...p, events: recent[i]!.events }));
    return renderConsole(req, reply, 'overview.eta', { title: 'Overview', stats, problems });
  });
};

const overviewScreen: ConsoleScreen = {
  nav: [{ href: '/console', label: 'Overview' }],
  routes: overviewRoutes,
};
export default overviewScreen;
