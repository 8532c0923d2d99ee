// Renders a view inside the branded layout (styles come from /assets and /branding: no inline CSS or
// script, so the CSP needs no nonces), with a no-store cache policy, in the request's language
// (src/i18n): `it.t` / `it.th` translate in the template, `<html lang>` and Content-Language say which.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../domain/apps/apps.js';
import { translator, type Translator } from '../i18n/catalog.js';
export type { Text } from '../i18n/catalog.js';
import { negotiateLocale, type Locale } from '../i18n/locales.js';

export type PageApp = Pick<App, 'appId' | 'name' | 'logoUrl' | 'primaryColor'> & Partial<Pick<App, 'defaultLocale' | 'textOverrides'>>;

export interface PageData {
  /** Message keys: the <title>, and the <h1> when it differs. */
  title: string;
  heading?: string;
  app?: PageApp | undefined;
  /** OIDC ui_locales the pending sign-in carries (it beats Accept-Language). */
  uiLocales?: string | undefined;
  [key: string]: unknown;
}

/** The language of a page for this request: ui_locales, then Accept-Language, then the app's default. */
export function pageLocale(req: FastifyRequest, app?: PageApp, uiLocales?: string): Locale {
  return negotiateLocale({ uiLocales, acceptLanguage: req.headers['accept-language'], appDefault: app?.defaultLocale });
}

/** The translator of a page: its locale, with the app's text overrides for it. */
export function pageTranslator(req: FastifyRequest, app?: PageApp, uiLocales?: string): Translator {
  const locale = pageLocale(req, app, uiLocales);
  return translator(locale, app?.textOverrides?.[locale]);
}

export function renderPage(reply: FastifyReply, template: string, data: PageData, status = 200) {
  const tr = pageTranslator(reply.request, data.app, data.uiLocales);
  return reply
    .status(status)
    .header('Cache-Control', 'no-store')
    .header('Content-Language', tr.locale)
    .type('text/html; charset=utf-8')
    .view(template, { ...data, lang: tr.locale, t: tr.t, th: tr.th, tx: tr.tx }, { layout: 'layout.eta' });
}
