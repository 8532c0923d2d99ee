// GET /.well-known/jwks.json: the public keys, serialised once per key change, with ETag and caching.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Deps } from '../../deps.js';

/** Resource servers may cache the JWKS this long; a new key is published at least this long before it signs. */
export const JWKS_MAX_AGE = 300;

const jwksRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  app.get('/.well-known/jwks.json', (req, reply) => {
    const etag = deps.keys.etag;
    reply.header('Cache-Control', `public, max-age=${JWKS_MAX_AGE}, must-revalidate`).header('ETag', etag);
    if (req.headers['if-none-match'] === etag) return reply.status(304).send();
    return reply.type('application/json; charset=utf-8').send(deps.keys.jwksBody);
  });
};
export default jwksRoutes;
