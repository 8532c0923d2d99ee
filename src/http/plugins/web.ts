// Browser-facing plumbing: cookies, form bodies, security headers (CSP without any inline script or
// style, frame-ancestors 'none', no-referrer), eta views and CSRF tokens for every form.
import cookie from '@fastify/cookie';
import csrf from '@fastify/csrf-protection';
import formbody from '@fastify/formbody';
import view from '@fastify/view';
import { Eta } from 'eta';
import type { FastifyInstance, onRequestHookHandler } from 'fastify';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Config } from '../../config.js';
import { appError } from '../../errors.js';
import { allCatalogs, onOverrideFailure } from '../../i18n/catalog.js';
import { contentTypeError } from './guards.js';
import { hookList } from './route-hooks.js';

export const VIEWS_DIR = fileURLToPath(new URL('../../../views/', import.meta.url));

/** Cookie names get the `__Host-` prefix on https (bound to this host, path /, Secure). */
export function cookieName(config: Pick<Config, 'secureCookies'>, base: string): string {
  return config.secureCookies ? `__Host-${base}` : base;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Which security headers the route sends: `page` (default) is helmet's set for HTML and anything a
     * browser may render; `document` is for public JSON documents fetched by machines and by browser
     * apps from other origins (the JWKS, discovery metadata).
     */
    headers?: 'page' | 'document';
  }
  interface FastifyInstance {
    /** The page security headers, for answers that no route's hook made (sendError adds them). */
    securityHeaders: Readonly<Record<string, string>>;
  }
}

export async function registerWebPlugins(app: FastifyInstance, config: Config): Promise<void> {
  // Each route gets ONE synchronous onRequest hook, made for it when it is registered: its security
  // headers (the same as @fastify/helmet, computed ONCE: the plugin built a helmet middleware and a
  // CSP string per request, a third of a JWKS request) and, for a route with `config.accepts`, the
  // 415 check. Built per route so that no request reads req.routeOptions (a getter that builds an
  // object on every call). Answers that no route makes (404, early errors) get the page headers from
  // sendError.
  const page = securityHeaders(config);
  const document = documentHeaders(page);
  app.decorate('securityHeaders', page);
  // Shutting down (app.close() has begun): a request that still arrives on an open keep-alive
  // connection gets 503 + Retry-After in its route's error shape (Fastify's own 503 had its own body).
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.addHook('onRoute', (route) => {
    const headers = route.config?.headers === 'document' ? document : page;
    const accepts = route.config?.accepts;
    const hook: onRequestHookHandler = accepts
      ? (req, reply, done) => {
          reply.headers(headers);
          done(closing ? shuttingDown() : contentTypeError(req, accepts));
        }
      : (_req, reply, done) => {
          reply.headers(headers);
          done(closing ? shuttingDown() : undefined);
        };
    route.onRequest = [hook, ...hookList(route.onRequest)];
  });
  // reply.locals is unused; decorated here so that @fastify/view does not add an onRequest hook that
  // gives every request an empty object.
  app.decorateReply('locals', null);
  await app.register(cookie);
  await app.register(formbody, { bodyLimit: config.bodyLimit });
  // Every message of every locale is parsed and compiled now, once (~40 ms), not on the first page a
  // user asks for; a catalog that does not parse stops the start-up, naming the file and key.
  allCatalogs();
  onOverrideFailure((fields, msg) => app.log.warn(fields, msg));
  await app.register(view, {
    engine: { eta: new Eta({ views: VIEWS_DIR, cache: true, autoEscape: true }) },
    templates: VIEWS_DIR,
  });
  await app.register(csrf, {
    sessionPlugin: '@fastify/cookie',
    cookieKey: cookieName(config, 'km_csrf'),
    cookieOpts: { path: '/', sameSite: 'lax', httpOnly: true, secure: config.secureCookies },
    getToken: (req) => (req.body as Record<string, string> | undefined)?._csrf,
  });
}

const shuttingDown = () => appError('shutting_down', { retryAfter: 1 });

/**
 * The headers of a public JSON document (JWKS, discovery): nothing in it runs or renders, so helmet's
 * page set has nothing to protect there, and being cross-origin readable is its purpose (a browser app
 * verifying tokens with jose fetches the JWKS). What stays: nosniff, a CSP that allows nothing and no
 * framing, and the page set's HSTS (on https).
 */
export function documentHeaders(page: Readonly<Record<string, string>>): Record<string, string> {
  return {
    'access-control-allow-origin': '*',
    'x-content-type-options': 'nosniff',
    'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
    ...(page['strict-transport-security'] && { 'strict-transport-security': page['strict-transport-security'] }),
  };
}

type HelmetMiddleware = (
  req: unknown,
  res: { setHeader(n: string, v: string): void; removeHeader(n: string): void },
  next: (err?: unknown) => void,
) => void;

/** Runs helmet (the very copy @fastify/helmet wraps, so no new dependency) once and keeps what it sets. */
export function securityHeaders(config: Pick<Config, 'secureCookies'>): Record<string, string> {
  const require = createRequire(import.meta.url);
  const helmet = createRequire(require.resolve('@fastify/helmet'))('helmet') as (opts: object) => HelmetMiddleware;
  const headers: Record<string, string> = {};
  const middleware = helmet({
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'none'"],
        baseUri: ["'none'"],
        // One same-origin file (/assets/show-password.js); never inline, never eval.
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'https:', 'data:'],
        // form-action is left out on purpose: Chromium applies it to the redirect that follows a
        // form POST, and a successful sign-in redirects to the app's own origin.
        formAction: null,
        frameAncestors: ["'none'"],
        upgradeInsecureRequests: config.secureCookies ? [] : null,
      },
    },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    strictTransportSecurity: config.secureCookies ? { maxAge: 31_536_000, includeSubDomains: true } : false,
    crossOriginEmbedderPolicy: false,
  });
  let failed: unknown;
  middleware({}, { setHeader: (n, v) => void (headers[n.toLowerCase()] = String(v)), removeHeader: () => {} }, (err) => (failed = err));
  if (failed) throw failed instanceof Error ? failed : new Error('helmet failed to build the page headers', { cause: failed });
  return headers;
}
