// buildApp(deps): the Fastify instance with its plugins, error handler and the explicit list of route
// modules. It never listens; main.ts does, tests use app.inject or listen on port 0.
import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Deps } from './deps.js';
import { appError } from './errors.js';
import { clientErrorHandler, errorHandler, sendError } from './http/error-handler.js';
import { lazyChildLogger } from './http/lazy-logger.js';
import { registerWebPlugins } from './http/plugins/web.js';
import accountApiRoutes from './http/routes/account-api.js';
import inviteRoutes, { invitePageRoutes } from './http/routes/invites.js';
import accountPageRoutes from './http/routes/account-pages.js';
import accountHomeRoutes from './http/routes/account-home.js';
import assetRoutes from './http/routes/assets.js';
import accountSessionRoutes from './http/routes/account-sessions.js';
import { registerMetricsHook } from './http/plugins/metrics.js';
import { registerTextGuard } from './http/plugins/guards.js';
import { recordRouteTable } from './http/plugins/route-hooks.js';
import healthRoutes from './http/routes/health.js';
import jwksRoutes from './http/routes/jwks.js';
import keymasterTokenRoutes from './http/routes/keymaster-tokens.js';
import loginRoutes from './http/routes/login.js';
import oidcAuthorizeRoutes from './http/routes/oidc-authorize.js';
import oidcConsentRoutes from './http/routes/oidc-consent.js';
import oidcDeviceRoutes from './http/routes/oidc-device.js';
import oidcDiscoveryRoutes from './http/routes/oidc-discovery.js';
import oidcEndSessionRoutes from './http/routes/oidc-end-session.js';
import oidcParRoutes from './http/routes/oidc-par.js';
import oidcTokenOpsRoutes from './http/routes/oidc-token-ops.js';
import oidcTokenRoutes from './http/routes/oidc-token.js';
import oidcUserinfoRoutes from './http/routes/oidc-userinfo.js';
import homeRoutes from './http/routes/home.js';
import metricsRoutes from './http/routes/metrics.js';
import { registryMetrics } from './management.js';
import ssoLogoutRoutes from './http/routes/sso-logout.js';
import upstreamLoginRoutes from './http/routes/upstream-login.js';
import tokenVerifyRoutes from './http/routes/token-verify.js';
import setupRoutes from './http/routes/setup.js';
import { registerAdminApi } from './http/admin/plugin.js';
import logoRoutes from './http/routes/logos.js';
import { registerConsole } from './http/console/plugin.js';

export type App = FastifyInstance;

export function requestIdGenerator(): () => string {
  const prefix = randomBytes(4).toString('hex');
  let n = 0;
  return () => `${prefix}-${(++n).toString(36)}`;
}

export async function buildApp(deps: Deps) {
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    trustProxy: deps.config.trustProxy,
    bodyLimit: deps.config.bodyLimit,
    requestIdHeader: false,
    // Shown as the reference on error pages and bound to every log line of the request: unique across
    // processes and restarts (a random prefix per process), a counter after it (no per-request randomness).
    genReqId: requestIdGenerator(),
    // Our own 503 while closing, in the route's error shape (http/plugins/web.ts).
    return503OnClosing: false,
    // Errors before a request exists (headers too large, malformed, timed out), in the OAuth shape.
    clientErrorHandler,
    // What the router refuses before any route (a path parameter over maxParamLength, a URL it cannot
    // decode) goes through our error handler too, never Fastify's own body.
    frameworkErrors: errorHandler,
    // req.log is made on first use at an enabled level (a pino child with redaction is not free: lazy-logger.ts).
    childLoggerFactory: lazyChildLogger,
    // Per-request info lines cost throughput on the hot paths at LOG_LEVEL=info (KEYMASTER_REQUEST_LOG=false).
    ...(!deps.config.requestLog && { disableRequestLogging: true }),
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(errorHandler);

  // These add per-route hooks (onRoute), so they come before every route.
  recordRouteTable(app);
  registerTextGuard(app);
  await registerWebPlugins(app, deps.config);
  const metrics = registerMetricsHook(app, deps.metrics);
  app.setNotFoundHandler((req, reply) => {
    metrics.recordUnmatched(req, reply);
    return sendError(req, reply, appError('route_not_found', { detail: 'Not found' }));
  });

  // The route table, in one place.
  await app.register(healthRoutes, { deps });
  await app.register(homeRoutes, { deps });
  // Public /metrics only behind its token; the management listener serves it otherwise (src/management.ts).
  if (deps.config.metricsToken !== undefined) {
    await app.register(metricsRoutes, { source: registryMetrics(deps.metrics), token: deps.config.metricsToken });
  }
  await app.register(assetRoutes, { deps });
  await app.register(jwksRoutes, { deps });
  await app.register(loginRoutes, { deps });
  await app.register(keymasterTokenRoutes, { deps });
  await app.register(ssoLogoutRoutes, { deps });
  await app.register(upstreamLoginRoutes, { deps });
  await app.register(tokenVerifyRoutes, { deps });
  // OpenID Provider (seeds 002, 003).
  await app.register(oidcDiscoveryRoutes, { deps });
  await app.register(oidcAuthorizeRoutes, { deps });
  await app.register(oidcConsentRoutes, { deps });
  await app.register(oidcTokenRoutes, { deps });
  await app.register(oidcTokenOpsRoutes, { deps });
  await app.register(oidcParRoutes, { deps });
  await app.register(oidcUserinfoRoutes, { deps });
  await app.register(oidcEndSessionRoutes, { deps });
  // RFC 8628: off → no routes (404), and discovery names none.
  if (deps.config.deviceGrant) await app.register(oidcDeviceRoutes, { deps });
  await app.register(accountSessionRoutes, { deps });
  await app.register(accountApiRoutes, { deps });
  await app.register(accountPageRoutes, { deps });
  await app.register(accountHomeRoutes, { deps });
  // Invites (issue 14): accepting one signs in to its app.
  await app.register(inviteRoutes, { deps });
  await app.register(invitePageRoutes, { deps });
  // First start: "create the first administrator" behind the one-time setup link (issue 14).
  await app.register(setupRoutes, { deps });
  // The Admin API (issue 14): /admin/*, its own route list in http/admin/plugin.ts.
  await registerAdminApi(app, deps);
  // Uploaded app logos, from our own origin (POST /admin/apps/{id}/logo).
  await app.register(logoRoutes, { deps });
  // The Console (issue 15): /console, its own screen list in http/console/plugin.ts.
  await registerConsole(app, deps);

  return app;
}
