// The consent page (issue 16), drawn by GET /authorize/consent: the app's branding, who is signed in,
// the scopes in plain words, Allow / Deny in one CSRF-protected form carrying the sealed request.
import type { FastifyReply } from 'fastify';
import type { App } from '../domain/apps/apps.js';
import { CONSENT_TEXT, describeScope } from './page-text.js';
import { renderPage } from './render.js';

/** Where a signed-in user is sent to allow or deny a third-party app's pending request. */
export function consentPagePath(p: { appId: string; redirectUri: string; authz: string }): string {
  return `/authorize/consent?${new URLSearchParams({ app_id: p.appId, redirect_uri: p.redirectUri, authz: p.authz })}`;
}

export function renderConsentPage(
  reply: FastifyReply,
  app: App,
  p: { redirectUri: string; authz: string; email: string; scopes: readonly string[] },
) {
  const t = CONSENT_TEXT;
  return renderPage(reply, 'consent.eta', {
    title: t.title,
    heading: t.heading(app.name),
    app,
    t,
    email: p.email,
    wants: t.wants(app.name),
    thirdParty: t.thirdParty(app.name),
    scopes: p.scopes.map(describeScope),
    csrfToken: reply.generateCsrf(),
    hidden: { app_id: app.appId, redirect_uri: p.redirectUri, authz: p.authz },
  });
}
