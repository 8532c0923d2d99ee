// Renders a view inside the branded layout, with the CSP style nonce and a no-store cache policy.
import type { FastifyReply } from 'fastify';
import type { App } from '../domain/apps/apps.js';

export interface PageData {
  title: string;
  heading?: string;
  app?: Pick<App, 'name' | 'logoUrl' | 'primaryColor'> | undefined;
  refreshTo?: string;
  [key: string]: unknown;
}

export function renderPage(reply: FastifyReply, template: string, data: PageData, status = 200) {
  const nonce = (reply as FastifyReply & { cspNonce?: { style: string } }).cspNonce?.style ?? '';
  return reply
    .status(status)
    .header('Cache-Control', 'no-store')
    .type('text/html; charset=utf-8')
    .view(template, { ...data, nonce }, { layout: 'layout.eta' });
}
