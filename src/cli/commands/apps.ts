// keymaster apps create|list|show|update|rotate-secret|delete
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { createApp, deleteApp, getApp, listApps, rotateClientSecret, updateApp, type App } from '../../domain/apps/apps.js';
import { PublicJwks } from '../../domain/apps/client-keys.js';
import type { TextOverrides } from '../../domain/apps/text-overrides.js';
import {
  AppAccessInput,
  checkAppRoles,
  DEFAULT_AVAILABLE_ROLES,
  getAppAccess,
  setAppAccess,
  type AppAccessRow,
} from '../../domain/memberships/memberships.js';
import { parseRoles } from '../../domain/users/users.js';
import type { Deps } from '../../deps.js';
import { CLI, cliPath, print, table, withDeps } from '../context.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];
const reuseInterval = (v: string): number | null => {
  if (v === 'default') return null;
  if (!/^\d{1,3}$/.test(v) || Number(v) > 300) throw new InvalidArgumentError('must be 0-300 seconds or "default"');
  return Number(v);
};
/** `--no-backchannel-logout-uri` (false) or an empty value clears it. */
const clearable = (v: string | false | undefined): string | null | undefined => (v === false || v === '' ? null : v);
/** A JWK Set file, checked with the domain's own schema (public keys only). */
const jwksFile = (path: string): PublicJwks => {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(cliPath(path), 'utf8'));
  } catch {
    throw new InvalidArgumentError('must be a readable JSON file holding a JWK Set');
  }
  const parsed = PublicJwks.safeParse(json);
  if (!parsed.success) throw new InvalidArgumentError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  return parsed.data;
};
/** `apps update`: a new JWK Set file clears the jwks_uri and the other way round. */
const keySource = (jwks: PublicJwks | undefined, jwksUri: string | undefined) => ({
  ...(jwks !== undefined && { jwks, jwksUri: null }),
  ...(jwksUri !== undefined && { jwksUri, jwks: null }),
});
/** `--text de:login.heading="Willkommen"` (repeatable); validated by the domain (text-overrides.ts). */
const text = (v: string, prev: [string, string, string][] = []): [string, string, string][] => {
  const m = /^([A-Za-z]{2,8}):([\w.]+)=([\s\S]*)$/.exec(v);
  if (!m) throw new InvalidArgumentError('must be <locale>:<message key>=<text>, e.g. de:login.heading="Willkommen"');
  return [...prev, [m[1]!, m[2]!, m[3]!]];
};
/** Applies `--text` values to `base`; an empty text removes that override. */
function withTexts(base: TextOverrides, texts: [string, string, string][] | undefined): TextOverrides {
  const out: Record<string, Record<string, string>> = Object.fromEntries(Object.entries(base).map(([l, t]) => [l, { ...t }]));
  for (const [locale, key, value] of texts ?? []) {
    if (value === '') delete out[locale]?.[key];
    else (out[locale] ??= {})[key] = value;
    if (out[locale] && Object.keys(out[locale]).length === 0) delete out[locale];
  }
  return out;
}
const csv = (v: string) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** An app with its access settings (issue 14: registration policy, roles), as the memberships module keeps them. */
type AppWithAccess = App & { access?: AppAccessRow };

const roleList = (v: string): string[] => (v.trim() === '' ? [] : parseRoles(v));

function accessInput(o: { registrationPolicy?: string; availableRoles?: string[]; autoAssignRoles?: string[] }) {
  return {
    ...(o.registrationPolicy !== undefined && { registrationPolicy: o.registrationPolicy as 'open' | 'invite' | 'approval' }),
    ...(o.availableRoles !== undefined && { availableRoles: o.availableRoles }),
    ...(o.autoAssignRoles !== undefined && { autoAssignRoles: o.autoAssignRoles }),
  };
}

/** Sets the access settings given (none: only reads them) and returns the app with them. */
async function withAccess(deps: Deps, app: App, input: ReturnType<typeof accessInput>): Promise<AppWithAccess> {
  const access = Object.keys(input).length > 0 ? await setAppAccess(deps, app.appId, input, CLI) : await getAppAccess(deps, app.appId);
  return { ...app, access };
}

function appJson(app: AppWithAccess) {
  return {
    ...(app.access && {
      registration_policy: app.access.registration_policy,
      available_roles: app.access.available_roles,
      auto_assign_roles: app.access.auto_assign_roles,
    }),
    app_id: app.appId,
    name: app.name,
    redirect_uris: app.redirectUris,
    post_logout_redirect_uris: app.postLogoutRedirectUris,
    logo_url: app.logoUrl,
    primary_color: app.primaryColor,
    providers: app.providers,
    client_type: app.clientType,
    grant_types: app.grantTypes,
    allowed_scopes: app.allowedScopes,
    refresh_reuse_interval: app.refreshReuseInterval,
    development: app.development,
    backchannel_logout_uri: app.backchannelLogoutUri,
    resources: app.resources,
    third_party: app.thirdParty,
    token_endpoint_auth_method: app.tokenEndpointAuthMethod,
    jwks: app.jwks === null ? null : JSON.parse(app.jwks),
    jwks_uri: app.jwksUri,
    require_pushed_authorization_requests: app.requirePushedAuthorizationRequests,
    default_locale: app.defaultLocale,
    text_overrides: app.textOverrides,
    tenant_id: app.tenantId,
    created_at: app.createdAt.toISOString(),
  };
}

function appText(app: AppWithAccess): string {
  return [
    ...(app.access
      ? [
          `registration:   ${app.access.registration_policy}`,
          `roles:          ${app.access.available_roles.join(',') || '(none)'} (auto-assigned: ${app.access.auto_assign_roles.join(',') || 'none'})`,
        ]
      : []),
    `app_id:         ${app.appId}`,
    `name:           ${app.name}`,
    `redirect_uris:  ${app.redirectUris.join(' ')}`,
    `logout_uris:    ${app.postLogoutRedirectUris.join(' ') || '(none)'}`,
    `backchannel:    ${app.backchannelLogoutUri ?? '(none)'}`,
    `providers:      ${app.providers.join(',')}`,
    `type:           ${app.clientType}`,
    `grant_types:    ${app.grantTypes.join(',')}`,
    `scopes:         ${app.allowedScopes.join(' ') || '(none)'}`,
    `logo_url:       ${app.logoUrl ?? '(none)'}`,
    `color:          ${app.primaryColor ?? '(default)'}`,
    `reuse_interval: ${app.refreshReuseInterval === null ? '(server default)' : `${app.refreshReuseInterval}s`}`,
    ...(app.resources.length ? [`resources:      ${app.resources.join(' ')}`] : []),
    `third_party:    ${app.thirdParty ? 'yes (asks the user for consent)' : 'no (first-party: no consent screen)'}`,
    ...(app.development ? ['development:    yes (http: URIs allowed on any host)'] : []),
    `auth_method:    ${app.tokenEndpointAuthMethod}`,
    ...(app.jwksUri ? [`jwks_uri:       ${app.jwksUri}`] : []),
    ...(app.jwks ? [`jwks:           ${(JSON.parse(app.jwks) as { keys: unknown[] }).keys.length} key(s) registered`] : []),
    ...(app.requirePushedAuthorizationRequests ? ['require_par:    yes (authorization requests only through /par)'] : []),
    `locale:         ${app.defaultLocale ?? '(English)'}`,
    ...(app.tenantId ? [`tenant:         ${app.tenantId}`] : []),
    ...Object.entries(app.textOverrides).flatMap(([locale, texts]) =>
      Object.entries(texts).map(([key, value]) => `text:           ${locale}:${key}=${JSON.stringify(value)}`),
    ),
  ].join('\n');
}

export function registerAppCommands(program: Command): void {
  const apps = program.command('apps').description('register and manage apps (OAuth clients)');

  apps
    .command('create')
    .description('register an app; prints its client_secret once')
    .requiredOption('--name <name>', 'display name shown on the sign-in page')
    .requiredOption('--redirect-uri <uri>', 'exact callback URI (repeatable)', collect)
    .option('--logout-uri <uri>', 'allowed post_logout_redirect_uri (repeatable)', collect)
    .option('--backchannel-logout-uri <uri>', 'where logout tokens are POSTed when a session ends (Back-Channel Logout)')
    .option('--logo-url <url>', 'https URL of the logo')
    .option('--color <hex>', 'brand colour, e.g. #1a73e8')
    .option('--providers <list>', 'enabled sign-in methods, comma-separated (password,google)', csv)
    .option('--type <type>', 'confidential (has a client secret) or public (PKCE only: SPAs, native apps)')
    .option(
      '--grant-types <list>',
      'allowed grants, comma-separated (authorization_code,refresh_token,client_credentials,urn:ietf:params:oauth:grant-type:device_code)',
      csv,
    )
    .option('--scopes <list>', 'allowed scopes, comma-separated (openid,profile,email,offline_access,roles,push:send,…)', csv)
    .option('--development', 'allow http: redirect and logout URIs on hosts other than loopback (never in production)')
    .option('--resource <uri>', 'a resource server (RFC 8707) its access tokens may be issued for (repeatable)', collect)
    .option('--auth-method <method>', 'client authentication: client_secret_basic (default), client_secret_post or private_key_jwt')
    .option('--jwks-file <path>', 'for private_key_jwt: a JSON file holding the public JWK Set', jwksFile)
    .option('--jwks-uri <uri>', 'for private_key_jwt: where the public JWK Set is fetched from (https)')
    .option('--require-par', 'accept authorization requests only through /par (RFC 9126)')
    .option('--default-locale <locale>', 'language of its pages when the browser asks for none we speak (en, de, fr, es)')
    .option('--text <locale:key=text>', 'its own wording of a page or email text, e.g. de:login.heading="Willkommen" (repeatable)', text)
    .option('--third-party', 'a third-party app: users are asked for consent at /authorize (default: first-party)')
    .option('--registration-policy <policy>', 'who may enrol: open (default), invite (only by invite) or approval (an admin approves)')
    .option('--available-roles <list>', 'roles that can be assigned in this app, comma-separated (default user,manager,admin)', roleList)
    .option('--auto-assign-roles <list>', 'roles a user enrolled by signing in gets, comma-separated (default none)', roleList)
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      const access = accessInput(o);
      // Checked before the app is created: a refused policy or role creates nothing.
      const parsed = AppAccessInput.parse(access);
      checkAppRoles({ available_roles: parsed.availableRoles ?? DEFAULT_AVAILABLE_ROLES }, parsed.autoAssignRoles ?? []);
      await withDeps(async (deps) => {
        const { app: created, clientSecret } = await createApp(
          deps,
          {
            name: o.name,
            redirectUris: o.redirectUri,
            postLogoutRedirectUris: o.logoutUri ?? [],
            backchannelLogoutUri: o.backchannelLogoutUri || undefined,
            logoUrl: o.logoUrl,
            primaryColor: o.color,
            providers: o.providers,
            clientType: o.type,
            grantTypes: o.grantTypes,
            allowedScopes: o.scopes,
            development: o.development === true,
            resources: o.resource ?? [],
            thirdParty: o.thirdParty === true,
            tokenEndpointAuthMethod: o.authMethod,
            jwks: o.jwksFile,
            jwksUri: o.jwksUri,
            requirePushedAuthorizationRequests: o.requirePar === true,
            defaultLocale: o.defaultLocale,
            textOverrides: withTexts({}, o.text),
          },
          CLI,
        );
        const app = await withAccess(deps, created, access);
        // A public app never authenticates with a secret (PKCE only), so none is shown.
        if (app.clientType === 'public')
          print(o.json, appJson(app), `${appText(app)}\n\nPublic app: no client secret; it must use PKCE (S256).`);
        // Its keys are its credential; the secret would be refused anyway.
        else if (app.tokenEndpointAuthMethod === 'private_key_jwt')
          print(o.json, appJson(app), `${appText(app)}\n\nprivate_key_jwt: the app authenticates with its own keys; no secret.`);
        else
          print(
            o.json,
            { ...appJson(app), client_secret: clientSecret },
            `${appText(app)}\nclient_secret:  ${clientSecret}\n\nStore the client secret now: it is shown only once.`,
          );
      });
    });

  apps
    .command('list')
    .description('list apps')
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      await withDeps(async (deps) => {
        const all = await listApps(deps);
        print(
          o.json,
          all.map((a) => appJson(a)),
          table(all.map((a) => ({ app_id: a.appId, name: a.name, providers: a.providers, redirect_uris: a.redirectUris }))),
        );
      });
    });

  apps
    .command('show <app_id>')
    .description('show one app')
    .option('--json', 'machine-readable output')
    .action(async (appId: string, o) => {
      await withDeps(async (deps) => {
        const app = await withAccess(deps, await getApp(deps, appId), {});
        print(o.json, appJson(app), appText(app));
      });
    });

  apps
    .command('update <app_id>')
    .description('change an app; list options replace the whole list')
    .option('--name <name>')
    .option('--redirect-uri <uri>', 'exact callback URI (repeatable)', collect)
    .option('--logout-uri <uri>', 'allowed post_logout_redirect_uri (repeatable)', collect)
    .option('--backchannel-logout-uri <uri>', 'where logout tokens are POSTed when a session ends (empty: none)')
    .option('--no-backchannel-logout-uri', 'stop sending logout tokens to this app')
    .option('--logo-url <url>')
    .option('--color <hex>')
    .option('--providers <list>', 'comma-separated', csv)
    .option('--type <type>', 'confidential (has a client secret) or public (PKCE only: SPAs, native apps)')
    .option(
      '--grant-types <list>',
      'allowed grants, comma-separated (authorization_code,refresh_token,client_credentials,urn:ietf:params:oauth:grant-type:device_code)',
      csv,
    )
    .option('--scopes <list>', 'allowed scopes, comma-separated (openid,profile,email,offline_access,roles,push:send,…)', csv)
    .option('--reuse-interval <seconds>', 'refresh reuse grace, 0-300 (0 = strict; "default" = server default)', reuseInterval)
    .option('--development', 'allow http: redirect and logout URIs on hosts other than loopback (never in production)')
    .option('--no-development', 'only loopback hosts may use http: URIs again')
    .option('--resource <uri>', 'a resource server (RFC 8707) its access tokens may be issued for (repeatable)', collect)
    .option('--auth-method <method>', 'client authentication: client_secret_basic (default), client_secret_post or private_key_jwt')
    .option('--jwks-file <path>', 'for private_key_jwt: a JSON file holding the public JWK Set', jwksFile)
    .option('--jwks-uri <uri>', 'for private_key_jwt: where the public JWK Set is fetched from (https)')
    // Each --no-x after its --x: declared first, commander would default x to true on every update.
    .option('--require-par', 'accept authorization requests only through /par (RFC 9126)')
    .option('--no-require-par', 'accept authorization requests at /authorize again')
    .option('--default-locale <locale>', 'language of its pages when the browser asks for none we speak; "default": English')
    .option('--text <locale:key=text>', 'set one text, e.g. de:login.heading="Willkommen"; an empty text removes it (repeatable)', text)
    .option('--clear-texts', 'remove every text override (before any --text)')
    .option('--third-party', 'users are asked for consent at /authorize')
    .option('--no-third-party', 'a first-party app again: no consent screen')
    .option('--registration-policy <policy>', 'who may enrol: open, invite (only by invite) or approval (an admin approves)')
    .option('--available-roles <list>', 'roles that can be assigned in this app, comma-separated (replaces them)', roleList)
    .option('--auto-assign-roles <list>', 'roles a user enrolled by signing in gets, comma-separated (empty: none)', roleList)
    .option('--tenant <tenant_id>', 'move the app into this tenant ("none": back to the platform)')
    .option('--json', 'machine-readable output')
    .action(async (appId: string, o) => {
      await withDeps(async (deps) => {
        const texts = o.text || o.clearTexts ? withTexts(o.clearTexts ? {} : (await getApp(deps, appId)).textOverrides, o.text) : undefined;
        const app = await updateApp(
          deps,
          appId,
          {
            name: o.name,
            redirectUris: o.redirectUri,
            postLogoutRedirectUris: o.logoutUri,
            backchannelLogoutUri: clearable(o.backchannelLogoutUri),
            logoUrl: o.logoUrl,
            primaryColor: o.color,
            providers: o.providers,
            clientType: o.type,
            grantTypes: o.grantTypes,
            allowedScopes: o.scopes,
            refreshReuseInterval: o.reuseInterval,
            development: o.development,
            resources: o.resource,
            thirdParty: o.thirdParty,
            tokenEndpointAuthMethod: o.authMethod,
            // One source of keys: the one given replaces the other.
            ...keySource(o.jwksFile, o.jwksUri),
            requirePushedAuthorizationRequests: o.requirePar,
            defaultLocale: o.defaultLocale === 'default' ? null : o.defaultLocale,
            textOverrides: texts,
            // Issue 14: the owning tenant; "none" moves the app back to the platform.
            ...(o.tenant !== undefined && { tenantId: o.tenant === 'none' ? null : o.tenant }),
          },
          CLI,
        );
        const withRoles = await withAccess(deps, app, accessInput(o));
        print(o.json, appJson(withRoles), appText(withRoles));
      });
    });

  apps
    .command('rotate-secret <app_id>')
    .description('replace the client secret (the old one stops working at once); prints the new one once')
    .option('--json', 'machine-readable output')
    .action(async (appId: string, o) => {
      await withDeps(async (deps) => {
        const secret = await rotateClientSecret(deps, appId, CLI);
        print(o.json, { app_id: appId, client_secret: secret }, `client_secret:  ${secret}\n\nStore it now: it is shown only once.`);
      });
    });

  apps
    .command('delete <app_id>')
    .description('delete an app and every token issued to it')
    .option('--json', 'machine-readable output')
    .action(async (appId: string, o) => {
      await withDeps(async (deps) => {
        await deleteApp(deps, appId, CLI);
        print(o.json, { app_id: appId, deleted: true }, `deleted ${appId}`);
      });
    });
}
