// The consent page (issue 16), drawn by GET /authorize/consent: the app's branding, who is signed in,
// the scopes in plain words, Allow / Deny in one CSRF-protected form carrying the sealed request.
// Its messages: locales/<locale>/consent.json.
import type { FastifyReply } from 'fastify';
import type { App } from '../domain/apps/apps.js';
import { describeScope } from './page-text.js';
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
  return renderPage(reply, 'consent.eta', {
    title: 'consent.title',
    app,
    email: p.email,
    scopes: p.scopes.map(describeScope),
    csrfToken: reply.generateCsrf(),
    hidden: { app_id: app.appId, redirect_uri: p.redirectUri, authz: p.authz },
  });
}
