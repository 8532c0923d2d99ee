// GET /: where a developer who opens Keymaster's address lands. A browser gets a page saying the server
// runs and what to do next (register an app, send users to /login, the demo app, the discovery and
// JWKS documents); an API client gets the same facts as JSON. Nothing here is secret.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Deps } from '../../deps.js';
import { prefersHtml } from '../error-handler.js';
import { renderPage } from '../render.js';

const homeRoutes: FastifyPluginAsyncZod<{ deps: Pick<Deps, 'config'> }> = async (app, { deps }) => {
  const issuer = deps.config.issuer;
  const facts = {
    service: 'keymaster',
    issuer,
    openid_configuration: `${issuer}/.well-known/openid-configuration`,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    sign_in: `${issuer}/login?app_id=APP_ID&redirect_uri=REDIRECT_URI`,
  };
  app.get('/', { config: { errorFormat: 'html' } }, (req, reply) => {
    if (!prefersHtml(req)) return reply.header('Cache-Control', 'no-store').send(facts);
    return renderPage(reply, 'home.eta', { title: 'home.title', ...facts });
  });
};
export default homeRoutes;
