// The "Continue with Google" links on the sign-in page: one per upstream provider that is configured on
// this server AND enabled for the app. Each starts GET /login/<provider> with the app's own parameters.
import type { Config } from '../config.js';
import type { App } from '../domain/apps/apps.js';
import type { Text } from '../i18n/catalog.js';
import { PROVIDER_LABELS, UPSTREAM_PROVIDERS, upstreamEnabled } from '../domain/upstream/upstream-providers.js';

export interface UpstreamLink {
  provider: string;
  label: Text;
  href: string;
}

export function upstreamLinks(
  config: Pick<Config, 'google'> | undefined,
  app: Pick<App, 'providers'>,
  params: { app_id: string; redirect_uri: string; state?: string | undefined; authz?: string | undefined; ui_locales?: string | undefined },
): UpstreamLink[] {
  if (!config) return [];
  return UPSTREAM_PROVIDERS.filter((p) => upstreamEnabled(config, app, p)).map((provider) => {
    const q = new URLSearchParams({ app_id: params.app_id, redirect_uri: params.redirect_uri });
    if (params.state !== undefined) q.set('state', params.state);
    if (params.authz !== undefined) q.set('authz', params.authz);
    if (params.ui_locales !== undefined) q.set('ui_locales', params.ui_locales);
    return {
      provider,
      label: { key: 'login.continueWith', values: { provider: PROVIDER_LABELS[provider] } },
      href: `/login/${provider}?${q}`,
    };
  });
}
