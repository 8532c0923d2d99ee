// What every Console screen uses (the contract is documented in plugin.ts): the signed-in admin
// (`consoleMe`), the Admin API on their behalf (`consoleApi`), pages in the Console layout
// (`renderConsole`, `renderConfirm`, `renderConsoleError`), and the options of a form POST route
// (`consoleForm`). Every read and change goes through the Admin API by app.inject with the admin's own
// Admin JWT, so the API's rules and audit (actor = the signed-in admin) are the only ones there are.
import type { FastifyInstance, FastifyReply, FastifyRequest, preValidationHookHandler } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Deps } from '../../deps.js';
import { FORM_BODY_LIMIT, formGuard } from '../plugins/guards.js';
import type { ConsoleSession } from './session.js';

/** The signed-in admin and their tiers (GET /admin/me), as the screens see it. */
export interface ConsoleMe {
  userId: string;
  email: string;
  name: string | null;
  /** Platform admin: every app, tenant and user. */
  platform: boolean;
  /** Tenants the admin is tenant admin of (their apps: full control). */
  tenantIds: string[];
  /** Apps the admin is app admin of (full control of that app). */
  adminAppIds: string[];
  /** Apps the admin is manager of (list, invite, suspend, revoke; never change the app or roles). */
  managerAppIds: string[];
}

/** One entry of the navigation bar; `visible` decides from the admin's tiers (default: everyone). */
export interface NavItem {
  href: string;
  label: string;
  visible?: (me: ConsoleMe) => boolean;
}

/** A Console screen: its navigation entries and its routes (plugin.ts CONSOLE_SCREENS). */
export interface ConsoleScreen {
  /** Navigation entries, in order; each shown when `visible(me)` (default: to every admin). */
  nav?: NavItem[];
  /** The screen's routes, relative to /console. */
  routes: FastifyPluginAsyncZod<{ deps: Deps }>;
}

/** Per-request state the Console plugin's hooks set (never module-level). */
export interface ConsoleContext {
  deps: Deps;
  /** The root instance, for app.inject into the Admin API and the token endpoints. */
  root: FastifyInstance;
  consoleAppId: string;
  nav: readonly NavItem[];
  session?: ConsoleSession;
  me?: Promise<ConsoleMe>;
}

const contexts = new WeakMap<FastifyRequest, ConsoleContext>();

export function setConsoleContext(req: FastifyRequest, ctx: ConsoleContext): void {
  contexts.set(req, ctx);
}

export function consoleContext(req: FastifyRequest): ConsoleContext {
  const ctx = contexts.get(req);
  if (!ctx) throw new Error(`${req.method} ${req.url}: not a Console route`);
  return ctx;
}

/** A refusal of the Admin API: its status, its `detail`, and the form fields it names. */
export class ConsoleApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    /** Field path as the API names it (`config.redirect_uris.0`, `name`) → its message. */
    readonly fields: Record<string, string>,
  ) {
    super(`admin API ${status}: ${detail}`);
  }
}

export type ApiResult<T> = { ok: true; status: number; body: T } | { ok: false; error: ConsoleApiError };

/**
 * Field problems out of the API's validation detail: "Invalid request: name: Too small; config.x.0: bad"
 * (error-handler.ts describeValidation joins `path: message` with "; ").
 */
export function fieldErrors(detail: string): Record<string, string> {
  const out: Record<string, string> = {};
  const body = detail.replace(/^Invalid request: /, '');
  if (body === detail) return out;
  for (const part of body.split('; ')) {
    const m = /^([A-Za-z0-9_.]+): (.+)$/.exec(part);
    if (m) out[m[1]!] ??= m[2]!;
  }
  return out;
}

export interface UploadFile {
  field: string;
  filename: string;
  contentType: string;
  data: Buffer;
}

export interface ConsoleApi {
  /** GET /admin{path}; `query` values undefined are left out. */
  get<T>(path: string, query?: Record<string, string | number | undefined>): Promise<ApiResult<T>>;
  /** POST, PUT, PATCH or DELETE /admin{path} with a JSON body. */
  send<T>(method: 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<ApiResult<T>>;
  /** multipart/form-data POST /admin{path} with one file. */
  upload<T>(path: string, file: UploadFile): Promise<ApiResult<T>>;
}

/** Throws the refusal (the plugin's error handler renders it as a Console error page). */
export function must<T>(r: ApiResult<T>): T {
  if (!r.ok) throw r.error;
  return r.body;
}

/** The Admin API as the signed-in admin. Only on routes behind the Console's session hook. */
export function consoleApi(req: FastifyRequest): ConsoleApi {
  const ctx = consoleContext(req);
  const session = ctx.session;
  if (!session) throw new Error(`${req.method} ${req.url}: consoleApi on a public Console route`);
  const headers = { authorization: `Bearer ${session.at}`, 'user-agent': req.headers['user-agent'] ?? 'keymaster-console' };
  const call = async <T>(opts: {
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
    url: string;
    payload?: unknown;
    extra?: Record<string, string>;
  }): Promise<ApiResult<T>> => {
    const res = await ctx.root.inject({
      method: opts.method,
      url: `/admin${opts.url}`,
      headers: { ...headers, ...opts.extra },
      // The admin's own address goes into the audit trail and the API's rate limits.
      remoteAddress: req.ip,
      ...(opts.payload !== undefined && { payload: opts.payload as string }),
    });
    const body: unknown = res.body ? safeJson(res.body) : undefined;
    if (res.statusCode < 300) return { ok: true, status: res.statusCode, body: body as T };
    const detail = (body as { detail?: unknown } | undefined)?.detail;
    const text = typeof detail === 'string' ? detail : `The Admin API answered ${res.statusCode}`;
    return { ok: false, error: new ConsoleApiError(res.statusCode, text, fieldErrors(text)) };
  };
  return {
    get: (path, query = {}) => {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') q.set(k, String(v));
      const qs = q.toString();
      return call({ method: 'GET', url: qs ? `${path}?${qs}` : path });
    },
    send: (method, path, body) =>
      call({ method, url: path, ...(body !== undefined && { payload: body, extra: { 'content-type': 'application/json' } }) }),
    upload: (path, file) => {
      const boundary = `----keymaster-console-${Math.random().toString(36).slice(2)}`;
      const safeName = file.filename.replace(/["\r\n\\]/g, '_').slice(0, 200) || 'upload';
      const head = `--${boundary}\r\nContent-Disposition: form-data; name="${file.field}"; filename="${safeName}"\r\nContent-Type: ${file.contentType.replace(/[\r\n]/g, '')}\r\n\r\n`;
      const payload = Buffer.concat([Buffer.from(head), file.data, Buffer.from(`\r\n--${boundary}--\r\n`)]);
      return call({ method: 'POST', url: path, payload, extra: { 'content-type': `multipart/form-data; boundary=${boundary}` } });
    },
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

interface MeWire {
  user_id: string;
  email: string;
  display_name: string | null;
  platform_admin: boolean;
  tenant_ids: string[];
  admin_app_ids: string[];
  manager_app_ids: string[];
}

/** The signed-in admin as the Admin API sees them now (GET /admin/me, once per request). */
export function consoleMe(req: FastifyRequest): Promise<ConsoleMe> {
  const ctx = consoleContext(req);
  ctx.me ??= consoleApi(req)
    .get<MeWire>('/me')
    .then((r) => {
      const m = must(r);
      return {
        userId: m.user_id,
        email: m.email,
        name: m.display_name,
        platform: m.platform_admin,
        tenantIds: m.tenant_ids,
        adminAppIds: m.admin_app_ids,
        managerAppIds: m.manager_app_ids,
      };
    });
  return ctx.me;
}

/** The options of a state-changing Console form route: same-origin check + CSRF token, 16 KB. */
export function consoleForm(
  app: FastifyInstance,
  deps: Pick<Deps, 'config'>,
): { preValidation: preValidationHookHandler[]; bodyLimit: number } {
  return { preValidation: formGuard(app, deps.config), bodyLimit: FORM_BODY_LIMIT };
}

export interface ConsolePage {
  /** The <title> and <h1>. */
  title: string;
  [key: string]: unknown;
}

/**
 * Renders views/console/<template> in views/console/layout.eta: the navigation the admin's tiers
 * allow, a CSRF token (`it.csrfToken`, also used by the layout's sign-out form) and `it.me`. The
 * page is no-store; Console text is English (views/console is outside the i18n catalog test).
 * `frames: true` lets the page embed the same-origin sign-in preview (CSP frame-src 'self').
 */
export async function renderConsole(
  req: FastifyRequest,
  reply: FastifyReply,
  template: string,
  page: ConsolePage,
  opts: { status?: number; frames?: boolean } = {},
): Promise<FastifyReply> {
  const ctx = consoleContext(req);
  let me: ConsoleMe | undefined;
  if (ctx.session) {
    try {
      me = await consoleMe(req);
    } catch {
      me = undefined;
    }
  }
  const path = req.url.split('?')[0]!;
  const nav = me
    ? ctx.nav
        .filter((n) => !n.visible || n.visible(me))
        .map((n) => ({ ...n, current: n.href === '/console' ? path === '/console' : path === n.href || path.startsWith(`${n.href}/`) }))
    : [];
  if (opts.frames) {
    const csp = String(reply.getHeader('content-security-policy') ?? '');
    reply.header('content-security-policy', `${csp}; frame-src 'self'`);
  }
  return reply
    .status(opts.status ?? 200)
    .header('Cache-Control', 'no-store')
    .type('text/html; charset=utf-8')
    .view(`console/${template}`, { ...page, me, nav, csrfToken: reply.generateCsrf() }, { layout: 'console/layout.eta' });
}

export interface ConfirmPage {
  title: string;
  /** What will happen, in one or two sentences. */
  message: string;
  /** Where the confirmation form posts (the destructive route). */
  action: string;
  confirmLabel: string;
  cancelHref: string;
  /** Extra hidden fields the destructive route needs. */
  hidden?: Record<string, string>;
  /** A stronger warning (rotate immediately, delete). */
  danger?: boolean;
}

/** The confirmation page every destructive action goes through first (a GET; the POST does it). */
export function renderConfirm(req: FastifyRequest, reply: FastifyReply, page: ConfirmPage): Promise<FastifyReply> {
  return renderConsole(req, reply, 'confirm.eta', { ...page, hidden: page.hidden ?? {} });
}

/** A branded error page with a way back (`back`, default the overview). */
export function renderConsoleError(
  req: FastifyRequest,
  reply: FastifyReply,
  status: number,
  message: string,
  back: { href: string; label: string } = { href: '/console', label: 'Back to the overview' },
): Promise<FastifyReply> {
  const title = status === 404 ? 'Not found' : status === 403 ? 'Not allowed' : status >= 500 ? 'Something went wrong' : 'Request refused';
  return renderConsole(req, reply, 'error.eta', { title, message, back, status }, { status });
}
