// Console: signing keys (platform admins only). The keys with the states the Admin API reports (next,
// active, previous, retired) and their times; rotate (a next key, published before it signs); and
// rotate immediately (a compromised key) behind a confirmation page that says what it breaks. The
// navigation entry is for platform admins only; for anyone else these URLs are the Console's 404
// page (the API refuses them too: GET /admin/keys, POST /admin/keys/rotate are platform-only).
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Deps } from '../../deps.js';
import { JWKS_MAX_AGE } from '../../domain/keys/keys.js';
import { consoleApi, consoleForm, consoleMe, must, renderConfirm, renderConsole } from './kit.js';
import { NoBody, refuse, utc } from './ops-kit.js';

interface KeyWire {
  kid: string;
  state: 'next' | 'active' | 'previous' | 'retired';
  created_at: string;
  activate_at: string | null;
  activated_at: string | null;
  retire_at: string | null;
  retired_at: string | null;
}
interface RotatedWire {
  kid: string;
  state: 'next' | 'active';
  activate_at: string;
  warning: string | null;
}

const ListQuery = z.object({ rotated: z.string().max(100).optional(), now: z.literal('1').optional() });

/** What each state means, as the page says it. */
const STATES: Record<KeyWire['state'], string> = {
  next: 'published in the JWKS, signs from its activation time',
  active: 'signs new tokens',
  previous: 'published until the tokens it signed have expired',
  retired: 'no longer published; its tokens no longer verify',
};

/** Not a platform admin: the page does not exist for them (as the navigation shows it). */
async function platformOnly(req: FastifyRequest): Promise<void> {
  if (!(await consoleMe(req)).platform) refuse(404, 'not found');
}

const keysRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  const form = consoleForm(app, deps);

  app.get('/keys', { schema: { querystring: ListQuery } }, async (req, reply) => {
    await platformOnly(req);
    const keys = must(await consoleApi(req).get<{ keys: KeyWire[] }>('/keys')).keys;
    return renderConsole(req, reply, 'keys.eta', {
      title: 'Signing keys',
      keys,
      states: STATES,
      rotated: req.query.rotated,
      now: req.query.now === '1',
      maxAge: JWKS_MAX_AGE,
      utc,
    });
  });

  app.post('/keys/rotate', { schema: { body: NoBody }, ...form }, async (req, reply) => {
    await platformOnly(req);
    const r = must(await consoleApi(req).send<RotatedWire>('POST', '/keys/rotate', {}));
    return reply.redirect(`/console/keys?rotated=${encodeURIComponent(r.kid)}`, 303);
  });

  app.get('/keys/rotate-now', { schema: {} }, async (req, reply) => {
    await platformOnly(req);
    return renderConfirm(req, reply, {
      title: 'Rotate the signing key immediately?',
      message:
        `The new key signs every token from now on, without the usual pre-publication. Resource servers that cached the JWKS ` +
        `(for up to ${JWKS_MAX_AGE / 60} minutes) do not know it yet and reject new tokens until they fetch it again. ` +
        'The current key stays published until the tokens it signed expire; once it is retired, tokens it signed stop verifying. ' +
        'Do this when the current key may be compromised.',
      action: '/console/keys/rotate-now',
      confirmLabel: 'Rotate immediately',
      cancelHref: '/console/keys',
      danger: true,
    });
  });

  app.post('/keys/rotate-now', { schema: { body: NoBody }, ...form }, async (req, reply) => {
    await platformOnly(req);
    const r = must(await consoleApi(req).send<RotatedWire>('POST', '/keys/rotate', { immediately: true }));
    return reply.redirect(`/console/keys?rotated=${encodeURIComponent(r.kid)}&now=1`, 303);
  });
};
export default keysRoutes;
