// GET /logos/:app_id — an app's uploaded logo (POST /admin/apps/{app_id}/logo), from Keymaster's own
// origin: the hosted pages' CSP (img-src 'self') allows it, and nothing is fetched from elsewhere.
// The bytes are served as stored, under the type sniffed at upload, with a strong ETag. An SVG is a
// document that could hold script: nosniff, and a CSP that allows no script, no fetch and sandboxes it,
// so opening the logo's URL directly runs nothing (inside <img>, browsers never run SVG script).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Deps } from '../../deps.js';
import { getAppLogo } from '../../domain/apps/logos.js';
import { appError } from '../../errors.js';

export const LOGO_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox";

const logoRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  app.get('/logos/:app_id', { schema: { params: z.object({ app_id: z.string().max(64) }) } }, async (req, reply) => {
    const logo = await getAppLogo(deps, req.params.app_id);
    if (!logo) throw appError('route_not_found', { detail: 'no logo' });
    reply
      .header('X-Content-Type-Options', 'nosniff')
      .header('Content-Security-Policy', LOGO_CSP)
      .header('ETag', logo.etag)
      // A new upload changes the ETag; a minute of caching keeps the login page fast meanwhile.
      .header('Cache-Control', 'public, max-age=60, must-revalidate');
    const match = req.headers['if-none-match'];
    if (typeof match === 'string' && match.split(',').some((t) => t.trim() === logo.etag)) return reply.code(304).send();
    return reply.type(logo.contentType).send(logo.data);
  });
};
export default logoRoutes;
