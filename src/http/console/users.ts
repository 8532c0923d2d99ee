// Console: the Users screens. List with a prefix search and cursor pages, create a user, invite an
// email address to an app (the invite link shown once, in the POST's own no-store answer), a user's
// page (profile, memberships with roles per app, approve, suspend and reactivate per app, disable and
// enable, unlock, a reset email, delete) and their sessions and refresh tokens (seed 001's fields)
// with a revoke action. Every read and change is an Admin API call (kit.ts consoleApi): a user or app
// the admin may not see is the API's 404, so its URL is the Console's 404 page and changes nothing.
// What the page offers follows the tiers (ConsoleMe); the API decides again on every change.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Deps } from '../../deps.js';
import type { RefreshTokenItem } from '../admin/operations-schemas.js';
import type { AppWire } from './apps.js';
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

/** GET /admin/users/{id} (UserDetailJson). */
export interface UserWire {
  id: string;
  email: string;
  display_name: string | null;
  email_verified: boolean;
  is_active: boolean;
  locked: boolean;
  created_at: string;
  last_login_at: string | null;
}
interface MembershipWire {
  app_id: string;
  roles: string[];
  status: string;
  enrolled_at: string;
  last_login_at: string | null;
}
interface UserDetailWire extends UserWire {
  is_platform_admin: boolean;
  memberships: MembershipWire[];
}
interface SessionWire {
  id: string;
  app_id: string;
  sso_session_id: string | null;
  created_at: string;
  last_used_at: string | null;
  expires_at: string;
  user_agent: string | null;
  ip: string | null;
}
/** An Admin API refresh-token record, as its schema says (operations-schemas.ts RefreshTokenItem). */
type TokenWire = z.infer<typeof RefreshTokenItem>;

const UserParams = z.object({ id: z.uuid() });
const MemberParams = z.object({ id: z.uuid(), appId: z.uuid() });
const SessionParams = z.object({ id: z.uuid(), sessionId: z.uuid() });
const Cursor = z
  .string()
  .max(1000)
  .regex(/^[A-Za-z0-9_-]*$/)
  .optional();
const ListQuery = z.object({
  search: z.string().trim().max(254).optional(),
  cursor: Cursor,
  done: z.enum(['deleted']).optional(),
});
const DONE = ['roles', 'approve', 'suspend', 'activate', 'disable', 'enable', 'unlock', 'send-reset', 'revoked'] as const;
const ShowQuery = z.object({ done: z.enum(DONE).optional(), app: z.uuid().optional() });
const SessionsQuery = z.object({ cursor: Cursor, done: z.literal('revoked').optional() });

const Text = (max: number) => z.string().max(max).default('');
/** A form field that may come once (a string) or several times (an array). */
const Many = z
  .union([z.string().max(200), z.array(z.string().max(200)).max(50)])
  .optional()
  .transform((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]));
const NoBody = z.object({ _csrf: z.string().optional() });
const CreateForm = z.object({
  _csrf: z.string().optional(),
  email: Text(320),
  display_name: Text(200),
  password: Text(200),
  email_verified: z.literal('on').optional(),
});
const InviteForm = z.object({
  _csrf: z.string().optional(),
  email: Text(320),
  app_id: Text(100),
  roles: Text(2000),
  expires_in_hours: Text(20),
});
const RolesForm = z.object({ _csrf: z.string().optional(), roles: Many });

/** What the admin may do in an app: full (platform, tenant or app admin), members (manager), none. */
export function accessIn(me: ConsoleMe, a: Pick<AppWire, 'id' | 'tenant_id'>): 'full' | 'members' | 'none' {
  if (me.platform || (a.tenant_id !== null && me.tenantIds.includes(a.tenant_id)) || me.adminAppIds.includes(a.id)) return 'full';
  return me.managerAppIds.includes(a.id) ? 'members' : 'none';
}

const canInvite = (me: ConsoleMe) => me.platform || me.tenantIds.length > 0 || me.adminAppIds.length > 0 || me.managerAppIds.length > 0;

/**
 * The API's refusal of a form: its fields (as the form names them); a refusal that names no field
 * but is about one (`about`: field → what its detail mentions, "Email already registered") goes there;
 * the detail otherwise.
 */
function refusal(err: ConsoleApiError, about: Record<string, RegExp> = {}): { errors: Record<string, string>; detail?: string } {
  const errors: Record<string, string> = {};
  for (const [path, message] of Object.entries(err.fields)) errors[path.split('.')[0]!] ??= message;
  if (Object.keys(errors).length > 0) return { errors };
  const field = Object.entries(about).find(([, re]) => re.test(err.detail))?.[0];
  return field ? { errors: { [field]: err.detail } } : { errors, detail: err.detail };
}

/** Refusals a page shows (a 4xx about this change); the rest (session ended, 404, 5xx) go to the error page. */
const shown = (err: ConsoleApiError) => err.status !== 401 && err.status !== 404 && err.status < 500;

const NOTICES: Record<(typeof DONE)[number], string> = {
  roles: 'The roles in {app} were saved.',
  approve: 'The membership of {app} was approved.',
  suspend: 'The user was suspended in {app}.',
  activate: 'The user is active in {app} again.',
  disable: 'The account was disabled: every session and token ended.',
  enable: 'The account was enabled again.',
  unlock: 'The sign-in lockout was cleared.',
  'send-reset': 'A password-reset email is on its way.',
  revoked: 'Revoked.',
};

const usersRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  const form = consoleForm(app, deps);

  const getUser = async (req: FastifyRequest, id: string) => must(await consoleApi(req).get<UserDetailWire>(`/users/${id}`));

  /** The apps the admin may invite to (not the built-in Console app). */
  async function inviteApps(req: FastifyRequest, me: ConsoleMe): Promise<AppWire[]> {
    const r = await consoleApi(req).get<{ apps: AppWire[] }>('/apps', { limit: 200 });
    return r.ok ? r.body.apps.filter((a) => a.builtin === null && accessIn(me, a) !== 'none') : [];
  }

  /** The user's memberships with their app and what the admin may do there. */
  async function membershipRows(req: FastifyRequest, me: ConsoleMe, user: UserDetailWire) {
    const api = consoleApi(req);
    const rows = [];
    for (const m of user.memberships) {
      const a = await api.get<AppWire>(`/apps/${m.app_id}`);
      if (!a.ok) continue;
      rows.push({ ...m, app: a.body, access: accessIn(me, a.body) });
    }
    return rows;
  }

  async function showUser(
    req: FastifyRequest,
    reply: FastifyReply,
    user: UserDetailWire,
    opts: {
      done?: (typeof DONE)[number];
      doneApp?: string;
      /** An error next to one app's roles, or next to one action. */
      errorAt?: { key: string; message: string; roles?: string[] };
      status?: number;
    } = {},
  ) {
    const me = await consoleMe(req);
    const memberships = await membershipRows(req, me, user);
    const visible = memberships.filter((m) => m.access !== 'none');
    const full = visible.some((m) => m.access === 'full');
    const rights = {
      // The API wants full access to every app of the user; the page offers it when all it sees are.
      account: me.platform || (visible.length > 0 && visible.every((m) => m.access === 'full')),
      some: me.platform || full,
      delete: me.platform,
    };
    return renderConsole(
      req,
      reply,
      'user.eta',
      {
        title: user.display_name || user.email,
        user,
        memberships,
        rights,
        notice: opts.done
          ? NOTICES[opts.done].replace('{app}', memberships.find((m) => m.app_id === opts.doneApp)?.app.name ?? 'the app')
          : undefined,
        errorAt: opts.errorAt,
      },
      { status: opts.status ?? 200 },
    );
  }

  // --- List and search ------------------------------------------------------------------------------

  app.get('/users', { schema: { querystring: ListQuery } }, async (req, reply) => {
    const me = await consoleMe(req);
    const search = req.query.search || undefined;
    const page = must(
      await consoleApi(req).get<{ users: UserWire[]; next_cursor: string | null }>('/users', {
        limit: 50,
        search,
        cursor: req.query.cursor,
      }),
    );
    const next = page.next_cursor
      ? `/console/users?${new URLSearchParams({ ...(search && { search }), cursor: page.next_cursor }).toString()}`
      : null;
    return renderConsole(req, reply, 'users.eta', {
      title: 'Users',
      users: page.users,
      search: search ?? '',
      next,
      paged: req.query.cursor !== undefined,
      canCreate: me.platform,
      canInvite: canInvite(me),
      deleted: req.query.done === 'deleted',
    });
  });

  // --- Create a user (platform admins) --------------------------------------------------------------

  type CreateValues = Omit<z.infer<typeof CreateForm>, '_csrf' | 'password'>;
  const showCreate = async (
    req: FastifyRequest,
    reply: FastifyReply,
    values: CreateValues,
    opts: { errors?: Record<string, string>; detail?: string; status?: number } = {},
  ) => {
    const me = await consoleMe(req);
    if (!me.platform) throw new ConsoleApiError(403, 'Only a platform admin creates users; invite them to an app instead.', {});
    return renderConsole(
      req,
      reply,
      'user-new.eta',
      { title: 'New user', values, errors: opts.errors ?? {}, detail: opts.detail },
      { status: opts.status ?? 200 },
    );
  };

  app.get('/users/new', { schema: {} }, async (req, reply) =>
    showCreate(req, reply, { email: '', display_name: '', email_verified: 'on' }),
  );

  app.post('/users/new', { schema: { body: CreateForm }, ...form }, async (req, reply) => {
    const { _csrf: _unused, password, ...values } = req.body;
    const body = {
      email: values.email.trim(),
      ...(values.display_name.trim() && { display_name: values.display_name.trim() }),
      ...(password && { password }),
      email_verified: values.email_verified === 'on',
    };
    const r = await consoleApi(req).send<UserWire>('POST', '/users', body);
    if (!r.ok) {
      if (!shown(r.error)) throw r.error;
      return showCreate(req, reply, values, { ...refusal(r.error, { email: /email/i, password: /password/i }), status: r.error.status });
    }
    return reply.redirect(`/console/users/${r.body.id}`, 303);
  });

  // --- Invite an email address to an app ------------------------------------------------------------

  type InviteValues = Omit<z.infer<typeof InviteForm>, '_csrf'>;
  const showInvite = async (
    req: FastifyRequest,
    reply: FastifyReply,
    values: InviteValues,
    opts: { errors?: Record<string, string>; detail?: string; status?: number } = {},
  ) => {
    const me = await consoleMe(req);
    if (!canInvite(me)) throw new ConsoleApiError(403, 'Your admin tier does not allow inviting users.', {});
    const apps = await inviteApps(req, me);
    return renderConsole(
      req,
      reply,
      'user-invite.eta',
      { title: 'Invite a user', values, apps, errors: opts.errors ?? {}, detail: opts.detail },
      { status: opts.status ?? 200 },
    );
  };

  app.get('/users/invite', { schema: {} }, async (req, reply) =>
    showInvite(req, reply, { email: '', app_id: '', roles: '', expires_in_hours: '' }),
  );

  app.post('/users/invite', { schema: { body: InviteForm }, ...form }, async (req, reply) => {
    const { _csrf: _unused, ...values } = req.body;
    const errors: Record<string, string> = {};
    const hours = values.expires_in_hours.trim();
    if (hours !== '' && !/^\d+$/.test(hours)) errors.expires_in_hours = 'must be a whole number of hours';
    if (!/^[0-9a-f-]{36}$/i.test(values.app_id)) errors.app_id = 'choose an app';
    if (Object.keys(errors).length > 0) return showInvite(req, reply, values, { errors, status: 400 });
    const roles = values.roles.split(/[\s,]+/).filter(Boolean);
    const body = {
      app_id: values.app_id,
      email: values.email.trim(),
      ...(roles.length > 0 && { roles }),
      ...(hours !== '' && { expires_in_hours: Number(hours) }),
    };
    const r = await consoleApi(req).send<{ email: string; app_id: string; roles: string[]; expires_at: string; invite_url: string }>(
      'POST',
      '/invites',
      body,
    );
    if (!r.ok) {
      if (!shown(r.error) && r.error.status !== 404) throw r.error;
      // Another app (or none) is the API's 404: say so at the app field.
      if (r.error.status === 404) return showInvite(req, reply, values, { errors: { app_id: 'choose one of your apps' }, status: 404 });
      // A manager's roles beyond the app's defaults are refused as a whole (403): that is the roles field.
      const refused =
        r.error.status === 403 && roles.length > 0
          ? { errors: { roles: "Your admin tier may invite with the app's default roles only: leave Roles empty." } }
          : refusal(r.error, { roles: /role/i, email: /email/i, expires_in_hours: /expir|hour/i });
      return showInvite(req, reply, values, { ...refused, status: r.error.status });
    }
    const apps = await inviteApps(req, await consoleMe(req));
    // The link carries the single-use code: shown here once (no-store, in no URL) for passing on by hand.
    return renderConsole(
      req,
      reply,
      'user-invited.eta',
      { title: 'Invitation sent', invite: r.body, appName: apps.find((a) => a.id === r.body.app_id)?.name ?? r.body.app_id },
      { status: 201 },
    );
  });

  // --- A user's page ----------------------------------------------------------------------------------

  app.get('/users/:id', { schema: { params: UserParams, querystring: ShowQuery } }, async (req, reply) =>
    showUser(req, reply, await getUser(req, req.params.id), { done: req.query.done, doneApp: req.query.app }),
  );

  app.post('/users/:id/apps/:appId/roles', { schema: { params: MemberParams, body: RolesForm }, ...form }, async (req, reply) => {
    const user = await getUser(req, req.params.id);
    const { appId } = req.params;
    if (!user.memberships.some((m) => m.app_id === appId)) throw new ConsoleApiError(404, 'not found', {});
    const r = await consoleApi(req).send('PUT', `/users/${user.id}/roles`, { app_id: appId, roles: req.body.roles });
    if (!r.ok) {
      if (!shown(r.error)) throw r.error;
      return showUser(req, reply, user, {
        errorAt: { key: `roles-${appId}`, message: r.error.detail, roles: req.body.roles },
        status: r.error.status,
      });
    }
    return reply.redirect(`/console/users/${user.id}?done=roles&app=${appId}`, 303);
  });

  for (const action of ['approve', 'suspend', 'activate'] as const) {
    app.post(`/users/:id/apps/:appId/${action}`, { schema: { params: MemberParams, body: NoBody }, ...form }, async (req, reply) => {
      const user = await getUser(req, req.params.id);
      const { appId } = req.params;
      if (!user.memberships.some((m) => m.app_id === appId)) throw new ConsoleApiError(404, 'not found', {});
      const r = await consoleApi(req).send('POST', `/apps/${appId}/members/${user.id}/${action}`);
      if (!r.ok) {
        if (!shown(r.error)) throw r.error;
        return showUser(req, reply, user, { errorAt: { key: `status-${appId}`, message: r.error.detail }, status: r.error.status });
      }
      return reply.redirect(`/console/users/${user.id}?done=${action}&app=${appId}`, 303);
    });
  }

  // Account actions: disable (behind a confirmation: it ends every session), enable, unlock, reset email.
  app.get('/users/:id/disable', { schema: { params: UserParams } }, async (req, reply) => {
    const user = await getUser(req, req.params.id);
    return renderConfirm(req, reply, {
      title: `Disable ${user.email}?`,
      message: `${user.email} can no longer sign in to any app, and every session and refresh token of theirs ends at once. You can enable the account again later.`,
      action: `/console/users/${user.id}/disable`,
      confirmLabel: 'Disable the account',
      cancelHref: `/console/users/${user.id}`,
      danger: true,
    });
  });

  for (const action of ['disable', 'enable', 'unlock', 'send-reset'] as const) {
    app.post(`/users/:id/${action}`, { schema: { params: UserParams, body: NoBody }, ...form }, async (req, reply) => {
      const user = await getUser(req, req.params.id);
      const r = await consoleApi(req).send('POST', `/users/${user.id}/${action}`);
      if (!r.ok) {
        if (!shown(r.error)) throw r.error;
        return showUser(req, reply, user, { errorAt: { key: 'account', message: r.error.detail }, status: r.error.status });
      }
      return reply.redirect(`/console/users/${user.id}?done=${action}`, 303);
    });
  }

  app.get('/users/:id/delete', { schema: { params: UserParams } }, async (req, reply) => {
    const user = await getUser(req, req.params.id);
    return renderConfirm(req, reply, {
      title: `Delete ${user.email}?`,
      message: `The account of ${user.email}, its memberships, sessions and tokens are deleted. This cannot be undone.`,
      action: `/console/users/${user.id}/delete`,
      confirmLabel: 'Delete the user',
      cancelHref: `/console/users/${user.id}`,
      danger: true,
    });
  });

  app.post('/users/:id/delete', { schema: { params: UserParams, body: NoBody }, ...form }, async (req, reply) => {
    const user = await getUser(req, req.params.id);
    const r = await consoleApi(req).send('DELETE', `/users/${user.id}`);
    if (!r.ok) {
      if (!shown(r.error)) throw r.error;
      return showUser(req, reply, user, { errorAt: { key: 'delete', message: r.error.detail }, status: r.error.status });
    }
    return reply.redirect('/console/users?done=deleted', 303);
  });

  // --- Sessions and refresh tokens ------------------------------------------------------------------

  app.get('/users/:id/sessions', { schema: { params: UserParams, querystring: SessionsQuery } }, async (req, reply) => {
    const user = await getUser(req, req.params.id);
    const api = consoleApi(req);
    const sessions = must(await api.get<{ sessions: SessionWire[] }>(`/users/${user.id}/sessions`, { limit: 200 }));
    const tokens = must(
      await api.get<{ refresh_tokens: TokenWire[]; next_cursor: string | null }>(`/users/${user.id}/refresh-tokens`, {
        limit: 50,
        cursor: req.query.cursor,
      }),
    );
    const appNames: Record<string, string> = {};
    for (const id of new Set([...sessions.sessions.map((s) => s.app_id), ...tokens.refresh_tokens.map((t) => t.app_id)])) {
      const a = await api.get<AppWire>(`/apps/${id}`);
      appNames[id] = a.ok ? a.body.name : id;
    }
    return renderConsole(req, reply, 'user-sessions.eta', {
      title: `Sessions of ${user.display_name || user.email}`,
      user,
      sessions: sessions.sessions,
      tokens: tokens.refresh_tokens,
      appNames,
      next: tokens.next_cursor ? `/console/users/${user.id}/sessions?cursor=${encodeURIComponent(tokens.next_cursor)}` : null,
      revoked: req.query.done === 'revoked',
    });
  });

  // A session (a refresh-token family) and a token (its family) are revoked the same way, through the
  // user's own session route: the API checks there that the family is this user's and within reach.
  app.get('/users/:id/sessions/:sessionId/revoke', { schema: { params: SessionParams } }, async (req, reply) => {
    const user = await getUser(req, req.params.id);
    // Only a live sign-in or token family of this user within reach gets a confirmation page.
    const api = consoleApi(req);
    const { sessionId } = req.params;
    const sessions = must(await api.get<{ sessions: SessionWire[] }>(`/users/${user.id}/sessions`, { limit: 200 }));
    const live =
      sessions.sessions.some((s) => s.id === sessionId) ||
      must(
        await api.get<{ refresh_tokens: TokenWire[] }>(`/users/${user.id}/refresh-tokens`, { active: 'true', limit: 200 }),
      ).refresh_tokens.some((t) => t.family_id === sessionId);
    if (!live) throw new ConsoleApiError(404, 'not found', {});
    return renderConfirm(req, reply, {
      title: 'Revoke this session?',
      message: `The sign-in ${req.params.sessionId} of ${user.email} ends: its refresh tokens stop working at once and the app must sign them in again.`,
      action: `/console/users/${user.id}/sessions/${req.params.sessionId}/revoke`,
      confirmLabel: 'Revoke the session',
      cancelHref: `/console/users/${user.id}/sessions`,
      danger: true,
    });
  });

  app.post('/users/:id/sessions/:sessionId/revoke', { schema: { params: SessionParams, body: NoBody }, ...form }, async (req, reply) => {
    const user = await getUser(req, req.params.id);
    must(await consoleApi(req).send('DELETE', `/users/${user.id}/sessions/${req.params.sessionId}`));
    return reply.redirect(`/console/users/${user.id}/sessions?done=revoked`, 303);
  });
};

const usersScreen: ConsoleScreen = {
  nav: [{ href: '/console/users', label: 'Users' }],
  routes: usersRoutes,
};
export default usersScreen;
