// The one-click sign-out confirmation (a CSRF-protected POST), shared by /sso/logout and /end_session.
import type { FastifyReply } from 'fastify';
import type { App } from '../domain/apps/apps.js';
import { renderPage } from './render.js';

export function renderLogoutConfirm(
  reply: FastifyReply,
  opts: {
    action: string;
    app: App | undefined;
    email: string;
    hidden: Record<string, string>;
    cancel: string | undefined;
    uiLocales?: string | undefined;
  },
) {
  const page = { title: 'logout.confirmTitle', heading: 'logout.confirmHeading', csrfToken: reply.generateCsrf(), ...opts };
  return renderPage(reply, 'logout-confirm.eta', page);
}
