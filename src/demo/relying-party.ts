// `npm run demo`: a tiny relying party on http://localhost:8080, where the README's quick start ends.
// It is an app as an integrator would write one, using only Keymaster's public contract (seed 000):
// "Sign in" sends the browser to /login; the callback receives the tokens, checks `state`, verifies the
// access token with jose against the JWKS and shows its claims; "Refresh" calls /token/refresh (the
// new pair replaces the old); "Sign out" revokes the refresh token and sends the browser to
// /sso/logout, which comes back here. The demo keeps its sessions in memory: it is a demo app, not
// Keymaster (which keeps nothing that matters in memory).
//
//   DEMO_APP_ID=<app_id> npm run demo        (or: npm run demo -- <app_id>)
//   KEYMASTER_URL (default http://localhost:3000), DEMO_PORT (default 8080), DEMO_HOST (default 127.0.0.1)
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';

export interface DemoOptions {
  appId: string;
  keymasterUrl: string;
  port?: number;
  host?: string;
}

interface DemoSession {
  state?: string;
  accessToken?: string;
  refreshToken?: string;
  claims?: JWTPayload;
  message?: string;
}

const esc = (v: unknown) =>
  String(v).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark"><title>${esc(title)} · Keymaster demo app</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;max-width:640px;margin:0 auto;padding:24px}
a.button,button{display:inline-block;margin:8px 8px 0 0;padding:10px 16px;font:inherit;font-weight:600;color:#fff;background:#2f5bea;border:0;border-radius:8px;text-decoration:none;cursor:pointer}
button.secondary{background:#5b6475}
pre{background:#f4f5f7;color:#1d2330;padding:12px;border-radius:8px;overflow:auto;font-size:.85rem}
.note{background:#eaf4ea;color:#1f5a24;padding:8px 12px;border-radius:8px}
</style></head><body><main><h1>${esc(title)}</h1>${body}</main></body></html>`;
}

/** Starts the demo app; resolves once it listens. */
export async function startDemo(opts: DemoOptions): Promise<{ server: Server; url: string; close: () => Promise<void> }> {
  const keymaster = opts.keymasterUrl.replace(/\/$/, '');
  const jwks = createRemoteJWKSet(new URL(`${keymaster}/.well-known/jwks.json`));
  const sessions = new Map<string, DemoSession>();
  let base = '';

  const sessionOf = (req: IncomingMessage, res: ServerResponse): DemoSession => {
    const id = /(?:^|;\s*)demo_sid=([0-9a-f]{32})/.exec(req.headers.cookie ?? '')?.[1];
    const found = id && sessions.get(id);
    if (found) return found;
    const fresh = randomBytes(16).toString('hex');
    const s: DemoSession = {};
    sessions.set(fresh, s);
    res.setHeader('Set-Cookie', `demo_sid=${fresh}; HttpOnly; SameSite=Lax; Path=/`);
    return s;
  };

  const send = (res: ServerResponse, status: number, html: string) => {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(html);
  };
  const redirect = (res: ServerResponse, to: string) => res.writeHead(303, { location: to }).end();

  const verify = async (s: DemoSession, accessToken: string) => {
    const { payload } = await jwtVerify(accessToken, jwks, { issuer: keymaster, audience: opts.appId, algorithms: ['RS256'] });
    s.accessToken = accessToken;
    s.claims = payload;
  };

  const home = (s: DemoSession) => {
    const note = s.message ? `<p class="note" role="status">${esc(s.message)}</p>` : '';
    s.message = undefined;
    if (!s.claims) {
      return page(
        'Keymaster demo app',
        `${note}<p>This app signs you in through Keymaster at <code>${esc(keymaster)}</code> (app <code>${esc(opts.appId)}</code>).</p>
<a class="button" href="/signin">Sign in with Keymaster</a>`,
      );
    }
    const exp = typeof s.claims.exp === 'number' ? new Date(s.claims.exp * 1000).toISOString() : '';
    return page(
      `Signed in as ${[s.claims.name, s.claims.email, s.claims.sub].find((v) => typeof v === 'string') ?? 'you'}`,
      `${note}<p>The access token's signature was verified with jose against Keymaster's JWKS (RS256, issuer and audience checked). It expires at ${esc(exp)}.</p>
<h2>Claims</h2><pre>${esc(JSON.stringify(s.claims, null, 2))}</pre>
<form method="post" action="/refresh"><button type="submit">Refresh tokens</button></form>
<form method="post" action="/signout"><button class="secondary" type="submit">Sign out</button></form>`,
    );
  };

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', base);
      const s = sessionOf(req, res);
      if (req.method === 'GET' && url.pathname === '/') return send(res, 200, home(s));
      if (req.method === 'GET' && url.pathname === '/signin') {
        s.state = randomBytes(16).toString('hex');
        const to = new URL(`${keymaster}/login`);
        to.searchParams.set('app_id', opts.appId);
        to.searchParams.set('redirect_uri', `${base}/auth/callback`);
        to.searchParams.set('state', s.state);
        return redirect(res, to.toString());
      }
      if (req.method === 'GET' && url.pathname === '/auth/callback') {
        const state = url.searchParams.get('state');
        const accessToken = url.searchParams.get('access_token');
        const refreshToken = url.searchParams.get('refresh_token');
        if (!s.state || state !== s.state || !accessToken || !refreshToken) {
          return send(
            res,
            400,
            page(
              'Sign-in failed',
              '<p>The callback did not match the sign-in this browser started.</p><a class="button" href="/">Start again</a>',
            ),
          );
        }
        s.state = undefined;
        s.refreshToken = refreshToken;
        await verify(s, accessToken);
        s.message = 'Signed in.';
        return redirect(res, '/');
      }
      if (req.method === 'POST' && url.pathname === '/refresh' && s.refreshToken) {
        const r = await fetch(`${keymaster}/token/refresh`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ refresh_token: s.refreshToken, app_id: opts.appId }),
        });
        const body = (await r.json()) as { access_token?: string; refresh_token?: string; error?: string };
        if (r.ok && body.access_token && body.refresh_token) {
          s.refreshToken = body.refresh_token;
          await verify(s, body.access_token);
          s.message = 'Refreshed: a new access token, and the refresh token was rotated.';
        } else {
          Object.assign(s, { claims: undefined, accessToken: undefined, refreshToken: undefined });
          s.message = `Refresh refused (${r.status} ${body.error ?? ''}): sign in again.`;
        }
        return redirect(res, '/');
      }
      if (req.method === 'POST' && url.pathname === '/signout') {
        if (s.refreshToken) {
          await fetch(`${keymaster}/token/revoke`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ refresh_token: s.refreshToken }),
          });
        }
        Object.assign(s, { claims: undefined, accessToken: undefined, refreshToken: undefined, message: 'Signed out.' });
        const to = new URL(`${keymaster}/sso/logout`);
        to.searchParams.set('app_id', opts.appId);
        to.searchParams.set('post_logout_redirect_uri', `${base}/`);
        return redirect(res, to.toString());
      }
      if (req.method === 'POST') return redirect(res, '/');
      return send(res, 404, page('Not found', '<a class="button" href="/">Home</a>'));
    })().catch((err: unknown) => {
      if (!res.headersSent)
        send(res, 502, page('Something went wrong', `<p>${esc((err as Error).message)}</p><a class="button" href="/">Home</a>`));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 8080, opts.host ?? '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  base = `http://localhost:${port}`;
  return { server, url: base, close: () => new Promise((r) => server.close(() => r())) };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const appId = process.argv[2] ?? process.env.DEMO_APP_ID;
  if (!appId) {
    console.error(
      'usage: DEMO_APP_ID=<app_id> npm run demo   (or npm run demo -- <app_id>)\n' +
        'Register the demo app first (README, "Quick start"): redirect URI http://localhost:8080/auth/callback, logout URI http://localhost:8080/',
    );
    process.exit(2);
  }
  const keymasterUrl = process.env.KEYMASTER_URL ?? 'http://localhost:3000';
  const demo = await startDemo({
    appId,
    keymasterUrl,
    port: Number(process.env.DEMO_PORT ?? 8080),
    host: process.env.DEMO_HOST ?? '127.0.0.1',
  });
  console.log(`Keymaster demo app on ${demo.url} (signing in through ${keymasterUrl})`);
}
