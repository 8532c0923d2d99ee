// GET /sso/logout?app_id&post_logout_redirect_uri: ends the SSO session. With a live session the
// branded page asks for one click (a POST with a CSRF token), so a cross-site GET alone cannot sign
// anyone out; then the signed-out page continues to post_logout_redirect_uri only if it is registered.
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import type { Deps } from '../../deps.js';
import { findApp, isRegisteredLogoutUri, type App } from '../../domain/apps/apps.js';
import { endSession, resumeSession } from '../../domain/sessions/sessions.js';
import { appError } from '../../errors.js';
import { FORM_BODY_LIMIT, formGuard } from '../plugins/guards.js';
import { renderLogoutConfirm } from '../logout-page.js';
import { renderPage } from '../render.js';
import { requestMeta } from '../request-meta.js';
import { SsoLogoutForm, SsoLogoutQuery } from '../schemas/login.js';
import { clearSsoCookie, readSsoCookie } from '../sso-cookie.js';

type LogoutParams = z.infer<typeof SsoLogoutQuery>;

/** The app and the continue-URL, both checked; an unregistered URI is an error page, never a redirect. */
async function resolveLogoutTarget(deps: Deps, q: LogoutParams): Promise<{ app?: App; continueTo?: string }> {
  const appId = q.app_id ?? q.client_id;
  const app = appId ? await findApp(deps, appId) : undefined;
  if (appId && !app) throw appError('unknown_app', { party: 'app' });
  if (q.post_logout_redirect_uri === undefined) return { ...(app && { app }) };
  if (!app) throw appError('logout_uri_needs_app', { party: 'app' });
  if (!isRegisteredLogoutUri(app, q.post_logout_redirect_uri)) {
    throw appError('logout_uri_not_registered', { party: 'app' });
  }
  const url = new URL(q.post_logout_redirect_uri);
  if (q.state !== undefined) url.searchParams.set('state', q.state);
  return { app, continueTo: url.toString() };
}

function renderSignedOut(reply: FastifyReply, target: { app?: App; continueTo?: string }, uiLocales: string | undefined) {
  return renderPage(reply, 'signed-out.eta', {
    title: 'logout.signedOutTitle',
    uiLocales,
    app: target.app,
    continueTo: target.continueTo,
  });
}

const ssoLogoutRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  app.get('/sso/logout', { schema: { querystring: SsoLogoutQuery }, config: { errorFormat: 'html' } }, async (req, reply) => {
    const target = await resolveLogoutTarget(deps, req.query);
    const live = await resumeSession(deps, readSsoCookie(deps.config, req));
    if (!live) {
      clearSsoCookie(deps.config, reply);
      return renderSignedOut(reply, target, req.query.ui_locales);
    }
    const hidden = Object.fromEntries(Object.entries(req.query).filter(([, v]) => v !== undefined)) as Record<string, string>;
    return renderLogoutConfirm(reply, {
      action: '/sso/logout',
      app: target.app,
      email: live.user.email,
      hidden,
      cancel: target.continueTo,
      uiLocales: req.query.ui_locales,
    });
  });

  app.post(
    '/sso/logout',
    {
      schema: { body: SsoLogoutForm },
      config: { errorFormat: 'html', accepts: 'form' },
      bodyLimit: FORM_BODY_LIMIT,
      preValidation: formGuard(app, deps.config),
    },
    async (req, reply) => {
      const { _csrf, ...params } = req.body;
      const target = await resolveLogoutTarget(deps, params);
      await endSession(deps, readSsoCookie(deps.config, req), requestMeta(req));
      clearSsoCookie(deps.config, reply);
      return renderSignedOut(reply, target, params.ui_locales);
    },
  );
};
export default ssoLogoutRoutes;
