// The first-start setup page (issue 14): GET /setup?token=… shows "Create the first administrator",
// POST creates that user with a platform_admin grant (domain/admin/bootstrap.ts decides, race-safe)
// and says where to go next. The token is the link's only credential: the page is no-store and sends
// no Referer (the page headers already say no-referrer; set here too so that it holds on its own).
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Deps } from '../../deps.js';
import { createFirstAdmin, isSetupLinkUsable } from '../../domain/admin/bootstrap.js';
import { AppError } from '../../errors.js';
import { safeEqual } from '../../lib/crypto.js';
import { formError } from '../error-handler.js';
import { FORM_BODY_LIMIT, formGuard } from '../plugins/guards.js';
import { renderPage, type Text } from '../render.js';
import { requestMeta } from '../request-meta.js';

const Token = z.string().max(200).default('');
const SetupQuery = z.object({ token: Token });
const SetupForm = z.object({
  _csrf: z.string().optional(),
  token: Token,
  email: z.string().trim().max(254, 'is too long').default(''),
  name: z.string().trim().max(200, 'is too long').default(''),
  password: z.string().max(1024, 'is too long').default(''),
  confirm_password: z.string().max(1024, 'is too long').default(''),
});

const setupRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  const config = { errorFormat: 'html' as const };
  const p = deps.config.passwordPolicy;
  const policy = { min: p.minLength, max: p.maxLength, classes: p.requireClasses ? 'yes' : 'no' };
  const private_ = (reply: FastifyReply) => reply.header('Referrer-Policy', 'no-referrer').header('Cache-Control', 'no-store');

  const deadLink = (reply: FastifyReply) =>
    renderPage(private_(reply), 'setup-done.eta', { title: 'setup.deadTitle', error: { key: 'setup.dead' }, help: true }, 403);

  const form = (reply: FastifyReply, token: string, opts: { error?: Text; email?: string; name?: string; status?: number } = {}) =>
    renderPage(
      private_(reply),
      'setup.eta',
      { title: 'setup.title', csrfToken: reply.generateCsrf(), token, policy, ...opts },
      opts.status ?? 200,
    );

  app.get('/setup', { config, schema: { querystring: SetupQuery } }, async (req, reply) => {
    if (!(await isSetupLinkUsable(deps, req.query.token))) return deadLink(reply);
    return form(reply, req.query.token);
  });

  app.post(
    '/setup',
    { config, schema: { body: SetupForm }, preValidation: formGuard(app, deps.config), bodyLimit: FORM_BODY_LIMIT },
    async (req, reply) => {
      const f = req.body;
      const again = { email: f.email, name: f.name, status: 400 };
      if (!f.email || !f.password) return form(reply, f.token, { ...again, error: { key: 'setup.missingFields' } });
      if (!safeEqual(f.password, f.confirm_password)) return form(reply, f.token, { ...again, error: { key: 'account.passwordsDiffer' } });
      try {
        const user = await createFirstAdmin(
          deps,
          { token: f.token, email: f.email, name: f.name || undefined, password: f.password },
          { ...requestMeta(req), actor: 'setup' },
        );
        return renderPage(private_(reply), 'setup-done.eta', {
          title: 'setup.doneTitle',
          message: { key: 'setup.done', values: { email: user.email } },
          consoleUrl: '/console',
          adminUrl: '/admin',
        });
      } catch (err) {
        if (err instanceof AppError && err.reason === 'setup_link_invalid') return deadLink(reply);
        if (err instanceof z.ZodError) return form(reply, f.token, { ...again, error: { key: 'setup.badEmail' } });
        const { message, status } = formError(reply, err);
        return form(reply, f.token, { ...again, error: message, status });
      }
    },
  );
};
export default setupRoutes;
