// GET/POST /end_session (OpenID Connect RP-Initiated Logout 1.0). A verified id_token_hint for the
// signed-in user ends the session at once; without one the user confirms (a POST with a CSRF token),
// so a cross-site link alone cannot sign anyone out. Afterwards: 303 to the registered
// post_logout_redirect_uri (with state), or the signed-out page.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import type { Deps } from '../../deps.js';
import { resolveEndSession, type EndSessionTarget } from '../../domain/oidc/logout.js';
import { endSession, resumeSession } from '../../domain/sessions/sessions.js';
import { renderLogoutConfirm } from '../logout-page.js';
import { renderPage } from '../render.js';
import { uiLocaleOf } from '../../i18n/locales.js';
import { sameOriginOnly, FORM_BODY_LIMIT } from '../plugins/guards.js';
import { requestMeta } from '../request-meta.js';
import { EndSessionForm, EndSessionParams } from '../schemas/oidc.js';
import { clearSsoCookie, readSsoCookie } from '../sso-cookie.js';

const oidcEndSessionRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  function finish(reply: FastifyReply, target: EndSessionTarget, uiLocales: unknown) {
    clearSsoCookie(deps.config, reply);
    if (target.continueTo) return reply.header('Cache-Control', 'no-store').redirect(target.continueTo, 303);
    return renderPage(reply, 'signed-out.eta', { title: 'logout.signedOutTitle', app: target.app, uiLocales: uiLocaleOf(uiLocales) });
  }

  async function start(req: FastifyRequest, reply: FastifyReply, params: z.infer<typeof EndSessionParams>) {
    const target = await resolveEndSession(deps, params);
    const cookie = readSsoCookie(deps.config, req);
    const live = await resumeSession(deps, cookie);
    if (!live) return finish(reply, target, params.ui_locales);
    if (target.hint && target.hint.sub === live.user.id) {
      await endSession(deps, cookie, requestMeta(req));
      return finish(reply, target, params.ui_locales);
    }
    const hidden = Object.fromEntries(
      (['id_token_hint', 'client_id', 'post_logout_redirect_uri', 'state', 'ui_locales'] as const).flatMap((k) =>
        params[k] !== undefined ? [[k, params[k]]] : [],
      ),
    ) as Record<string, string>;
    return renderLogoutConfirm(reply, {
      action: '/end_session',
      app: target.app,
      email: live.user.email,
      hidden,
      cancel: target.continueTo,
      uiLocales: uiLocaleOf(params.ui_locales),
    });
  }

  const config = { errorFormat: 'html' as const };
  const sameOrigin = sameOriginOnly(deps.config);
  app.get('/end_session', { schema: { querystring: EndSessionParams }, config }, (req, reply) => start(req, reply, req.query));
  app.post(
    '/end_session',
    { schema: { body: EndSessionForm }, config: { ...config, accepts: 'form' as const }, bodyLimit: FORM_BODY_LIMIT },
    async (req, reply) => {
      // The confirmation form carries a CSRF token; an RP's own POST (RP-Initiated Logout §2) does not.
      if (req.body._csrf === undefined) return start(req, reply, req.body);
      // Our own confirmation form: same-origin check (formGuard's first half), then the CSRF token.
      await sameOrigin.call(app, req, reply);
      await new Promise<void>((resolve, reject) => app.csrfProtection(req, reply, (err?: Error) => (err ? reject(err) : resolve())));
      const target = await resolveEndSession(deps, req.body);
      await endSession(deps, readSsoCookie(deps.config, req), requestMeta(req));
      return finish(reply, target, req.body.ui_locales);
    },
  );
};
export default oidcEndSessionRoutes;
