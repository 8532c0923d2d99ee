// GET /.well-known/jwks.json: the public keys, serialised once per key change, with ETag and caching.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Deps } from '../../deps.js';
import { JWKS_MAX_AGE } from '../../domain/keys/keys.js';

/** Resource servers may cache the JWKS this long; a new key is published at least this long before it signs. */
export { JWKS_MAX_AGE };

const CACHE_CONTROL = `public, max-age=${JWKS_MAX_AGE}, must-revalidate`;

const jwksRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  // A public document: readable from any origin (a browser app verifying tokens with jose), without
  // the page headers (plugins/web.ts).
  app.get('/.well-known/jwks.json', { config: { headers: 'document' } }, (req, reply) => {
    const etag = deps.keys.etag;
    reply.header('Cache-Control', CACHE_CONTROL).header('ETag', etag);
    if (matchesEtag(req.headers['if-none-match'], etag)) return reply.status(304).send();
    return reply.type('application/json; charset=utf-8').send(deps.keys.jwksBody);
  });
};
export default jwksRoutes;

/** If-None-Match may list several tags, weak or strong, or `*` (RFC 9110 §13.1.2: weak comparison). */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((t) => {
    const tag = t.trim();
    return tag === '*' || tag.replace(/^W\//, '') === etag;
  });
}
