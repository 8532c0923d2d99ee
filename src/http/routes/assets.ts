// Static assets: the shared stylesheet and a per-app one with the brand colour, so pages carry no
// inline CSS and the CSP stays `style-src 'self'` with no nonces; the one script (show password), for
// `script-src 'self'`; the favicon.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Deps } from '../../deps.js';
import { findApp } from '../../domain/apps/apps.js';
import { DEFAULT_BRAND_COLOR, paletteCss } from '../../lib/brand-palette.js';
import { VIEWS_DIR } from '../plugins/web.js';

const assetRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  const css = paletteCss(DEFAULT_BRAND_COLOR) + readFileSync(join(VIEWS_DIR, 'keymaster.css'), 'utf8');
  const favicon = readFileSync(join(VIEWS_DIR, 'favicon.svg'), 'utf8');
  const showPassword = readFileSync(join(VIEWS_DIR, 'show-password.js'), 'utf8');

  app.get('/assets/keymaster.css', (_req, reply) =>
    reply.type('text/css; charset=utf-8').header('Cache-Control', 'public, max-age=3600').send(css),
  );

  // The pages' only script (CSP script-src 'self'): the show-password toggle, an enhancement.
  app.get('/assets/show-password.js', (_req, reply) =>
    reply.type('text/javascript; charset=utf-8').header('Cache-Control', 'public, max-age=3600').send(showPassword),
  );

  app.get(
    '/branding/:file',
    { schema: { params: z.object({ file: z.string().regex(/^[0-9a-fA-F-]{36}\.css$/) }) } },
    async (req, reply) => {
      const client = await findApp(deps, req.params.file.slice(0, 36));
      // The colour was validated as #rrggbb when the app was saved; nothing else reaches this file.
      const body = client?.primaryColor ? paletteCss(client.primaryColor) : '';
      return reply.type('text/css; charset=utf-8').header('Cache-Control', 'public, max-age=300').send(body);
    },
  );

  // Keymaster's icon; a page of an app with a logo links the logo instead (layout.eta).
  const sendFavicon = (_req: unknown, reply: FastifyReply) =>
    reply.type('image/svg+xml').header('Cache-Control', 'public, max-age=86400').send(favicon);
  app.get('/assets/favicon.svg', sendFavicon);
  app.get('/favicon.ico', sendFavicon);
};
export default assetRoutes;
