// Renders a view inside the branded layout (styles come from /assets and /branding: no inline CSS or
// script, so the CSP needs no nonces), with a no-store cache policy.
import type { FastifyReply } from 'fastify';
import type { App } from '../domain/apps/apps.js';

export interface PageData {
  title: string;
  heading?: string;
  app?: Pick<App, 'appId' | 'name' | 'logoUrl' | 'primaryColor'> | undefined;
  [key: string]: unknown;
}

export function renderPage(reply: FastifyReply, template: string, data: PageData, status = 200) {
  return reply
    .status(status)
    .header('Cache-Control', 'no-store')
    .type('text/html; charset=utf-8')
    .view(template, data, { layout: 'layout.eta' });
}
