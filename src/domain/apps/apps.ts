// Apps (OAuth clients): registration, branding, exact redirect-URI matching and client authentication.
// Client secrets are 256-bit random values, so a SHA-256 hash is enough at rest (DESIGN.md §4.1) and
// authentication costs one hash instead of an argon2 run on every token request.
import { z } from 'zod';
import type { Deps } from '../../deps.js';
import { appError } from '../../errors.js';
import { isLoopbackHost } from '../../lib/address-policy.js';
import { randomToken, safeEqual, sha256 } from '../../lib/crypto.js';
import { decodeCursor, encodeCursor, isPgTimestampText } from '../../lib/cursor.js';
import type { AppRow, RegistrationPolicy, TokenEndpointAuthMethod } from '../../storage/schema.js';
import { recordAuditEvent, type RequestMeta } from '../audit/audit.js';
import * as store from './app-store.js';
import type { CachedApp } from './app-cache.js';
import { JwksUri, PublicJwks } from './client-keys.js';
import { DefaultLocale, TextOverrides } from './text-overrides.js';
import type { Locale } from '../../i18n/locales.js';
import { findTenant } from '../tenants/tenants.js';

export const PROVIDERS = ['password', 'google'] as const;
export const CLIENT_TYPES = ['confidential', 'public'] as const;
/** RFC 7591 §2: the secret methods are interchangeable (both accepted); private_key_jwt excludes the secret. */
export const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'] as const;
/** RFC 8628 §3.4: the grant_type of the Device Authorization Grant's token request. */
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
export const GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials', DEVICE_CODE_GRANT] as const;
/** Scopes a user grants through /authorize (OIDC Core §5.4, plus `roles`). */
export const USER_SCOPES = ['openid', 'profile', 'email', 'offline_access', 'roles'] as const;
/** Scopes of service tokens (client credentials), KEYMASTER-API.md §5. */
export const SERVICE_SCOPES = ['push:send', 'invites:create', 'users:read', 'users:create'] as const;
export const SCOPES = [...USER_SCOPES, ...SERVICE_SCOPES] as const;

/**
 * Absolute URI without a fragment (RFC 6749 §3.1.2): http(s), or a private-use scheme for native apps.
 * No `*`: URIs match exactly (RFC 9700 §4.1.3), so a wildcard would be stored yet never match.
 */
export const RedirectUri = z
  .string()
  .max(2000)
  .refine((v) => !v.includes('*'), 'must be an exact URI: a wildcard (*) never matches')
  .refine((v) => {
    if (!URL.canParse(v)) return false;
    const u = new URL(v);
    if (u.hash || v.includes('#')) return false;
    if (u.protocol === 'https:') return true;
    if (u.protocol === 'http:') return true;
    // Native apps may use private-use schemes (RFC 8252 §7.1), e.g. com.example.app:/callback.
    return /^[a-z][a-z0-9+.-]*\.[a-z0-9+.-]+:$/.test(u.protocol);
  }, 'must be an absolute URI without a fragment');

/**
 * Back-Channel Logout 1.0 §2.2: an absolute http(s) URI, no fragment (a query is allowed). The
 * loopback rule of checkClientSettings applies to it as to redirect URIs; where it may connect is
 * decided at delivery (address-policy.ts), as for webhooks.
 */
export const BackchannelLogoutUri = z
  .string()
  .max(2000)
  .refine(
    (v) => URL.canParse(v) && /^https?:$/.test(new URL(v).protocol) && !v.includes('#'),
    'must be an absolute http(s) URI without a fragment',
  );
/** A resource indicator (RFC 8707 §2): an absolute URI without a fragment. */
export const ResourceUri = z
  .string()
  .max(2000)
  .refine((v) => URL.canParse(v) && !v.includes('#'), 'must be an absolute URI without a fragment');

/** RFC 8707 §2: `resource` is an absolute URI without a fragment, registered exactly for the app. */
export function isRegisteredResource(app: Pick<App, 'resources'>, resource: string): boolean {
  return ResourceUri.safeParse(resource).success && app.resources.includes(resource);
}

export const HexColor = z.string().regex(/^#[0-9a-fA-F]{6}$/, 'must be a colour like #1a73e8');

/** KEYMASTER-API.md §7: invite, open or approval. */
export const REGISTRATION_POLICIES = ['open', 'invite', 'approval'] as const;
/** An app role's name (the same rule as users.ts's Role, which the token's `roles` claim carries). */
export const AppRole = z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'roles are 1-64 letters, digits or _.:-');
export const AppRoles = z.array(AppRole).max(50);
export const DEFAULT_AVAILABLE_ROLES = ['user', 'manager', 'admin'];
/** Access-token lifetime (seconds) and refresh lifetime (days) an app may set. */
export const AccessTokenTtl = z.number().int().min(60).max(86_400);
export const RefreshTokenTtlDays = z.number().int().min(1).max(365);
export const BundleId = z
  .string()
  .max(200)
  .regex(/^[A-Za-z0-9][A-Za-z0-9.\-_]*$/, 'must be a bundle id like com.example.app');
export const LogoHeight = z.number().int().min(16).max(256);

export const ReuseInterval = z.number().int().min(0).max(300);

export const AppInput = z.object({
  name: z.string().trim().min(1).max(100),
  redirectUris: z.array(RedirectUri).min(1, 'at least one redirect URI is required').max(50),
  postLogoutRedirectUris: z.array(RedirectUri).max(50).default([]),
  // https only: the pages' CSP (img-src 'self' https: data:) would block an http: logo.
  logoUrl: z
    .url({ protocol: /^https$/, error: 'must be an https:// URL (pages block http: images)' })
    .max(2000)
    .optional(),
  primaryColor: HexColor.optional(),
  providers: z.array(z.enum(PROVIDERS)).min(1).default(['password']),
  clientType: z.enum(CLIENT_TYPES).default('confidential'),
  grantTypes: z.array(z.enum(GRANT_TYPES)).min(1).default(['authorization_code', 'refresh_token']),
  allowedScopes: z.array(z.enum(SCOPES)).default([...USER_SCOPES]),
  /** May register http: URIs on hosts other than loopback (a development setup, never production). */
  development: z.boolean().default(false),
  backchannelLogoutUri: BackchannelLogoutUri.optional(),
  /** The resource servers (RFC 8707) its access tokens may be issued for. */
  resources: z.array(ResourceUri).max(50).default([]),
  /** Asks the user's consent at /authorize (issue 16); first-party apps (the default) never do. */
  thirdParty: z.boolean().default(false),
  tokenEndpointAuthMethod: z.enum(AUTH_METHODS).default('client_secret_basic'),
  /** The client's public keys for private_key_jwt: inline, or where to fetch them (one of the two). */
  jwks: PublicJwks.optional(),
  jwksUri: JwksUri.optional(),
  requirePushedAuthorizationRequests: z.boolean().default(false),
  /** The language of its pages when the request names none Keymaster speaks (issue 16). */
  defaultLocale: DefaultLocale.optional(),
  /** `{locale: {messageKey: text}}`: its own wording of any page or email text (text-overrides.ts). */
  textOverrides: TextOverrides.default({}),
  // Issue 14: the owning tenant, who may enrol, and the roles of its memberships.
  tenantId: z.uuid().nullable().optional(),
  registrationPolicy: z.enum(REGISTRATION_POLICIES).default('open'),
  availableRoles: AppRoles.default(DEFAULT_AVAILABLE_ROLES),
  autoAssignRoles: AppRoles.default([]),
  accessTokenTtl: AccessTokenTtl.optional(),
  refreshTokenTtlDays: RefreshTokenTtlDays.optional(),
  bundleId: BundleId.optional(),
  logoHeight: LogoHeight.optional(),
  /** Seconds a rotated refresh token may still be presented (concurrent tabs); null: the server's default. */
  refreshReuseInterval: ReuseInterval.nullable().optional(),
});
export type AppInput = z.input<typeof AppInput>;

interface ClientSettings {
  clientType: string;
  grantTypes: readonly string[];
  redirectUris: readonly string[];
  postLogoutRedirectUris: readonly string[];
  backchannelLogoutUri?: string | null | undefined;
  development: boolean;
  tokenEndpointAuthMethod: string;
  jwks?: unknown;
  jwksUri?: string | null | undefined;
}

/**
 * A public client has no secret to keep, so it cannot act on its own behalf (RFC 6749 §4.4). An http:
 * callback on a real host sends the code or the tokens in clear text: only loopback hosts may use
 * http: (RFC 9700 §2.6), unless the app is marked for development.
 */
function checkClientSettings(v: ClientSettings) {
  if (v.clientType === 'public' && v.grantTypes.includes('client_credentials')) {
    throw appError('public_app_client_credentials');
  }
  // RFC 7523 §2.2: the keys are the credential; one source of them, so which one counts is never a question.
  if (v.jwks && v.jwksUri) throw appError('jwks_and_jwks_uri');
  if (v.tokenEndpointAuthMethod === 'private_key_jwt') {
    if (v.clientType === 'public') throw appError('public_app_private_key_jwt');
    if (!v.jwks && !v.jwksUri) throw appError('private_key_jwt_needs_keys');
  }
  if (v.development) return;
  const optional = [v.backchannelLogoutUri, v.jwksUri].flatMap((u) => (u ? [u] : []));
  for (const uri of [...v.redirectUris, ...v.postLogoutRedirectUris, ...optional]) {
    const u = new URL(uri);
    if (u.protocol === 'http:' && !isLoopbackHost(u.hostname)) throw appError('http_uri_not_loopback', { uri });
  }
}

/** New members get auto_assign_roles, so each must be one the app offers. */
function checkRoleSettings(available: readonly string[], autoAssign: readonly string[]) {
  const missing = autoAssign.find((r) => !available.includes(r));
  if (missing !== undefined) throw appError('role_not_available', { role: missing, available: [...available] });
}

/** A tenant that does not exist is a clear 404, not a foreign-key failure. */
async function assertTenantExists(deps: Pick<Deps, 'db'>, tenantId: string) {
  if (!(await findTenant(deps, tenantId))) throw appError('tenant_not_found');
}

// Defaults are stripped: zod 4 applies a default inside .partial(), which would reset omitted fields.
/** Seconds within which a rotated refresh token may be presented again for the same successor; 0 = strict. */

export const AppUpdateInput = AppInput.partial().extend({
  postLogoutRedirectUris: z.array(RedirectUri).max(50).optional(),
  providers: z.array(z.enum(PROVIDERS)).min(1).optional(),
  clientType: z.enum(CLIENT_TYPES).optional(),
  grantTypes: z.array(z.enum(GRANT_TYPES)).min(1).optional(),
  allowedScopes: z.array(z.enum(SCOPES)).optional(),
  logoUrl: AppInput.shape.logoUrl.nullable(),
  primaryColor: HexColor.nullable().optional(),
  refreshReuseInterval: ReuseInterval.nullable().optional(),
  development: z.boolean().optional(),
  /** null clears it: the app is no longer told when sessions end. */
  backchannelLogoutUri: BackchannelLogoutUri.nullable().optional(),
  resources: z.array(ResourceUri).max(50).optional(),
  thirdParty: z.boolean().optional(),
  tokenEndpointAuthMethod: z.enum(AUTH_METHODS).optional(),
  /** null clears them. */
  jwks: PublicJwks.nullable().optional(),
  jwksUri: JwksUri.nullable().optional(),
  requirePushedAuthorizationRequests: z.boolean().optional(),
  /** null: English again. */
  defaultLocale: DefaultLocale.nullable().optional(),
  /** Replaces the whole set ({} removes every override). */
  textOverrides: TextOverrides.optional(),
  tenantId: z.uuid().nullable().optional(),
  registrationPolicy: z.enum(REGISTRATION_POLICIES).optional(),
  availableRoles: AppRoles.optional(),
  autoAssignRoles: AppRoles.optional(),
  /** null: the server default again. */
  accessTokenTtl: AccessTokenTtl.nullable().optional(),
  refreshTokenTtlDays: RefreshTokenTtlDays.nullable().optional(),
  bundleId: BundleId.nullable().optional(),
  logoHeight: LogoHeight.nullable().optional(),
});

export interface App {
  appId: string;
  name: string;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  logoUrl: string | null;
  primaryColor: string | null;
  providers: string[];
  accessTokenTtl: number | null;
  refreshTokenTtlDays: number | null;
  clientType: 'confidential' | 'public';
  grantTypes: string[];
  allowedScopes: string[];
  /** NULL = the server default (KEYMASTER_REFRESH_REUSE_INTERVAL). */
  refreshReuseInterval: number | null;
  /** May register http: URIs on hosts other than loopback. */
  development: boolean;
  /** Where logout tokens are POSTed (Back-Channel Logout 1.0 §2.2); null = not told. */
  backchannelLogoutUri: string | null;
  /** Resource indicators (RFC 8707) a `resource` parameter may name; the access token's aud then. */
  resources: string[];
  /** A third-party app asks the user's consent at /authorize; a first-party one never does. */
  thirdParty: boolean;
  tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  /** The registered public JWK Set (JSON text), or null. */
  jwks: string | null;
  jwksUri: string | null;
  /** RFC 9126 §6: /authorize takes this app's requests only as a request_uri from /par. */
  requirePushedAuthorizationRequests: boolean;
  /** null = English. */
  defaultLocale: Locale | null;
  textOverrides: TextOverrides;
  /** Issue 14: the owning tenant (null: the platform's own) and the membership settings. */
  tenantId: string | null;
  registrationPolicy: RegistrationPolicy;
  availableRoles: string[];
  autoAssignRoles: string[];
  bundleId: string | null;
  logoHeight: number | null;
  /** An uploaded logo is stored (POST /admin/apps/{id}/logo); the bytes stay out of this value. */
  hasLogo: boolean;
  /** 'console' for the built-in Console app (domain/admin/console-app.ts). */
  builtin: 'console' | null;
  createdAt: Date;
}

export function toApp(row: AppRow): App {
  return {
    appId: row.app_id,
    name: row.name,
    redirectUris: row.redirect_uris,
    postLogoutRedirectUris: row.post_logout_redirect_uris,
    logoUrl: row.logo_url,
    primaryColor: row.primary_color,
    providers: row.providers,
    accessTokenTtl: row.access_token_ttl,
    refreshTokenTtlDays: row.refresh_token_ttl_days,
    clientType: row.client_type,
    grantTypes: row.grant_types,
    allowedScopes: row.allowed_scopes,
    refreshReuseInterval: row.refresh_reuse_interval,
    development: row.development,
    backchannelLogoutUri: row.backchannel_logout_uri,
    resources: row.resources,
    thirdParty: row.third_party,
    tokenEndpointAuthMethod: row.token_endpoint_auth_method,
    jwks: row.jwks,
    jwksUri: row.jwks_uri,
    requirePushedAuthorizationRequests: row.require_pushed_authorization_requests,
    defaultLocale: (row.default_locale as Locale | null) ?? null,
    textOverrides: row.text_overrides ?? {},
    tenantId: row.tenant_id,
    registrationPolicy: row.registration_policy,
    availableRoles: row.available_roles,
    autoAssignRoles: row.auto_assign_roles,
    bundleId: row.bundle_id,
    logoHeight: row.logo_height,
    hasLogo: row.logo_data !== null && row.logo_data !== undefined,
    builtin: row.builtin,
    createdAt: row.created_at,
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (v: string) => UUID.test(v);

export async function createApp(
  deps: Pick<Deps, 'db' | 'clock'>,
  input: AppInput,
  meta: RequestMeta = {},
): Promise<{ app: App; clientSecret: string }> {
  const v = AppInput.parse(input);
  checkClientSettings(v);
  checkRoleSettings(v.availableRoles, v.autoAssignRoles);
  if (v.tenantId) await assertTenantExists(deps, v.tenantId);
  const clientSecret = randomToken(32);
  // The app and its audit event, or neither.
  const row = await deps.db.transaction().execute(async (trx) => {
    const inserted = await store.insertApp(trx, {
      name: v.name,
      client_secret_hash: sha256(clientSecret),
      redirect_uris: v.redirectUris,
      post_logout_redirect_uris: v.postLogoutRedirectUris,
      logo_url: v.logoUrl ?? null,
      primary_color: v.primaryColor ?? null,
      providers: v.providers,
      client_type: v.clientType,
      grant_types: v.grantTypes,
      allowed_scopes: v.allowedScopes,
      development: v.development,
      backchannel_logout_uri: v.backchannelLogoutUri ?? null,
      resources: v.resources,
      third_party: v.thirdParty,
      token_endpoint_auth_method: v.tokenEndpointAuthMethod,
      jwks: v.jwks ? JSON.stringify(v.jwks) : null,
      jwks_uri: v.jwksUri ?? null,
      require_pushed_authorization_requests: v.requirePushedAuthorizationRequests,
      default_locale: v.defaultLocale ?? null,
      text_overrides: JSON.stringify(v.textOverrides),
      tenant_id: v.tenantId ?? null,
      registration_policy: v.registrationPolicy,
      available_roles: v.availableRoles,
      auto_assign_roles: v.autoAssignRoles,
      access_token_ttl: v.accessTokenTtl ?? null,
      refresh_token_ttl_days: v.refreshTokenTtlDays ?? null,
      bundle_id: v.bundleId ?? null,
      logo_height: v.logoHeight ?? null,
      refresh_reuse_interval: v.refreshReuseInterval ?? null,
    });
    await recordAuditEvent({ ...deps, db: trx }, { event: 'app.created', appId: inserted.app_id, data: { name: inserted.name } }, meta);
    return inserted;
  });
  return { app: toApp(row), clientSecret };
}

export async function findApp(deps: Pick<Deps, 'db'>, appId: string): Promise<App | undefined> {
  if (!isUuid(appId)) return undefined;
  const row = await store.findAppById(deps.db, appId);
  return row && toApp(row);
}

/** The app and its secret hash for the token hot paths, through deps.apps (≤ APP_CACHE_TTL_MS old). */
export async function findCachedApp(deps: Pick<Deps, 'db' | 'apps'>, appId: string): Promise<CachedApp | undefined> {
  const load = async () => {
    if (!isUuid(appId)) return undefined;
    const row = await store.findAppById(deps.db, appId);
    return row && { app: toApp(row), secretHash: row.client_secret_hash };
  };
  return deps.apps.get(appId, load);
}

/** The longest access-token lifetime any app may have (seconds), or null when every app uses the default. */
export function longestAppAccessTokenTtl(deps: Pick<Deps, 'db'>): Promise<number | null> {
  return store.maxAppAccessTokenTtl(deps.db);
}

/** Of `appIds`, those to be told by back-channel logout (one query; none registered is the common case). */
export function appsWithBackchannelLogout(deps: Pick<Deps, 'db'>, appIds: string[]): Promise<string[]> {
  return store.findBackchannelLogoutAppIds(deps.db, appIds);
}

export async function getApp(deps: Pick<Deps, 'db'>, appId: string): Promise<App> {
  const app = await findApp(deps, appId);
  if (!app) throw appError('app_not_found', { appId });
  return app;
}

export async function listApps(deps: Pick<Deps, 'db'>): Promise<App[]> {
  return (await store.listApps(deps.db)).map(toApp);
}

export async function updateApp(
  deps: Pick<Deps, 'db' | 'clock' | 'apps'>,
  appId: string,
  input: z.input<typeof AppUpdateInput>,
  meta: RequestMeta = {},
): Promise<App> {
  const v = AppUpdateInput.parse(input);
  const current = await getApp(deps, appId);
  checkClientSettings({
    clientType: v.clientType ?? current.clientType,
    grantTypes: v.grantTypes ?? current.grantTypes,
    redirectUris: v.redirectUris ?? current.redirectUris,
    postLogoutRedirectUris: v.postLogoutRedirectUris ?? current.postLogoutRedirectUris,
    backchannelLogoutUri: v.backchannelLogoutUri === undefined ? current.backchannelLogoutUri : v.backchannelLogoutUri,
    development: v.development ?? current.development,
    tokenEndpointAuthMethod: v.tokenEndpointAuthMethod ?? current.tokenEndpointAuthMethod,
    jwks: v.jwks === undefined ? current.jwks : v.jwks,
    jwksUri: v.jwksUri === undefined ? current.jwksUri : v.jwksUri,
  });
  checkRoleSettings(v.availableRoles ?? current.availableRoles, v.autoAssignRoles ?? current.autoAssignRoles);
  if (v.tenantId) await assertTenantExists(deps, v.tenantId);
  const changed = Object.entries(v)
    .filter(([, val]) => val !== undefined)
    .map(([k]) => k);
  // The change and its audit event, or neither.
  const row = await deps.db.transaction().execute(async (trx) => {
    const updated = await store.updateApp(trx, appId, {
      ...(v.name !== undefined && { name: v.name }),
      ...(v.redirectUris !== undefined && { redirect_uris: v.redirectUris }),
      ...(v.postLogoutRedirectUris !== undefined && { post_logout_redirect_uris: v.postLogoutRedirectUris }),
      ...(v.logoUrl !== undefined && { logo_url: v.logoUrl }),
      ...(v.primaryColor !== undefined && { primary_color: v.primaryColor }),
      ...(v.providers !== undefined && { providers: v.providers }),
      ...(v.clientType !== undefined && { client_type: v.clientType }),
      ...(v.grantTypes !== undefined && { grant_types: v.grantTypes }),
      ...(v.allowedScopes !== undefined && { allowed_scopes: v.allowedScopes }),
      ...(v.refreshReuseInterval !== undefined && { refresh_reuse_interval: v.refreshReuseInterval }),
      ...(v.development !== undefined && { development: v.development }),
      ...(v.backchannelLogoutUri !== undefined && { backchannel_logout_uri: v.backchannelLogoutUri }),
      ...(v.resources !== undefined && { resources: v.resources }),
      ...(v.thirdParty !== undefined && { third_party: v.thirdParty }),
      ...(v.tokenEndpointAuthMethod !== undefined && { token_endpoint_auth_method: v.tokenEndpointAuthMethod }),
      ...(v.jwks !== undefined && { jwks: v.jwks && JSON.stringify(v.jwks) }),
      ...(v.jwksUri !== undefined && { jwks_uri: v.jwksUri }),
      ...(v.requirePushedAuthorizationRequests !== undefined && {
        require_pushed_authorization_requests: v.requirePushedAuthorizationRequests,
      }),
      ...(v.defaultLocale !== undefined && { default_locale: v.defaultLocale }),
      ...(v.textOverrides !== undefined && { text_overrides: JSON.stringify(v.textOverrides) }),
      ...(v.tenantId !== undefined && { tenant_id: v.tenantId }),
      ...(v.registrationPolicy !== undefined && { registration_policy: v.registrationPolicy }),
      ...(v.availableRoles !== undefined && { available_roles: v.availableRoles }),
      ...(v.autoAssignRoles !== undefined && { auto_assign_roles: v.autoAssignRoles }),
      ...(v.accessTokenTtl !== undefined && { access_token_ttl: v.accessTokenTtl }),
      ...(v.refreshTokenTtlDays !== undefined && { refresh_token_ttl_days: v.refreshTokenTtlDays }),
      ...(v.bundleId !== undefined && { bundle_id: v.bundleId }),
      ...(v.logoHeight !== undefined && { logo_height: v.logoHeight }),
      updated_at: deps.clock.now(),
    });
    if (!updated) throw appError('app_not_found', { appId });
    await recordAuditEvent({ ...deps, db: trx }, { event: 'app.updated', appId, data: { changed } }, meta);
    return updated;
  });
  deps.apps.invalidate(appId);
  return toApp(row);
}

/** A new secret replaces the old one at once; the old secret stops working immediately. */
export async function rotateClientSecret(
  deps: Pick<Deps, 'db' | 'clock' | 'apps'>,
  appId: string,
  meta: RequestMeta = {},
): Promise<string> {
  await getApp(deps, appId);
  const clientSecret = randomToken(32);
  // The new secret and its audit event, or neither (the old secret keeps working).
  await deps.db.transaction().execute(async (trx) => {
    const updated = await store.updateApp(trx, appId, { client_secret_hash: sha256(clientSecret), updated_at: deps.clock.now() });
    if (!updated) throw appError('app_not_found', { appId });
    await recordAuditEvent({ ...deps, db: trx }, { event: 'app.secret_rotated', appId }, meta);
  });
  deps.apps.invalidate(appId);
  return clientSecret;
}

export async function deleteApp(deps: Pick<Deps, 'db' | 'clock' | 'apps'>, appId: string, meta: RequestMeta = {}): Promise<void> {
  if (!isUuid(appId)) throw appError('app_not_found', { appId });
  // The deletion and its audit event, or neither.
  await deps.db.transaction().execute(async (trx) => {
    if (!(await store.deleteApp(trx, appId))) throw appError('app_not_found', { appId });
    await recordAuditEvent({ ...deps, db: trx }, { event: 'app.deleted', appId }, meta);
  });
  deps.apps.invalidate(appId);
}

/**
 * Client authentication (RFC 6749 §2.3.1). Unknown client and wrong secret give the same error, and
 * both cost one constant-time comparison.
 */
export async function authenticateClient(deps: Pick<Deps, 'db' | 'apps'>, appId: string, secret: string): Promise<App> {
  const found = await findCachedApp(deps, appId);
  const ok = safeEqual(found?.secretHash ?? sha256('unknown-client'), sha256(secret));
  if (!found || !ok) throw appError('client_auth_failed');
  return found.app;
}

/** Exact, byte-for-byte match against a registered URI (RFC 9700 §4.1.3): no prefix, no wildcard, no normalising. */
/**
 * Keymaster's own flow (/login without a sealed /authorize request, /api/v1/auth/login) hands out
 * tokens with no consent page: a third-party app must use /authorize, where consent is asked.
 */
export function assertKeymasterFlowApp(app: Pick<App, 'thirdParty'>): void {
  if (app.thirdParty) throw appError('third_party_needs_oauth');
}

export function isRegisteredRedirectUri(app: App, uri: string): boolean {
  return app.redirectUris.includes(uri);
}

export function isRegisteredLogoutUri(app: App, uri: string): boolean {
  return app.postLogoutRedirectUris.includes(uri);
}

/** For hosted pages: the app and redirect URI must both check out, or the page shows an error and never redirects. */
export async function resolveAppForRedirect(deps: Pick<Deps, 'db'>, appId: string, redirectUri: string): Promise<App> {
  const app = await findApp(deps, appId);
  if (!app) throw appError('unknown_app', { party: 'app' }, { detail: `app ${appId} not found` });
  if (!isRegisteredRedirectUri(app, redirectUri)) {
    throw appError('redirect_uri_not_registered', { party: 'app' }, { detail: `redirect_uri ${redirectUri}` });
  }
  return app;
}

const AppCursor = z.object({ c: z.string().max(64).refine(isPgTimestampText), i: z.uuid() });

/**
 * A page of apps, oldest first, keyset-paginated; `scope` narrows it to the tenants and apps an admin
 * may see (domain/admin/authorization.ts), undefined lists all.
 */
export async function listAppsPage(
  deps: Pick<Deps, 'db'>,
  page: {
    limit: number;
    cursor?: string | undefined;
    scope?: { tenantIds: string[]; appIds: string[] } | undefined;
    tenantId?: string | undefined;
  },
): Promise<{ apps: App[]; nextCursor: string | null }> {
  const key = page.cursor === undefined ? undefined : decodeCursor(AppCursor, page.cursor);
  if (page.cursor !== undefined && !key) throw appError('cursor_invalid');
  const rows = await store.listAppsPage(deps.db, {
    limit: page.limit + 1,
    scope: page.scope,
    tenantId: page.tenantId,
    after: key && { createdAt: key.c, appId: key.i },
  });
  const kept = rows.slice(0, page.limit);
  const last = kept.at(-1);
  const nextCursor = rows.length > page.limit && last ? encodeCursor({ c: last.cursor_ts, i: last.app_id }) : null;
  const apps = kept.map(toApp);
  return { apps, nextCursor };
}
