// Signing in to the Console: it is the built-in first-party public client (domain/apps/console-app.ts),
// so it signs in through our own hosted /authorize (authorization code + PKCE S256, state, nonce) and
// redeems the code at our own POST /token (app.inject, the same rules as any client). The tokens are
// kept in the encrypted km_console cookie (session.ts); an expired access token is refreshed with the
// refresh token (rotation), and a refused refresh means signing in again.
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { decodeJwt } from 'jose';
import { z } from 'zod';
import type { Deps } from '../../deps.js';
import { consoleRedirectUri } from '../../domain/apps/console-app.js';
import { randomToken, safeEqual } from '../../lib/crypto.js';
import { consoleContext, consoleForm, renderConsole, renderConsoleError, type ConsoleContext } from './kit.js';
import {
  CONSOLE_PATH,
  clearFlow,
  clearSession,
  readFlow,
  readSession,
  safeReturnTo,
  writeFlow,
  writeSession,
  type ConsoleSession,
} from './session.js';

/** Refresh this long before the access token expires, so a request never carries a dying token. */
const REFRESH_EARLY_MS = 30_000;
const SCOPE = 'openid profile email offline_access';

/** 302 to the hosted /authorize, the PKCE verifier, state and nonce sealed in km_console_flow. */
export function startSignIn(ctx: ConsoleContext, reply: FastifyReply, returnTo: string): FastifyReply {
  const { deps } = ctx;
  const verifier = randomBytes(32).toString('base64url');
  const flow = { verifier, state: randomToken(), nonce: randomToken(), returnTo: safeReturnTo(returnTo), at: deps.clock.now().getTime() };
  writeFlow(deps, reply, flow);
  const q = new URLSearchParams({
    client_id: ctx.consoleAppId,
    redirect_uri: consoleRedirectUri(deps.config.issuer),
    response_type: 'code',
    scope: SCOPE,
    state: flow.state,
    nonce: flow.nonce,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  });
  return reply.header('Cache-Control', 'no-store').redirect(`/authorize?${q.toString()}`, 302);
}

interface TokenWire {
  access_token: string;
  refresh_token?: string;
  id_token?: string;
  expires_in: number;
}

/** POST /token on our own server, as the Console (a public client: client_id, no secret). */
async function tokenRequest(ctx: ConsoleContext, req: FastifyRequest, body: Record<string, string>): Promise<TokenWire | undefined> {
  const res = await ctx.root.inject({
    method: 'POST',
    url: '/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': req.headers['user-agent'] ?? 'keymaster-console' },
    remoteAddress: req.ip,
    payload: new URLSearchParams({ ...body, client_id: ctx.consoleAppId }).toString(),
  });
  if (res.statusCode !== 200) {
    req.log.info({ event: 'console.token_refused', status: res.statusCode, grant: body.grant_type }, 'console token request refused');
    return undefined;
  }
  return res.json<TokenWire>();
}

function sessionOf(ctx: ConsoleContext, t: TokenWire, previous?: ConsoleSession): ConsoleSession {
  const sub = String(decodeJwt(t.access_token).sub);
  return {
    at: t.access_token,
    rt: t.refresh_token ?? previous?.rt,
    idt: t.id_token ?? previous?.idt,
    exp: ctx.deps.clock.now().getTime() + t.expires_in * 1000,
    sub,
  };
}

/**
 * The onRequest check of every Console route that is not public: a live session (refreshed when the
 * access token is about to expire) or, for a page, a sign-in that comes back to it.
 */
export async function requireSession(ctx: ConsoleContext, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
  const { deps } = ctx;
  let session = readSession(deps, req);
  if (session && session.exp - REFRESH_EARLY_MS <= deps.clock.now().getTime()) {
    const refreshed = session.rt ? await tokenRequest(ctx, req, { grant_type: 'refresh_token', refresh_token: session.rt }) : undefined;
    if (refreshed) {
      session = sessionOf(ctx, refreshed, session);
      writeSession(deps, reply, session);
    } else {
      clearSession(deps, reply);
      session = undefined;
    }
  }
  if (session) {
    ctx.session = session;
    return undefined;
  }
  if (req.method === 'GET' || req.method === 'HEAD') {
    // Where end_session sends the browser after a sign-out (state=signed-out): say so, do not bounce.
    const q = req.query as Record<string, unknown> | undefined;
    if (req.url.split('?')[0] === CONSOLE_PATH && q?.state === 'signed-out') {
      return renderConsole(req, reply, 'signed-out.eta', { title: 'Signed out' });
    }
    return startSignIn(ctx, reply, req.url);
  }
  // A form posted after the session ended: nothing is done; sign in again and redo it.
  return renderConsoleError(
    req,
    reply,
    401,
    'Your Console session has ended, so nothing was changed. Sign in again and repeat the action.',
    {
      href: CONSOLE_PATH,
      label: 'Sign in again',
    },
  );
}

const CallbackQuery = z.object({
  code: z.string().max(512).optional(),
  state: z.string().max(512).optional(),
  error: z.string().max(100).optional(),
  error_description: z.string().max(500).optional(),
  iss: z.string().max(500).optional(),
});

const LogoutBody = z.object({ _csrf: z.string().optional() });

const consoleAuthRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps: routeDeps }) => {
  const pub = { console: 'public' as const, errorFormat: 'html' as const };

  app.get('/callback', { config: pub, schema: { querystring: CallbackQuery } }, async (req, reply) => {
    const ctx = consoleContext(req);
    const { deps } = ctx;
    const q = req.query;
    const flow = readFlow(deps, req);
    clearFlow(deps, reply);
    if (!flow || !q.state || !safeEqual(q.state, flow.state)) {
      return renderConsoleError(req, reply, 400, 'This sign-in could not be completed: it has expired or did not start here.', {
        href: CONSOLE_PATH,
        label: 'Sign in again',
      });
    }
    if (q.error) {
      // The hosted login refuses a user without an admin tier for the Console app (memberships.ts).
      if (q.error === 'access_denied') return renderNoAccess(ctx, req, reply);
      return renderConsoleError(req, reply, 400, 'The sign-in was not completed.', { href: CONSOLE_PATH, label: 'Try again' });
    }
    const tokens = q.code
      ? await tokenRequest(ctx, req, {
          grant_type: 'authorization_code',
          code: q.code,
          redirect_uri: consoleRedirectUri(deps.config.issuer),
          code_verifier: flow.verifier,
        })
      : undefined;
    // The ID token came straight from our own token endpoint; its nonce binds it to this browser's flow.
    const nonce = tokens?.id_token ? decodeJwt(tokens.id_token).nonce : undefined;
    if (!tokens || typeof nonce !== 'string' || !safeEqual(nonce, flow.nonce)) {
      return renderConsoleError(req, reply, 400, 'This sign-in could not be completed. Please sign in again.', {
        href: CONSOLE_PATH,
        label: 'Sign in again',
      });
    }
    writeSession(deps, reply, sessionOf(ctx, tokens));
    return reply.header('Cache-Control', 'no-store').redirect(flow.returnTo, 303);
  });

  // Sign out: revoke the refresh token (RFC 7009), forget the cookie, end the SSO session at
  // /end_session (the ID token as the hint, so no second confirmation), back to /console.
  app.post(
    '/logout',
    { config: { errorFormat: 'html' }, schema: { body: LogoutBody }, ...consoleForm(app, routeDeps) },
    async (req, reply) => {
      const ctx = consoleContext(req);
      const { deps } = ctx;
      const session = ctx.session;
      if (session?.rt) {
        await ctx.root.inject({
          method: 'POST',
          url: '/revoke',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          remoteAddress: req.ip,
          payload: new URLSearchParams({ token: session.rt, token_type_hint: 'refresh_token', client_id: ctx.consoleAppId }).toString(),
        });
      }
      clearSession(deps, reply);
      return reply.header('Cache-Control', 'no-store').redirect(endSessionUrl(ctx, session?.idt), 303);
    },
  );
};

/** The RP-initiated logout URL that comes back to the Console's "signed out" page. */
export function endSessionUrl(ctx: ConsoleContext, idTokenHint?: string): string {
  const q = new URLSearchParams({
    client_id: ctx.consoleAppId,
    post_logout_redirect_uri: `${ctx.deps.config.issuer}${CONSOLE_PATH}`,
    state: 'signed-out',
    ...(idTokenHint && { id_token_hint: idTokenHint }),
  });
  return `/end_session?${q.toString()}`;
}

/** A signed-in user who holds no admin tier: say so, and offer another account or their own. */
export function renderNoAccess(ctx: ConsoleContext, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  clearSession(ctx.deps, reply);
  return renderConsole(req, reply, 'no-access.eta', { title: 'No access to the Console', switchHref: endSessionUrl(ctx) }, { status: 403 });
}

export default consoleAuthRoutes;
