// Upstream OpenID providers (Google, or any OIDC issuer): discovered on first use through openid-client,
// cached for the life of the process, and discovered again after a failure, so an upstream outage at
// start-up or later never stops the server — it only fails the sign-ins that need it (503 page).
import * as oidc from 'openid-client';
import type { Config, UpstreamConfig } from '../../config.js';
import { appError } from '../../errors.js';

export const UPSTREAM_PROVIDERS = ['google'] as const;
export type UpstreamProviderName = (typeof UPSTREAM_PROVIDERS)[number];

export const PROVIDER_LABELS: Record<UpstreamProviderName, string> = { google: 'Google' };

/** Seconds openid-client waits for each upstream HTTP request (discovery, token, JWKS, userinfo). */
const UPSTREAM_TIMEOUT_S = 10;

export const upstreamUnavailable = (provider: UpstreamProviderName, detail?: string) =>
  appError('upstream_unavailable', { provider: PROVIDER_LABELS[provider] }, { detail });

export function upstreamConfigOf(config: Pick<Config, 'google'>, provider: UpstreamProviderName): UpstreamConfig | undefined {
  return provider === 'google' ? config.google : undefined;
}

/** Is `provider` both configured on this server and enabled for this app? */
export function upstreamEnabled(config: Pick<Config, 'google'>, app: { providers: string[] }, provider: UpstreamProviderName): boolean {
  return upstreamConfigOf(config, provider) !== undefined && app.providers.includes(provider);
}

/** Holds one discovery per provider. Lives on Deps (one per process); never module state. */
export class UpstreamProviders {
  readonly #config: Pick<Config, 'google'>;
  readonly #discovered = new Map<UpstreamProviderName, Promise<oidc.Configuration>>();

  constructor(config: Pick<Config, 'google'>) {
    this.#config = config;
  }

  /** The discovered client configuration; throws a 503 AppError while the upstream cannot be reached. */
  async get(provider: UpstreamProviderName): Promise<oidc.Configuration> {
    const cfg = upstreamConfigOf(this.#config, provider);
    if (!cfg) throw appError('upstream_not_configured', { provider: PROVIDER_LABELS[provider] });
    let pending = this.#discovered.get(provider);
    if (!pending) {
      pending = discover(cfg);
      this.#discovered.set(provider, pending);
      // A failed discovery is forgotten, so the next sign-in tries again instead of failing forever.
      pending.catch(() => {
        if (this.#discovered.get(provider) === pending) this.#discovered.delete(provider);
      });
    }
    try {
      return await pending;
    } catch (err) {
      throw upstreamUnavailable(provider, `discovery of ${cfg.issuer} failed: ${(err as Error).message}`);
    }
  }
}

async function discover(cfg: UpstreamConfig): Promise<oidc.Configuration> {
  return oidc.discovery(new URL(cfg.issuer), cfg.clientId, { client_secret: cfg.clientSecret }, oidc.ClientSecretPost(cfg.clientSecret), {
    timeout: UPSTREAM_TIMEOUT_S,
    ...(cfg.allowHttp && { execute: [oidc.allowInsecureRequests] }),
  });
}
