// Turns any error into one of three reply shapes, chosen per route by `config.errorFormat`:
//   oauth  → RFC 6749 §5.2 JSON {error, error_description} (401 + WWW-Authenticate for invalid_client)
//   detail → the account API's {detail} (seed 004)
//   html   → a branded error page
// Anything that is not an AppError or a Fastify 4xx is a server_error, logged once with its stack,
// and shown without internals.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { AppError } from '../errors.js';
import { renderPage } from './render.js';

export type ErrorFormat = 'oauth' | 'detail' | 'html';

declare module 'fastify' {
  interface FastifyContextConfig {
    errorFormat?: ErrorFormat;
  }
}

function describeValidation(err: FastifyError): string {
  if (hasZodFastifySchemaValidationErrors(err)) {
    return err.validation
      .map((v) => {
        const path = v.instancePath.replace(/^\//, '').replaceAll('/', '.');
        const field = path || (v.params as { issue?: { path?: unknown[] } })?.issue?.path?.join('.') || err.validationContext;
        return `${field ? `${field}: ` : ''}${v.message}`;
      })
      .join('; ');
  }
  return err.message;
}

/** Maps what Fastify itself throws (bad JSON, body too large, wrong content type, CSRF) to AppErrors. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const fe = err as FastifyError;
  if (fe.validation) return new AppError('invalid_request', `Invalid request: ${describeValidation(fe)}`);
  if (fe.code === 'FST_CSRF_INVALID_TOKEN' || fe.code === 'FST_CSRF_MISSING_SECRET') {
    return new AppError('forbidden', 'The form has expired or was not sent from this site. Go back, reload the page and try again.');
  }
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new AppError('invalid_request', 'Request body is too large', { status: 413 });
  if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new AppError('invalid_request', 'Unsupported Content-Type', { status: 415 });
  if (fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
    return new AppError('invalid_request', 'Request body is not valid JSON');
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new AppError(fe.statusCode === 404 ? 'not_found' : 'invalid_request', 'The request could not be processed', {
      status: fe.statusCode,
      detail: fe.message,
    });
  }
  return new AppError('server_error', 'The server encountered an unexpected error', { detail: (err as Error)?.message });
}

export async function errorHandler(this: unknown, err: unknown, request: FastifyRequest, reply: FastifyReply) {
  const e = toAppError(err);
  if (e.code === 'server_error') request.log.error({ err }, 'unhandled error');
  else
    request.log.info({ event: 'request.rejected', code: e.code, status: e.status, detail: e.detail ?? e.description }, 'request rejected');
  return sendError(request, reply, e);
}

export function sendError(request: FastifyRequest, reply: FastifyReply, e: AppError) {
  const format: ErrorFormat = request.routeOptions.config?.errorFormat ?? 'oauth';
  reply.status(e.status);
  // A 404 or an error raised before the route's onRequest hook ran has no security headers yet.
  if (!reply.hasHeader('x-content-type-options')) reply.headers(request.server.securityHeaders);
  if (e.retryAfter !== undefined) reply.header('Retry-After', String(e.retryAfter));
  reply.header('Cache-Control', 'no-store');
  if (format === 'html') {
    return renderPage(
      reply,
      'error.eta',
      { title: e.status >= 500 ? 'Something went wrong' : 'This request cannot be completed', message: e.description },
      e.status,
    );
  }
  if (format === 'detail') {
    // RFC 6750 §3: a refused bearer token is announced in WWW-Authenticate whatever the body shape.
    if (e.code === 'invalid_token') reply.header('WWW-Authenticate', `Bearer realm="keymaster", error="invalid_token"`);
    if (e.code === 'rate_limited') return reply.send({ error: 'rate_limited', retry_after: e.retryAfter });
    return reply.send({ detail: e.description });
  }
  if (e.code === 'invalid_client') reply.header('WWW-Authenticate', 'Basic realm="keymaster", error="invalid_client"');
  if (e.code === 'invalid_token') {
    reply.header(
      'WWW-Authenticate',
      `Bearer realm="keymaster", error="invalid_token", error_description="${e.description.replace(/"/g, "'")}"`,
    );
  }
  // KEYMASTER-API.md §5: the OAuth endpoints answer a rate limit with `too_many_requests`.
  const code =
    e.code === 'not_found' || e.code === 'forbidden' || e.code === 'conflict'
      ? 'invalid_request'
      : e.code === 'rate_limited'
        ? 'too_many_requests'
        : e.code;
  // RFC 6749 §5.2: error_description is limited to %x20-21 / %x23-5B / %x5D-7E.
  const description = e.description.replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, '?');
  // KEYMASTER-API.md §2: a 429 carries retry_after in the body as well as the Retry-After header.
  if (e.code === 'rate_limited') return reply.send({ error: code, error_description: description, retry_after: e.retryAfter });
  return reply.send({ error: code, error_description: description });
}
