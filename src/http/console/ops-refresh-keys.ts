// Console: JWT Refresh Keys (seed 001: Setup → Integrations → JWT Refresh Keys). An app's refresh
// tokens with every field the seed lists (expires, created, revoked, last used, content, token hash,
// JTI, device info), cursor pages, the "+" form (audience, lifetime) whose key is shown once in the
// POST's own no-store answer, and revoke behind a confirmation page. Admin API: GET/POST/DELETE
// /admin/apps/{app_id}/refresh-keys (operations.ts); another tier's app is the API's 404.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Deps } from '../../deps.js';
import type { RefreshTokenItem } from '../admin/operations-schemas.js';
import { consoleApi, consoleForm, consoleMe, must, renderConfirm, renderConsole } from './kit.js';
import { AppIdParams, CursorQuery, fullAccess, NoBody, refuse, utc, pickableApps, visibleApp, type AppSummary } from './ops-kit.js';

/** An Admin API refresh-token record, as its schema says (operations-schemas.ts RefreshTokenItem). */
export type RefreshTokenWire = z.infer<typeof RefreshTokenItem>;
interface CreatedWire {
  refresh_token: string;
  jti: string;
  audience: string;
  created_at: string;
  expires_at: string;
  lifetime_seconds: number;
}

const flag = z.literal('1').optional();
const ListQuery = z.object({ cursor: CursorQuery, active: flag, keys_only: flag, revoked: flag });
const KeyParams = z.object({ app_id: z.uuid(), jti: z.uuid() });
const KeyForm = z.object({
  _csrf: z.string().optional(),
  audience: z.string().max(2000).default(''),
  lifetime: z.string().max(20).default(''),
});
type KeyValues = { audience: string; lifetime: string };

const BASE = '/console/refresh-keys';

const refreshKeysRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  const form = consoleForm(app, deps);

  async function showForm(
    req: FastifyRequest,
    reply: FastifyReply,
    a: AppSummary,
    values: KeyValues,
    opts: { errors?: Record<string, string>; detail?: string; status?: number } = {},
  ) {
    if (!fullAccess(await consoleMe(req), a)) refuse(403, 'Your admin tier may list and revoke refresh keys of this app, not create them.');
    return renderConsole(
      req,
      reply,
      'refresh-keys-new.eta',
      { title: 'New JWT refresh key', app: a, values, errors: opts.errors ?? {}, detail: opts.detail, base: BASE },
      { status: opts.status ?? 200 },
    );
  }

  // The apps to pick from (one app: straight to it).
  app.get('/refresh-keys', { schema: {} }, async (req, reply) => {
    const apps = await pickableApps(req);
    if (apps.length === 1) return reply.redirect(`${BASE}/${apps[0]!.id}`, 303);
    return renderConsole(req, reply, 'refresh-keys-apps.eta', {
      title: 'JWT Refresh Keys',
      crumbs: ['Setup', 'Integrations'],
      apps,
      base: BASE,
      what: 'refresh keys',
    });
  });

  app.get('/refresh-keys/:app_id', { schema: { params: AppIdParams, querystring: ListQuery } }, async (req, reply) => {
    const a = await visibleApp(req, req.params.app_id);
    const q = req.query;
    const page = must(
      await consoleApi(req).get<{ refresh_tokens: RefreshTokenWire[]; next_cursor: string | null }>(`/apps/${a.id}/refresh-keys`, {
        limit: 50,
        cursor: q.cursor,
        active: q.active ? 'true' : undefined,
        keys_only: q.keys_only ? 'true' : undefined,
      }),
    );
    const filters = new URLSearchParams({ ...(q.active && { active: '1' }), ...(q.keys_only && { keys_only: '1' }) });
    return renderConsole(req, reply, 'refresh-keys.eta', {
      title: 'JWT Refresh Keys',
      crumbs: ['Setup', 'Integrations'],
      app: a,
      tokens: page.refresh_tokens,
      next: page.next_cursor
        ? `${BASE}/${a.id}?${new URLSearchParams({ ...Object.fromEntries(filters), cursor: page.next_cursor })}`
        : null,
      first: q.cursor ? `${BASE}/${a.id}${filters.size ? `?${filters}` : ''}` : null,
      query: q,
      canCreate: fullAccess(await consoleMe(req), a),
      revoked: q.revoked === '1',
      utc,
      base: BASE,
    });
  });

  app.get('/refresh-keys/:app_id/new', { schema: { params: AppIdParams } }, async (req, reply) => {
    const a = await visibleApp(req, req.params.app_id);
    return showForm(req, reply, a, { audience: a.id, lifetime: '30d' });
  });

  app.post('/refresh-keys/:app_id/new', { schema: { params: AppIdParams, body: KeyForm }, ...form }, async (req, reply) => {
    const a = await visibleApp(req, req.params.app_id);
    const values = { audience: req.body.audience.trim(), lifetime: req.body.lifetime.trim() };
    if (!values.lifetime)
      return showForm(req, reply, a, values, { errors: { lifetime: 'Enter a lifetime, like 30d or 12h.' }, status: 400 });
    // Whole seconds go as a number; "30d" as the API's own unit syntax (it checks both).
    const lifetime = /^\d{1,9}$/.test(values.lifetime) ? Number(values.lifetime) : values.lifetime;
    const r = await consoleApi(req).send<CreatedWire>('POST', `/apps/${a.id}/refresh-keys`, { audience: values.audience, lifetime });
    if (!r.ok) {
      if (r.error.status >= 500 || r.error.status === 401 || r.error.status === 404) throw r.error;
      const errors: Record<string, string> = {};
      for (const [path, message] of Object.entries(r.error.fields)) errors[path.split('.')[0]!] ??= message;
      if (/audience/i.test(r.error.detail) && !errors.audience) errors.audience = r.error.detail;
      const shown = Object.keys(errors).length > 0 ? undefined : r.error.detail;
      return showForm(req, reply, a, values, { errors, detail: shown, status: r.error.status });
    }
    // The key is shown here, once: this answer is no-store and the key is in no URL.
    return renderConsole(
      req,
      reply,
      'refresh-keys-created.eta',
      { title: 'Refresh key created', app: a, key: r.body, utc, base: BASE },
      { status: 201 },
    );
  });

  app.get('/refresh-keys/:app_id/:jti/revoke', { schema: { params: KeyParams } }, async (req, reply) => {
    const a = await visibleApp(req, req.params.app_id);
    return renderConfirm(req, reply, {
      title: 'Revoke this refresh key?',
      message: `The refresh token ${req.params.jti} of ${a.name} and every token rotated from it stop working at once; whoever holds it must sign in again. This cannot be undone.`,
      action: `${BASE}/${a.id}/${req.params.jti}/revoke`,
      confirmLabel: 'Revoke',
      cancelHref: `${BASE}/${a.id}`,
      danger: true,
    });
  });

  app.post('/refresh-keys/:app_id/:jti/revoke', { schema: { params: KeyParams, body: NoBody }, ...form }, async (req, reply) => {
    must(await consoleApi(req).send('DELETE', `/apps/${req.params.app_id}/refresh-keys/${req.params.jti}`));
    return reply.redirect(`${BASE}/${req.params.app_id}?revoked=1`, 303);
  });
};
export default refreshKeysRoutes;
