// Browser-facing plumbing: cookies, form bodies, security headers (CSP without any inline script or
// style, frame-ancestors 'none', no-referrer), eta views and CSRF tokens for every form.
import cookie from '@fastify/cookie';
import csrf from '@fastify/csrf-protection';
import formbody from '@fastify/formbody';
import helmet from '@fastify/helmet';
import view from '@fastify/view';
import { Eta } from 'eta';
import type { FastifyInstance } from 'fastify';
import { fileURLToPath } from 'node:url';
import type { Config } from '../../config.js';
import { enforceContentType } from './guards.js';

export const VIEWS_DIR = fileURLToPath(new URL('../../../views/', import.meta.url));

/** Cookie names get the `__Host-` prefix on https (bound to this host, path /, Secure). */
export function cookieName(config: Pick<Config, 'secureCookies'>, base: string): string {
  return config.secureCookies ? `__Host-${base}` : base;
}

export async function registerWebPlugins(app: FastifyInstance, config: Config): Promise<void> {
  app.addHook('onRequest', enforceContentType);
  await app.register(cookie);
  await app.register(formbody, { bodyLimit: config.bodyLimit });
  await app.register(helmet, {
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
