// Console: the Apps screens. List, create (the client secret shown once, in the POST's own no-store
// answer), show and edit, regenerate the secret and delete (each behind a confirmation page), logo
// upload, and a preview of the real hosted sign-in page with the app's branding (and an unsaved colour).
// Every read and change is an Admin API call (kit.ts consoleApi): what an admin may not see is the
// API's 404, so another app's URL is a 404 page here too.
import multipart from '@fastify/multipart';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Deps } from '../../deps.js';
import {
  CLIENT_TYPES,
  DEFAULT_AVAILABLE_ROLES,
  findApp,
  GRANT_TYPES,
  HexColor,
  PROVIDERS,
  REGISTRATION_POLICIES,
  USER_SCOPES,
  SERVICE_SCOPES,
} from '../../domain/apps/apps.js';
import { LOGO_MAX_BYTES } from '../../domain/apps/logos.js';
import { paletteCss } from '../../lib/brand-palette.js';
import { renderLoginPage } from '../login-page.js';
import {
  ConsoleApiError,
  consoleApi,
  consoleForm,
  consoleMe,
  must,
  renderConfirm,
  renderConsole,
  type ConsoleMe,
  type ConsoleScreen,
} from './kit.js';
import { takeSecretFlash, writeSecretFlash } from './session.js';

/** The Admin API's app (GET /admin/apps/{id}). */
export interface AppWire {
  id: string;
  name: string;
  tenant_id: string | null;
  registration_policy: (typeof REGISTRATION_POLICIES)[number];
  builtin: string | null;
  config: {
    allowed_providers: string[];
    redirect_uris: string[];
    post_logout_redirect_uris: string[];
    available_roles: string[];
    auto_assign_roles: string[];
    token_lifetime_minutes: number | null;
    refresh_lifetime_days: number | null;
    branding: { primary_color: string | null; logo_url: string | null; logo_height: number | null; has_logo: boolean };
  };
  client_type: string;
  grant_types: string[];
  allowed_scopes: string[];
  refresh_reuse_interval: number | null;
  development: boolean;
  backchannel_logout_uri: string | null;
  third_party: boolean;
  require_pushed_authorization_requests: boolean;
  created_at: string;
}
interface TenantWire {
  id: string;
  name: string;
}

const AppParams = z.object({ id: z.uuid() });
const ListQuery = z.object({ cursor: z.string().max(1000).optional(), deleted: z.literal('1').optional() });
const ShowQuery = z.object({ saved: z.enum(['1', 'logo']).optional() });
const PreviewQuery = z.object({ color: HexColor.optional() });

/** A form field that may come once (a string) or several times (an array). */
const Many = z
  .union([z.string().max(4000), z.array(z.string().max(4000)).max(50)])
  .optional()
  .transform((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]));
const Text = (max: number) => z.string().max(max).default('');

const AppForm = z.object({
  _csrf: z.string().optional(),
  name: Text(200),
  tenant_id: Text(100),
  registration_policy: Text(20),
  client_type: Text(20),
  redirect_uris: Text(4000),
  post_logout_redirect_uris: Text(4000),
  allowed_providers: Many,
  grant_types: Many,
  allowed_scopes: Many,
  available_roles: Text(4000),
  auto_assign_roles: Text(4000),
  token_lifetime_minutes: Text(20),
  refresh_lifetime_days: Text(20),
  refresh_reuse_interval: Text(20),
  primary_color: Text(20),
  development: z.literal('on').optional(),
  third_party: z.literal('on').optional(),
  require_par: z.literal('on').optional(),
  backchannel_logout_uri: Text(2000),
});
type AppFormBody = z.infer<typeof AppForm>;

const NoBody = z.object({ _csrf: z.string().optional() });

/** The choices the form offers (the domain's own lists, so the form and the API agree). */
const CHOICES = {
  policies: REGISTRATION_POLICIES,
  clientTypes: CLIENT_TYPES,
  providers: PROVIDERS,
  grantTypes: GRANT_TYPES,
  scopes: [...USER_SCOPES, ...SERVICE_SCOPES],
};

const lines = (s: string) =>
  s
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
const words = (s: string) => s.split(/[\s,]+/).filter(Boolean);

/** The form's values as the page shows them again (after an error, or from the app). */
export interface AppFormValues {
  name: string;
  tenant_id: string;
  registration_policy: string;
  client_type: string;
  redirect_uris: string;
  post_logout_redirect_uris: string;
  allowed_providers: string[];
  grant_types: string[];
  allowed_scopes: string[];
  available_roles: string;
  auto_assign_roles: string;
  token_lifetime_minutes: string;
  refresh_lifetime_days: string;
  refresh_reuse_interval: string;
  primary_color: string;
  development: boolean;
  third_party: boolean;
  require_par: boolean;
  backchannel_logout_uri: string;
}

const numText = (n: number | null) => (n === null ? '' : String(n));

function valuesOfApp(a: AppWire): AppFormValues {
  return {
    name: a.name,
    tenant_id: a.tenant_id ?? '',
    registration_policy: a.registration_policy,
    client_type: a.client_type,
    redirect_uris: a.config.redirect_uris.join('\n'),
    post_logout_redirect_uris: a.config.post_logout_redirect_uris.join('\n'),
    allowed_providers: a.config.allowed_providers,
    grant_types: a.grant_types,
    allowed_scopes: a.allowed_scopes,
    available_roles: a.config.available_roles.join(' '),
    auto_assign_roles: a.config.auto_assign_roles.join(' '),
    token_lifetime_minutes: numText(a.config.token_lifetime_minutes),
    refresh_lifetime_days: numText(a.config.refresh_lifetime_days),
    refresh_reuse_interval: numText(a.refresh_reuse_interval),
    primary_color: a.config.branding.primary_color ?? '',
    development: a.development,
    third_party: a.third_party,
    require_par: a.require_pushed_authorization_requests,
    backchannel_logout_uri: a.backchannel_logout_uri ?? '',
  };
}

const NEW_APP_VALUES: AppFormValues = {
  name: '',
  tenant_id: '',
  registration_policy: 'open',
  client_type: 'confidential',
  redirect_uris: '',
  post_logout_redirect_uris: '',
  allowed_providers: ['password'],
  grant_types: ['authorization_code', 'refresh_token'],
  // The Admin API's and the CLI's defaults (an app made anywhere starts the same), with `user` given on sign-up.
  allowed_scopes: [...USER_SCOPES],
  available_roles: DEFAULT_AVAILABLE_ROLES.join(' '),
  auto_assign_roles: 'user',
  token_lifetime_minutes: '',
  refresh_lifetime_days: '',
  refresh_reuse_interval: '',
  primary_color: '',
  development: false,
  third_party: false,
  require_par: false,
  backchannel_logout_uri: '',
};

function valuesOfForm(f: AppFormBody): AppFormValues {
  const { _csrf: _unused, development, third_party, require_par, ...rest } = f;
  return { ...rest, development: development === 'on', third_party: third_party === 'on', require_par: require_par === 'on' };
}

/**
 * The form as the Admin API's body, or the fields that are not numbers at all (the API checks the
 * rest and names the fields it refuses). `create`: blank optional fields are left out; on update a
 * blank number or colour is null (back to the default).
 */
function apiBody(v: AppFormValues, create: boolean): { body: Record<string, unknown>; fields: Record<string, string> } {
  const fields: Record<string, string> = {};
  const num = (name: keyof AppFormValues, s: string) => {
    if (s.trim() === '') return create ? undefined : null;
    if (!/^\d+$/.test(s.trim())) {
      fields[name] = 'must be a whole number';
      return undefined;
    }
    return Number(s.trim());
  };
  const color = v.primary_color.trim() === '' ? (create ? undefined : null) : v.primary_color.trim();
  const config: Record<string, unknown> = {
    allowed_providers: v.allowed_providers,
    redirect_uris: lines(v.redirect_uris),
    post_logout_redirect_uris: lines(v.post_logout_redirect_uris),
    available_roles: words(v.available_roles),
    auto_assign_roles: words(v.auto_assign_roles),
    token_lifetime_minutes: num('token_lifetime_minutes', v.token_lifetime_minutes),
    refresh_lifetime_days: num('refresh_lifetime_days', v.refresh_lifetime_days),
    ...(color !== undefined && { branding: { primary_color: color } }),
  };
  const body: Record<string, unknown> = {
    name: v.name,
    registration_policy: v.registration_policy,
    client_type: v.client_type,
    grant_types: v.grant_types,
    allowed_scopes: v.allowed_scopes,
    refresh_reuse_interval: num('refresh_reuse_interval', v.refresh_reuse_interval),
    development: v.development,
    third_party: v.third_party,
    require_pushed_authorization_requests: v.require_par,
    backchannel_logout_uri: v.backchannel_logout_uri.trim() === '' ? (create ? undefined : null) : v.backchannel_logout_uri.trim(),
    config,
  };
  if (create && v.tenant_id) body.tenant_id = v.tenant_id;
  // Leave out what is undefined (create: "not set").
  for (const o of [body, config]) for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return { body, fields };
}

/**
 * The Admin API's field paths as the form's field names: `config.redirect_uris.2` → redirect_uris
 * ("line 3: …"), `config.branding.primary_color` → primary_color.
 */
export function formFieldErrors(apiFields: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [path, message] of Object.entries(apiFields)) {
    const parts = path.split('.').filter((p) => p !== 'config' && p !== 'branding' && p !== 'body');
    const index = parts.length > 1 && /^\d+$/.test(parts.at(-1)!) ? Number(parts.pop()) : undefined;
    const name = parts.join('.');
    if (!name) continue;
    out[name] ??= index === undefined ? message : `line ${index + 1}: ${message}`;
  }
  return out;
}

/** The message above the form: the API's own when no field carries it. */
const summary = (errors: Record<string, string>, detail: string) =>
  Object.keys(errors).length > 0 ? 'Some fields need attention: see the messages next to them.' : detail;

/** What the admin may do with an app (the API decides; this only chooses what the page offers). */
export function appRights(me: ConsoleMe, a: Pick<AppWire, 'id' | 'tenant_id' | 'builtin'>) {
  const tenantAdmin = a.tenant_id !== null && me.tenantIds.includes(a.tenant_id);
  const full = me.platform || tenantAdmin || me.adminAppIds.includes(a.id);
  return { edit: full && a.builtin === null, delete: (me.platform || tenantAdmin) && a.builtin === null };
}

const canCreateApps = (me: ConsoleMe) => me.platform || me.tenantIds.length > 0;

const appsRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  // Multipart only here (the logo form); fields go to the body so that the CSRF check reads _csrf.
  await app.register(multipart, {
    attachFieldsToBody: 'keyValues',
    limits: { fileSize: LOGO_MAX_BYTES, files: 1, fields: 2, parts: 3, headerPairs: 100 },
  });
  const form = consoleForm(app, deps);

  async function tenantChoices(req: FastifyRequest, me: ConsoleMe): Promise<TenantWire[]> {
    if (!canCreateApps(me)) return [];
    const r = await consoleApi(req).get<{ tenants: TenantWire[] }>('/tenants', { limit: 200 });
    return r.ok ? r.body.tenants : [];
  }

  async function showForm(
    req: FastifyRequest,
    reply: FastifyReply,
    values: AppFormValues,
    opts: { errors?: Record<string, string>; detail?: string; status?: number } = {},
  ) {
    const me = await consoleMe(req);
    if (!canCreateApps(me)) throw new ConsoleApiError(403, 'Your admin tier does not allow creating apps.', {});
    const tenants = await tenantChoices(req, me);
    return renderConsole(
      req,
      reply,
      'app-new.eta',
      { title: 'New app', values, choices: CHOICES, errors: opts.errors ?? {}, detail: opts.detail, tenants, platform: me.platform },
      { status: opts.status ?? 200 },
    );
  }

  async function showApp(
    req: FastifyRequest,
    reply: FastifyReply,
    a: AppWire,
    opts: {
      values?: AppFormValues;
      errors?: Record<string, string>;
      detail?: string;
      logoError?: string;
      saved?: string;
      status?: number;
    } = {},
  ) {
    const me = await consoleMe(req);
    return renderConsole(
      req,
      reply,
      'app.eta',
      {
        title: a.name,
        app: a,
        rights: appRights(me, a),
        values: opts.values ?? valuesOfApp(a),
        choices: CHOICES,
        errors: opts.errors ?? {},
        detail: opts.detail,
        logoError: opts.logoError,
        saved: opts.saved,
        tenants: [],
        platform: me.platform,
      },
      { status: opts.status ?? 200, frames: true },
    );
  }

  const getApp = async (req: FastifyRequest, id: string) => must(await consoleApi(req).get<AppWire>(`/apps/${id}`));

  app.get('/apps', { schema: { querystring: ListQuery } }, async (req, reply) => {
    const me = await consoleMe(req);
    const page = must(
      await consoleApi(req).get<{ apps: AppWire[]; next_cursor: string | null }>('/apps', { limit: 50, cursor: req.query.cursor }),
    );
    return renderConsole(req, reply, 'apps.eta', {
      title: 'Apps',
      apps: page.apps,
      next: page.next_cursor,
      canCreate: canCreateApps(me),
      deleted: req.query.deleted === '1',
    });
  });

  app.get('/apps/new', { schema: {} }, async (req, reply) => showForm(req, reply, NEW_APP_VALUES));

  app.post('/apps/new', { schema: { body: AppForm }, ...form }, async (req, reply) => {
    const values = valuesOfForm(req.body);
    const { body, fields } = apiBody(values, true);
    if (Object.keys(fields).length > 0) return showForm(req, reply, values, { errors: fields, status: 400 });
    const r = await consoleApi(req).send<AppWire & { client_secret: string }>('POST', '/apps', body);
    if (!r.ok) {
      if (r.error.status >= 500 || r.error.status === 401) throw r.error;
      const errors = formFieldErrors(r.error.fields);
      return showForm(req, reply, values, { errors, detail: summary(errors, r.error.detail), status: r.error.status });
    }
    // Shown once, by the GET it redirects to (session.ts writeSecretFlash): never in a URL.
    writeSecretFlash(deps, reply, { appId: r.body.id, secret: r.body.client_secret, created: true });
    return reply.redirect(`/console/apps/${r.body.id}/secret`, 303);
  });

  app.get('/apps/:id/secret', { schema: { params: AppParams } }, async (req, reply) => {
    const a = await getApp(req, req.params.id);
    const flash = takeSecretFlash(deps, req, reply, a.id);
    const title = flash ? (flash.created ? 'App created' : 'New client secret') : 'Client secret';
    return renderConsole(req, reply, 'app-secret.eta', {
      title,
      app: a,
      secret: flash?.secret,
      created: flash?.created ?? false,
    });
  });

  app.get('/apps/:id', { schema: { params: AppParams, querystring: ShowQuery } }, async (req, reply) =>
    showApp(req, reply, await getApp(req, req.params.id), { saved: req.query.saved }),
  );

  app.post('/apps/:id', { schema: { params: AppParams, body: AppForm }, ...form }, async (req, reply) => {
    const current = await getApp(req, req.params.id);
    const values = valuesOfForm(req.body);
    const { body, fields } = apiBody(values, false);
    if (Object.keys(fields).length > 0) return showApp(req, reply, current, { values, errors: fields, status: 400 });
    const r = await consoleApi(req).send<AppWire>('PUT', `/apps/${current.id}`, body);
    if (!r.ok) {
      if (r.error.status >= 500 || r.error.status === 401 || r.error.status === 404) throw r.error;
      return showApp(req, reply, current, {
        values,
        errors: formFieldErrors(r.error.fields),
        detail: r.error.detail,
        status: r.error.status,
      });
    }
    return reply.redirect(`/console/apps/${current.id}?saved=1`, 303);
  });

  app.post(
    '/apps/:id/logo',
    {
      schema: { params: AppParams },
      preValidation: form.preValidation,
      bodyLimit: LOGO_MAX_BYTES + 64 * 1024,
      // Too large (refused while it streams, before the handler): the app's page with the reason at
      // the file field. Anything else goes on to the Console's error page.
      errorHandler: async (err, req, reply) => {
        if ((err as { statusCode?: number }).statusCode !== 413) throw err;
        const current = await getApp(req, (req.params as { id: string }).id);
        return showApp(req, reply, current, { logoError: 'The file is larger than 2 MB.', status: 413 });
      },
    },
    async (req, reply) => {
      const current = await getApp(req, req.params.id);
      const file = (req.body as Record<string, unknown> | undefined)?.file;
      if (!Buffer.isBuffer(file) || file.length === 0) {
        return showApp(req, reply, current, { logoError: 'Choose a PNG, JPEG or SVG file.', status: 400 });
      }
      // The API decides from the bytes what the file is (the name and type are not trusted).
      const r = await consoleApi(req).upload(`/apps/${current.id}/logo`, {
        field: 'file',
        filename: 'logo',
        contentType: 'application/octet-stream',
        data: file,
      });
      if (!r.ok) {
        if (r.error.status >= 500 || r.error.status === 401 || r.error.status === 404) throw r.error;
        return showApp(req, reply, current, { logoError: r.error.detail, status: r.error.status });
      }
      return reply.redirect(`/console/apps/${current.id}?saved=logo`, 303);
    },
  );

  // Regenerate the secret: a confirmation page, then the new secret once.
  app.get('/apps/:id/regenerate-secret', { schema: { params: AppParams } }, async (req, reply) => {
    const a = await getApp(req, req.params.id);
    return renderConfirm(req, reply, {
      title: `New client secret for ${a.name}`,
      message:
        'A new client secret is made and shown once. The current secret stops working at once: every backend that uses it must be given the new one.',
      action: `/console/apps/${a.id}/regenerate-secret`,
      confirmLabel: 'Regenerate the secret',
      cancelHref: `/console/apps/${a.id}`,
      danger: true,
    });
  });

  app.post('/apps/:id/regenerate-secret', { schema: { params: AppParams, body: NoBody }, ...form }, async (req, reply) => {
    const a = await getApp(req, req.params.id);
    const r = must(await consoleApi(req).send<{ client_secret: string }>('POST', `/apps/${a.id}/regenerate-secret`));
    writeSecretFlash(deps, reply, { appId: a.id, secret: r.client_secret, created: false });
    return reply.redirect(`/console/apps/${a.id}/secret`, 303);
  });

  app.get('/apps/:id/delete', { schema: { params: AppParams } }, async (req, reply) => {
    const a = await getApp(req, req.params.id);
    return renderConfirm(req, reply, {
      title: `Delete ${a.name}?`,
      message: `Deleting ${a.name} removes its refresh tokens, memberships, invites and webhooks, and its client ID stops working. The users' accounts stay. This cannot be undone.`,
      action: `/console/apps/${a.id}/delete`,
      confirmLabel: 'Delete the app',
      cancelHref: `/console/apps/${a.id}`,
      danger: true,
    });
  });

  app.post('/apps/:id/delete', { schema: { params: AppParams, body: NoBody }, ...form }, async (req, reply) => {
    const a = await getApp(req, req.params.id);
    must(await consoleApi(req).send('DELETE', `/apps/${a.id}`));
    return reply.redirect('/console/apps?deleted=1', 303);
  });

  // The real hosted sign-in page with this app's branding, for the frame on the app's page. An unsaved
  // colour (?color=, checked as #rrggbb) replaces the app's stylesheet with one for that colour.
  app.get(
    '/apps/:id/preview',
    {
      schema: { params: AppParams, querystring: PreviewQuery },
      // The page links /branding/<app>.css (the saved colour); an unsaved one swaps in its own palette.
      onSend: async (req, _reply, payload) => {
        const { color } = req.query as z.infer<typeof PreviewQuery>;
        const { id } = req.params as z.infer<typeof AppParams>;
        if (!color || typeof payload !== 'string') return payload;
        return payload.replace(`href="/branding/${id}.css"`, `href="/console/assets/palette.css?color=${encodeURIComponent(color)}"`);
      },
    },
    async (req, reply) => {
      const a = await getApp(req, req.params.id);
      const client = await findApp(deps, a.id);
      if (!client) throw new ConsoleApiError(404, 'not found', {});
      const color = req.query.color;
      const shown = color ? { ...client, primaryColor: color } : client;
      // Framed by the Console's own page only; the frame is sandboxed (no forms, no scripts).
      reply
        .header(
          'content-security-policy',
          String(reply.getHeader('content-security-policy')).replace("frame-ancestors 'none'", "frame-ancestors 'self'"),
        )
        .header('x-frame-options', 'SAMEORIGIN');
      return renderLoginPage(reply, shown, { app_id: a.id, redirect_uri: a.config.redirect_uris[0] ?? '' }, { config: deps.config });
    },
  );

  app.get('/assets/palette.css', { config: { console: 'public' }, schema: { querystring: z.object({ color: HexColor }) } }, (req, reply) =>
    reply.type('text/css; charset=utf-8').header('Cache-Control', 'public, max-age=3600').send(paletteCss(req.query.color)),
  );
};

const appsScreen: ConsoleScreen = {
  nav: [{ href: '/console/apps', label: 'Apps' }],
  routes: appsRoutes,
};
export default appsScreen;
