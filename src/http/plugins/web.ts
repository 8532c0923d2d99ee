// Browser-facing plumbing: cookies, form bodies, security headers (CSP without any inline script or
// style, frame-ancestors 'none', no-referrer), eta views and CSRF tokens for every form.
import cookie from '@fastify/cookie';
import csrf from '@fastify/csrf-protection';
import formbody from '@fastify/formbody';
import view from '@fastify/view';
import { Eta } from 'eta';
import type { FastifyInstance } from 'fastify';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Config } from '../../config.js';
import { contentTypeError } from './guards.js';

export const VIEWS_DIR = fileURLToPath(new URL('../../../views/', import.meta.url));

/** Cookie names get the `__Host-` prefix on https (bound to this host, path /, Secure). */
export function cookieName(config: Pick<Config, 'secureCookies'>, base: string): string {
  return config.secureCookies ? `__Host-${base}` : base;
}

export async function registerWebPlugins(app: FastifyInstance, config: Config): Promise<void> {
  // One synchronous hook for every request: the security headers (the same as @fastify/helmet,
  // computed ONCE — the plugin built a new helmet middleware and CSP string per request, a third of a
  // JWKS request's time) and the route's body media type (415). Each hook is a step of every request.
  const headers = securityHeaders(config);
  app.addHook('onRequest', (req, reply, done) => {
    reply.headers(headers);
    done(contentTypeError(req));
  });
  await app.register(cookie);
  await app.register(formbody, { bodyLimit: config.bodyLimit });
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

type HelmetMiddleware = (req: unknown, res: { setHeader(n: string, v: string): void; removeHeader(n: string): void }, next: (err?: unknown) => void) => void;

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
        scriptSrc: ["'none'"],
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
  if (failed) throw failed;
  return headers;
}
