// Console: the Operations screens (issue 15) as one ConsoleScreen — JWT refresh keys (seed 001's
// Setup → Integrations → JWT Refresh Keys), webhooks, the audit log, and signing keys (platform
// admins only: absent from other tiers' navigation; the Admin API refuses their direct URLs). Each
// screen is its own module; every read and change is an Admin API call (kit.ts consoleApi).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Deps } from '../../deps.js';
import auditRoutes from './audit.js';
import keysRoutes from './keys.js';
import refreshKeysRoutes from './ops-refresh-keys.js';
import webhooksRoutes from './webhooks.js';
import type { ConsoleScreen } from './kit.js';

const opsRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, opts) => {
  await app.register(refreshKeysRoutes, opts);
  await app.register(webhooksRoutes, opts);
  await app.register(auditRoutes, opts);
  await app.register(keysRoutes, opts);
};

const operationsScreen: ConsoleScreen = {
  nav: [
    { href: '/console/refresh-keys', label: 'JWT Refresh Keys' },
    { href: '/console/webhooks', label: 'Webhooks' },
    { href: '/console/audit', label: 'Audit log' },
    { href: '/console/keys', label: 'Signing keys', visible: (me) => me.platform },
  ],
  routes: opsRoutes,
};
export default operationsScreen;
