// The Admin API (issue 14): JSON under /admin, for the Console, the CLI and service backends.
//
// HOW TO ADD A ROUTE (every /admin route follows this; the plugin enforces the first three):
//  1. Write a route module `src/http/admin/<resource>.ts` exporting a
//     `FastifyPluginAsyncZod<{ deps: Deps }>`, and add it to ROUTE_MODULES below (one line).
//  2. Declare every input and the success response with zod in `schema` (params, querystring, body,
//     response), plus `tags` and `summary` for the OpenAPI document (GET /admin/openapi.json). Reuse
//     the domain's field schemas (schemas.ts does) so the route and the domain accept the same values.
//     Registration fails at start-up for a route without a schema. Route paths are relative to /admin.
//  3. Every route is authenticated before anything else runs (the onRequest hook below): Admin JWT or
//     admin-scoped service token, else 401/403 `{detail}`. Errors use the `detail` format and JSON
//     bodies are limited to JSON_BODY_LIMIT (a route may set its own bodyLimit, e.g. an upload).
//     `config: { adminAuth: 'public' }` opts a route out (only the OpenAPI document does).
//  4. In the handler: `const actor = actorOf(req)`, then one authorization helper of
//     domain/admin/authorization.ts before touching anything:
//       authorizeApp(deps, actor, appId, 'members' | 'full')  → the App, 404 if unseen, 403 for a manager on 'full'
//       authorizeUser(deps, actor, userId)                   → the User, 404 unless enrolled in an app the actor sees
//       assertPlatformAdmin(actor) / assertAdmin(actor) / assertCanCreateAppIn(actor, tenantId)
//       assertServiceScope(actor, 'users:read', appId)       → service tokens: scope + own app only
//       assertTenantVisible(actor, tenantId) / visibleScope(actor) (for list queries)
//     then one domain call with `adminMeta(req)` as its RequestMeta, so the audit event names the
//     acting admin (actor "admin", actorId, source "admin_api") or service (source "service_token").
//  5. Tests: test/http/admin-<resource>.test.ts with test/helpers/admin.ts (adminToken, serviceToken),
//     an IDOR test per boundary; test/http/admin-openapi.test.ts checks the route is in the document.
import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform, type FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Deps } from '../../deps.js';
import { ensureConsoleApp } from '../../domain/apps/console-app.js';
import { JSON_BODY_LIMIT } from '../plugins/guards.js';
import adminAppRoutes from './apps.js';
import { authenticateAdmin } from './auth.js';
import adminMemberRoutes from './members.js';
import adminTenantRoutes from './tenants.js';
import adminUserRoutes from './users.js';
import adminOperationRoutes from './operations.js';
import adminMeRoutes from './me.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** 'public': no admin authentication (the OpenAPI document only). */
    adminAuth?: 'public';
  }
}

export const ADMIN_PREFIX = '/admin';

/** The Admin API's route modules, in one place (like app.ts's list). */
const ROUTE_MODULES: FastifyPluginAsyncZod<{ deps: Deps }>[] = [
  adminAppRoutes,
  adminUserRoutes,
  adminMemberRoutes,
  adminTenantRoutes,
  adminOperationRoutes,
  adminMeRoutes,
];

const adminPlugin: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  // The built-in Console app: its access tokens are the Admin JWTs (domain/apps/console-app.ts).
  const consoleApp = await ensureConsoleApp(deps);

  app.addHook('onRoute', (route) => {
    if (!route.schema) throw new Error(`admin route ${String(route.method)} ${route.url} declares no schema`);
    // In place: the app's route table (plugins/route-hooks.ts) holds this object.
    route.config = Object.assign(route.config ?? {}, { errorFormat: 'detail' as const });
    route.bodyLimit ??= JSON_BODY_LIMIT;
    if (route.config.adminAuth !== 'public') {
      route.schema = { ...route.schema, security: [{ bearer: [] }] };
    }
  });
  app.addHook('onRequest', async (req, reply) => {
    reply.header('Cache-Control', 'no-store');
    if (req.routeOptions.config.adminAuth === 'public') return;
    await authenticateAdmin(deps, consoleApp.appId, req);
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Keymaster Admin API',
        version: '1',
        description:
          'Admin JWT (a Console access token of a user with an admin tier) or a service token with users:read, users:create or invites:create.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    },
    transform: jsonSchemaTransform,
  });

  for (const routes of ROUTE_MODULES) await app.register(routes, { deps });

  app.get(
    '/openapi.json',
    { config: { adminAuth: 'public' }, schema: { tags: ['meta'], summary: 'This OpenAPI 3.1 document' } },
    async () => app.swagger(),
  );
};

export async function registerAdminApi(app: FastifyInstance, deps: Deps): Promise<void> {
  await app.register(adminPlugin, { deps, prefix: ADMIN_PREFIX });
}

export default adminPlugin;
