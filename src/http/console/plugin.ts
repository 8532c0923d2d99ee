// The Keymaster Console (issue 15): a server-rendered admin UI at /console on the Admin API.
//
// Model: the Console is the built-in first-party public client (domain/apps/console-app.ts). It signs
// in through our own hosted /authorize (code + PKCE), keeps the tokens in an encrypted HttpOnly cookie
// scoped to /console (session.ts, auth.ts), and does every read and change through the Admin API by
// app.inject with the admin's own Admin JWT (kit.ts consoleApi): one source of rules, and the audit
// names the signed-in admin. Pages are Eta views in views/console/ in their own layout; the CSP is the
// pages' strict one (no inline script or style; the one script, console.js, is an enhancement and
// every form works without it). Console text is English for now: views/console is outside the i18n
// catalog test (test/i18n/catalog.test.ts scans views/*.eta and views/emails only).
//
// HOW TO ADD A SCREEN (the interface other screen modules use; keep it stable):
//  1. Write `src/http/console/<screen>.ts` exporting a `ConsoleScreen` as default:
//       const screen: ConsoleScreen = {
//         nav: [{ href: '/console/users', label: 'Users', visible: (me) => true }],  // optional
//         routes: async (app, { deps }) => { app.get('/users', …); … },        // FastifyPluginAsyncZod<{ deps: Deps }>
//       };
//     and replace your slot's line in CONSOLE_SCREENS below and its import slot (one line each). Route paths are relative to /console.
//  2. Every route is behind the session (a GET without one starts a sign-in that returns to it; a POST
//     without one changes nothing) unless it sets `config: { console: 'public' }`. Error pages are
//     the Console's own (errorFormat 'html' is implied; anything thrown renders views/console/error.eta
//     with its status and a way back; a ConsoleApiError keeps the Admin API's status and detail).
//  3. In a handler (all from ./kit.js):
//       const me = await consoleMe(req)          ConsoleMe: userId, email, name, platform, tenantIds,
//                                                 adminAppIds, managerAppIds — decide what to show from it
//       const api = consoleApi(req)              api.get<T>('/users', { search, cursor }),
//                                                 api.send<T>('POST' | 'PUT' | 'PATCH' | 'DELETE', path, body),
//                                                 api.upload<T>(path, { field, filename, contentType, data })
//                                                 → { ok: true, status, body } | { ok: false, error: ConsoleApiError }
//       must(result)                             the body, or throws the refusal (a 404 of the API → a 404 page)
//       error.fields                             field path as the API names it ('config.redirect_uris.0') → message;
//                                                 show each next to its form field, error.detail otherwise
//       renderConsole(req, reply, 'users.eta', { title: 'Users', … }, { status?, frames? })
//                                                 views/console/users.eta in the Console layout; `it.csrfToken`
//                                                 for forms, `it.me`; no-store
//       renderConfirm(req, reply, { title, message, action, confirmLabel, cancelHref, hidden?, danger? })
//                                                 the confirmation page every destructive action goes through
//       renderConsoleError(req, reply, status, message, back?)
//  4. Forms: method="post" with `<input type="hidden" name="_csrf" value="<%= it.csrfToken %>">`; the
//     route takes `...consoleForm(app, deps)` (same-origin check + CSRF, 16 KB) and a zod body schema
//     with `_csrf: z.string().optional()`. After a change, 303 to a GET (post/redirect/get). A secret
//     shown once is rendered in the POST's own response (never a URL, never stored); pages are no-store.
//  5. Templates: views/console/<screen>.eta; partials views/console/_*.eta. Classes from console.css
//     (`.card`, `.grid`, `.field`, `.field-error`, `.actions`, `.button`, `.button.secondary`,
//     `.button.danger`, `.table-wrap` + `table`, `.notice`, `.notice.error`, `.badge`, `.secret`).
//     No style="" attributes (CSP). A copy button: `<button type="button" class="button secondary"
//     data-copy="ID">Copy</button>` copies the text of element ID (console.js).
//  6. Tests: test/http/console-<screen>.test.ts with test/http/console-helpers.ts (consoleSignIn, consoleBrowser) and a
//     browser journey in test/e2e/browser-console.test.ts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Deps } from '../../deps.js';
import { ensureConsoleApp } from '../../domain/apps/console-app.js';
import { toAppError, wireError } from '../error-handler.js';
import { VIEWS_DIR } from '../plugins/web.js';
import consoleAuthRoutes, { requireSession, renderNoAccess } from './auth.js';
import { ConsoleApiError, consoleApi, consoleContext, renderConsoleError, setConsoleContext, type ConsoleScreen } from './kit.js';
import overviewScreen from './overview.js';
// -- screen imports, one slot each (see CONSOLE_SCREENS):
import appsScreen from './apps.js';
// --
import usersScreen from './users.js';
// --
import operationsScreen from './ops.js';
// --
import { CONSOLE_PATH } from './session.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** 'public': no Console session needed (the callback, the assets). */
    console?: 'public';
  }
}

export type { ConsoleScreen } from './kit.js';

/** The Console's screens, in navigation order (one line each). */
// Each screen module takes its own slot (replace the slot's line; the "--" lines stay, so that merges
// of screens written in parallel never touch the same or adjacent lines).
export const CONSOLE_SCREENS: readonly ConsoleScreen[] = [
  overviewScreen,
  // --
  appsScreen,
  // --
  usersScreen,
  // --
  operationsScreen,
  // --
];

const consolePlugin: FastifyPluginAsyncZod<{ deps: Deps; root: FastifyInstance }> = async (app, { deps, root }) => {
  const consoleApp = await ensureConsoleApp(deps);
  const nav = CONSOLE_SCREENS.flatMap((s) => s.nav ?? []);

  app.addHook('onRoute', (route) => {
    route.config = Object.assign(route.config ?? {}, { errorFormat: 'html' as const });
  });
  app.addHook('onRequest', async (req, reply) => {
    setConsoleContext(req, { deps, root, consoleAppId: consoleApp.appId, nav });
    if (req.routeOptions.config.console === 'public') return;
    // Query strings are parsed before onRequest; `state` is read for the signed-out page.
    const answered = await requireSession(consoleContext(req), req, reply);
    if (answered) return answered;
  });

  app.setErrorHandler(async (err, req, reply) => {
    if (err instanceof ConsoleApiError) {
      // A 403 because the admin's tiers were withdrawn since sign-in (GET /admin/me is refused too):
      // the no-access page, not an error; any other 403 is this action's refusal.
      if (err.status === 403) {
        const me = await consoleApi(req).get('/me');
        if (!me.ok && me.error.status === 403) return renderNoAccess(consoleContext(req), req, reply);
      }
      if (err.status === 401)
        return renderConsoleError(req, reply, 401, 'Your Console session has ended. Sign in again.', {
          href: CONSOLE_PATH,
          label: 'Sign in again',
        });
      return renderConsoleError(
        req,
        reply,
        err.status,
        err.status === 404 ? 'There is nothing here, or it is not yours to see.' : err.detail,
      );
    }
    const { error, httpStatus } = toAppError(err);
    const wire = wireError('detail', error, httpStatus);
    if (wire.status >= 500) req.log.error({ err }, 'console: unhandled error');
    else
      req.log.info({ event: 'request.rejected', code: error.code, reason: error.reason, status: wire.status }, 'console request rejected');
    return renderConsoleError(req, reply, wire.status, wire.status >= 500 ? 'The server could not complete this request.' : wire.text);
  });
  app.setNotFoundHandler(async (req, reply) => {
    setConsoleContext(req, { deps, root, consoleAppId: consoleApp.appId, nav });
    return renderConsoleError(req, reply, 404, 'There is no Console page at this address.');
  });

  // Assets: one stylesheet and one enhancement script, from our own origin (CSP 'self').
  const css = readFileSync(join(VIEWS_DIR, 'console', 'console.css'), 'utf8');
  const js = readFileSync(join(VIEWS_DIR, 'console', 'console.js'), 'utf8');
  const asset = { config: { console: 'public' as const }, schema: {} };
  app.get('/assets/console.css', asset, (_req, reply) =>
    reply.type('text/css; charset=utf-8').header('Cache-Control', 'public, max-age=300').send(css),
  );
  app.get('/assets/console.js', asset, (_req, reply) =>
    reply.type('text/javascript; charset=utf-8').header('Cache-Control', 'public, max-age=300').send(js),
  );

  await app.register(consoleAuthRoutes, { deps });
  for (const screen of CONSOLE_SCREENS) await app.register(screen.routes, { deps });
};

/** Registers /console (after the Admin API, whose Console app it signs in to). */
export async function registerConsole(app: FastifyInstance, deps: Deps): Promise<void> {
  await app.register(consolePlugin, { deps, root: app, prefix: CONSOLE_PATH });
}
