// Console: Webhooks. Per app: the list, the add form (URL, events; the signing secret shown once in
// the POST's own no-store answer), and per webhook its deliveries with their status, a ping, and
// delete behind a confirmation page. Admin API: /admin/apps/{app_id}/webhooks, /admin/webhooks/{id}
// (ping, deliveries, retry, delete). A webhook is always reached through its app (a webhook id under another
// app's URL is a 404), so the page's app and the API's scope agree.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Deps } from '../../deps.js';
import { WEBHOOK_EVENTS } from '../../domain/webhooks/webhooks.js';
import { consoleApi, consoleForm, consoleMe, must, renderConfirm, renderConsole } from './kit.js';
import { AppIdParams, CursorQuery, fullAccess, NoBody, refuse, utc, pickableApps, visibleApp, type AppSummary } from './ops-kit.js';

interface WebhookWire {
  id: string;
  app_id: string;
  url: string;
  events: string[];
  disabled: boolean;
  created_at: string;
}
interface DeliveryWire {
  id: string;
  event: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  next_attempt_at: string | null;
  last_status: number | null;
  last_error: string | null;
  created_at: string;
  delivered_at: string | null;
}

const HookParams = z.object({ app_id: z.uuid(), id: z.uuid() });
const DeliveryParams = z.object({ app_id: z.uuid(), id: z.uuid(), delivery_id: z.uuid() });
const Events = z
  .union([z.string().max(100), z.array(z.string().max(100)).max(50)])
  .optional()
  .transform((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]));
const HookForm = z.object({ _csrf: z.string().optional(), url: z.string().max(4000).default(''), events: Events });
const ListQuery = z.object({ deleted: z.literal('1').optional() });
const DeliveriesQuery = z.object({ cursor: CursorQuery, pinged: z.literal('1').optional(), retried: z.literal('1').optional() });

const BASE = '/console/webhooks';
/** What an admin subscribes to (ping is what the ping button sends). */
const SUBSCRIBABLE = WEBHOOK_EVENTS.filter((e) => e !== 'ping');

const webhooksRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  const form = consoleForm(app, deps);

  async function showList(
    req: FastifyRequest,
    reply: FastifyReply,
    a: AppSummary,
    opts: {
      values?: { url: string; events: string[] };
      errors?: Record<string, string>;
      detail?: string;
      status?: number;
      deleted?: boolean;
    } = {},
  ) {
    const hooks = must(await consoleApi(req).get<{ webhooks: WebhookWire[] }>(`/apps/${a.id}/webhooks`)).webhooks;
    return renderConsole(
      req,
      reply,
      'webhooks.eta',
      {
        title: 'Webhooks',
        app: a,
        hooks,
        canChange: fullAccess(await consoleMe(req), a),
        events: SUBSCRIBABLE,
        values: opts.values ?? { url: '', events: [...SUBSCRIBABLE] },
        errors: opts.errors ?? {},
        detail: opts.detail,
        deleted: opts.deleted === true,
        utc,
        base: BASE,
      },
      { status: opts.status ?? 200 },
    );
  }

  /** The webhook, if it is one of this app's (what the admin sees of the app is the API's list). */
  async function hookOf(req: FastifyRequest, appId: string, id: string): Promise<{ a: AppSummary; hook: WebhookWire }> {
    const a = await visibleApp(req, appId);
    const hooks = must(await consoleApi(req).get<{ webhooks: WebhookWire[] }>(`/apps/${a.id}/webhooks`)).webhooks;
    const hook = hooks.find((h) => h.id === id);
    if (!hook) refuse(404, 'not found');
    return { a, hook };
  }

  app.get('/webhooks', { schema: {} }, async (req, reply) => {
    const apps = await pickableApps(req);
    if (apps.length === 1) return reply.redirect(`${BASE}/${apps[0]!.id}`, 303);
    return renderConsole(req, reply, 'refresh-keys-apps.eta', { title: 'Webhooks', apps, base: BASE, what: 'webhooks' });
  });

  app.get('/webhooks/:app_id', { schema: { params: AppIdParams, querystring: ListQuery } }, async (req, reply) =>
    showList(req, reply, await visibleApp(req, req.params.app_id), { deleted: req.query.deleted === '1' }),
  );

  app.post('/webhooks/:app_id', { schema: { params: AppIdParams, body: HookForm }, ...form }, async (req, reply) => {
    const a = await visibleApp(req, req.params.app_id);
    const values = { url: req.body.url.trim(), events: req.body.events };
    const r = await consoleApi(req).send<{ id: string; secret: string; url: string; events: string[] }>(
      'POST',
      `/apps/${a.id}/webhooks`,
      values,
    );
    if (!r.ok) {
      if (r.error.status >= 500 || r.error.status === 401 || r.error.status === 404) throw r.error;
      const errors: Record<string, string> = {};
      for (const [path, message] of Object.entries(r.error.fields)) errors[path.split('.')[0]!] ??= message;
      // The address policy's refusal (a private or loopback address) concerns the URL.
      if (Object.keys(errors).length === 0 && r.error.status === 400) errors.url = r.error.detail;
      return showList(req, reply, a, {
        values,
        errors,
        detail: Object.keys(errors).length ? undefined : r.error.detail,
        status: r.error.status,
      });
    }
    // The signing secret is shown here, once: this answer is no-store and the secret is in no URL.
    return renderConsole(req, reply, 'webhooks-created.eta', { title: 'Webhook added', app: a, hook: r.body, base: BASE }, { status: 201 });
  });

  app.get('/webhooks/:app_id/:id', { schema: { params: HookParams, querystring: DeliveriesQuery } }, async (req, reply) => {
    const { a, hook } = await hookOf(req, req.params.app_id, req.params.id);
    const page = must(
      await consoleApi(req).get<{ deliveries: DeliveryWire[]; next_cursor: string | null }>(`/webhooks/${hook.id}/deliveries`, {
        limit: 50,
        cursor: req.query.cursor,
      }),
    );
    return renderConsole(req, reply, 'webhooks-deliveries.eta', {
      title: 'Webhook deliveries',
      app: a,
      hook,
      deliveries: page.deliveries,
      next: page.next_cursor ? `${BASE}/${a.id}/${hook.id}?cursor=${encodeURIComponent(page.next_cursor)}` : null,
      first: req.query.cursor ? `${BASE}/${a.id}/${hook.id}` : null,
      canChange: fullAccess(await consoleMe(req), a),
      pinged: req.query.pinged === '1',
      retried: req.query.retried === '1',
      utc,
      base: BASE,
    });
  });

  app.post('/webhooks/:app_id/:id/ping', { schema: { params: HookParams, body: NoBody }, ...form }, async (req, reply) => {
    const { a, hook } = await hookOf(req, req.params.app_id, req.params.id);
    must(await consoleApi(req).send('POST', `/webhooks/${hook.id}/ping`));
    return reply.redirect(`${BASE}/${a.id}/${hook.id}?pinged=1`, 303);
  });

  // A failed delivery, sent again (the same body; the Admin API queues it with fresh attempts).
  app.post(
    '/webhooks/:app_id/:id/deliveries/:delivery_id/retry',
    { schema: { params: DeliveryParams, body: NoBody }, ...form },
    async (req, reply) => {
      const { a, hook } = await hookOf(req, req.params.app_id, req.params.id);
      must(await consoleApi(req).send('POST', `/webhooks/${hook.id}/deliveries/${req.params.delivery_id}/retry`));
      return reply.redirect(`${BASE}/${a.id}/${hook.id}?retried=1`, 303);
    },
  );

  app.get('/webhooks/:app_id/:id/delete', { schema: { params: HookParams } }, async (req, reply) => {
    const { a, hook } = await hookOf(req, req.params.app_id, req.params.id);
    return renderConfirm(req, reply, {
      title: 'Delete this webhook?',
      message: `${hook.url} stops receiving ${a.name}'s events at once. This cannot be undone.`,
      action: `${BASE}/${a.id}/${hook.id}/delete`,
      confirmLabel: 'Delete the webhook',
      cancelHref: `${BASE}/${a.id}/${hook.id}`,
      danger: true,
    });
  });

  app.post('/webhooks/:app_id/:id/delete', { schema: { params: HookParams, body: NoBody }, ...form }, async (req, reply) => {
    const { a, hook } = await hookOf(req, req.params.app_id, req.params.id);
    must(await consoleApi(req).send('DELETE', `/webhooks/${hook.id}`));
    return reply.redirect(`${BASE}/${a.id}?deleted=1`, 303);
  });
};
export default webhooksRoutes;
