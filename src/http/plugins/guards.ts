// Per-route guards a route opts into with one line (see docs/SECURITY.md):
//   form POSTs:   preValidation: formGuard(app, deps.config)        same-origin check, then CSRF token
//   rate limits:  preHandler: rateLimit(deps, RULES.x)              per-IP counter in Postgres, 429
//   body types:   config: { accepts: 'json' | 'form' }              anything else is 415
// They run before the handler, so a refused request changes nothing.
import type {
  FastifyInstance,
  FastifyRequest,
  preHandlerAsyncHookHandler,
  preValidationAsyncHookHandler,
  preValidationHookHandler,
} from 'fastify';
import type { Config } from '../../config.js';
import type { Deps } from '../../deps.js';
import { consumeRateLimit, type RateLimitRule } from '../../domain/rate-limits/rate-limits.js';
import { appError, type AppError } from '../../errors.js';
import { hookList } from './route-hooks.js';

export type BodyKind = 'json' | 'form';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The one body media type this route accepts; any other (with a body) is 415. */
    accepts?: BodyKind;
  }
}

/** Route body limits: a sign-in form or a token request is well under these; KEYMASTER_BODY_LIMIT caps the rest. */
export const FORM_BODY_LIMIT = 16 * 1024;
export const JSON_BODY_LIMIT = 16 * 1024;

const MEDIA: Record<BodyKind, string> = { json: 'application/json', form: 'application/x-www-form-urlencoded' };

/**
 * Refuses a state-changing browser POST that a browser says came from another site: a
 * `Sec-Fetch-Site: cross-site`, or an `Origin` other than the configured issuer's (`null` included,
 * unless Sec-Fetch-Site says same-origin). The issuer is the one origin our pages are served from;
 * the Host header is never trusted here (a client sets it, so `Origin` = forged Host would pass).
 * A POST with no Origin (old browsers, non-browser clients) passes on to the CSRF token check, which
 * then decides alone. OWASP CSRF cheat sheet, "Verifying Origin with standard headers".
 */
export function sameOriginOnly(config: Pick<Config, 'issuer'>): preValidationAsyncHookHandler {
  const issuerOrigin = new URL(config.issuer).origin;
  return async function sameOrigin(req: FastifyRequest) {
    const site = req.headers['sec-fetch-site'];
    if (site === 'cross-site') throw crossSite(`sec-fetch-site ${site}`);
    const origin = req.headers.origin;
    if (origin === undefined) return;
    // Our pages send Referrer-Policy: no-referrer, under which browsers send `Origin: null` even for
    // a same-origin form POST (Fetch §3.1 "append a request Origin header"). Sec-Fetch-Site still says
    // where it came from; a null origin without it (sandboxed frame, data: URL) is refused.
    if (origin === 'null' && site === 'same-origin') return;
    if (origin === issuerOrigin) return;
    throw crossSite(`origin ${String(origin).slice(0, 200)}`);
  };
}

const crossSite = (detail: string) => appError('cross_site_form', { detail: `cross-site form post refused: ${detail}` });

/** Origin check, then the CSRF token: the preValidation every state-changing form route uses. */
export function formGuard(app: FastifyInstance, config: Pick<Config, 'issuer'>): preValidationHookHandler[] {
  // Fastify calls hooks with `this` bound to the instance, which is what csrfProtection expects.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  return [sameOriginOnly(config) as unknown as preValidationHookHandler, app.csrfProtection];
}

/**
 * Counts this request against `rule` for its subject (the client IP unless told otherwise) and refuses
 * with 429 + Retry-After past the limit, in the route's own error format. The counter lives in
 * Postgres, so every process behind the load balancer shares it. Runs as a preHandler: requests that
 * fail validation are refused before they are counted (and before anything is written).
 */
export function rateLimit(
  deps: Pick<Deps, 'db' | 'clock' | 'config' | 'rateCounters'>,
  rule: RateLimitRule,
  subjectOf: (req: FastifyRequest) => string | undefined = (req) => req.ip,
): preHandlerAsyncHookHandler {
  return async function limit(req: FastifyRequest) {
    const subject = subjectOf(req);
    if (subject) await consumeRateLimit(deps, rule, subject);
  };
}

/**
 * Part of the route's onRequest hook (plugins/web.ts): the 415 for a body that is not the route's
 * `config.accepts` (undefined when the request may go on). Synchronous: it runs on every request.
 */
export function contentTypeError(req: FastifyRequest, accepts: BodyKind): AppError | undefined {
  const length = req.headers['content-length'];
  const hasBody = (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
  if (!hasBody) return undefined;
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === MEDIA[accepts]) return undefined;
  return appError('unsupported_media_type', { expected: MEDIA[accepts] });
}

/**
 * Text that no field of ours may hold: NUL (Postgres text cannot store it; the driver's error would be
 * a 500) and lone surrogates (not Unicode: their UTF-8 encoding is invalid, and Postgres refuses it).
 * The first offending field of the body or query, as `path: reason`, or undefined.
 */
// In a `u` regex a well-formed pair is one astral code point; only a lone half matches \p{Cs}.
const LONE_SURROGATE = /\p{Cs}/u;

export function badText(value: unknown, path = ''): string | undefined {
  if (typeof value === 'string') {
    if (value.includes('\u0000')) return `${path || 'body'}: must not contain NUL characters`;
    if (LONE_SURROGATE.test(value)) return `${path || 'body'}: must be valid Unicode text`;
    return undefined;
  }
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const found = badText(v, path ? `${path}.${k}` : k);
      if (found) return found;
    }
  }
  return undefined;
}

/**
 * Every route with a body or query schema refuses bad text (badText) before validation, in its own
 * error format: one place for the rule, so a new route or field cannot forget it (fuzz-routes.test.ts).
 */
export function registerTextGuard(app: FastifyInstance): void {
  const guard: preValidationHookHandler = (req, _reply, done) => {
    const found = badText(req.body) ?? badText(req.query);
    done(found ? appError('invalid_input', { problems: found }) : undefined);
  };
  app.addHook('onRoute', (route) => {
    const schema = route.schema as { body?: unknown; querystring?: unknown } | undefined;
    if (!schema?.body && !schema?.querystring) return;
    route.preValidation = [guard, ...hookList(route.preValidation)];
  });
}
