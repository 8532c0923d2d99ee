// Drives the hosted sign-in as a browser would, over real HTTP (fetch) or through app.inject: follow
// /authorize to the login page, post the form with its CSRF token and cookies, return the redirect.
import { createHash, randomBytes } from 'node:crypto';
import type { TestContext } from './app.js';
import { DEFAULT_REDIRECT } from './factories.js';
import { cookieHeader, cookiesOf, csrfTokenOf, FORM } from './http.js';

export class CookieJar {
  readonly cookies = new Map<string, string>();
  store(res: Response) {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair!.indexOf('=');
      const name = pair!.slice(0, i);
      const value = pair!.slice(i + 1);
      if (value === '' || /max-age=0|expires=thu, 01 jan 1970/i.test(c)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

export function hiddenFieldsOf(html: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    out[m[1]!] = m[2]!
      .replaceAll('&amp;', '&')
      .replaceAll('&quot;', '"')
      .replaceAll('&#39;', "'")
      .replaceAll('&lt;', '<')
      .replaceAll('&gt;', '>');
  }
  return out;
}

export async function get(url: string | URL, jar: CookieJar): Promise<Response> {
  const res = await fetch(url, { redirect: 'manual', headers: { cookie: jar.header() } });
  jar.store(res);
  return res;
}

/** Opens an authorization URL; if the sign-in page shows, signs in. Returns the final redirect URL. */
export async function signIn(
  authorizationUrl: URL,
  email: string,
  password: string,
  jar = new CookieJar(),
): Promise<{ callback: URL; jar: CookieJar }> {
  const page = await get(authorizationUrl, jar);
  if (page.status === 303) return { callback: new URL(page.headers.get('location')!), jar };
  const html = await page.text();
  if (page.status !== 200) throw new Error(`authorize answered ${page.status}: ${html.slice(0, 300)}`);
  const fields = { ...hiddenFieldsOf(html), _csrf: csrfTokenOf(html), email, password };
  const res = await fetch(new URL('/login', authorizationUrl), {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header() },
    body: new URLSearchParams(fields).toString(),
  });
  jar.store(res);
  if (res.status !== 303) throw new Error(`POST /login answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
  return { callback: new URL(res.headers.get('location')!), jar };
}

// ---- the same journey through app.inject (fixed clocks, no port) ----

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export function authorizeQuery(clientId: string, extra: Record<string, string | undefined> = {}): string {
  const p = new URLSearchParams();
  const all = {
    client_id: clientId,
    redirect_uri: DEFAULT_REDIRECT,
    response_type: 'code',
    scope: 'openid profile email offline_access',
    state: 'st-1',
    nonce: 'n-1',
    ...extra,
  };
  for (const [k, v] of Object.entries(all)) if (v !== undefined) p.set(k, v);
  return p.toString();
}

/** GET /authorize → sign in on the page → the code (and the cookies, for SSO). */
export async function obtainCode(
  ctx: TestContext,
  clientId: string,
  user: { email: string; password: string },
  extra: Record<string, string | undefined> = {},
): Promise<{ code: string; location: URL; cookies: Record<string, string> }> {
  const page = await ctx.app.inject({ url: `/authorize?${authorizeQuery(clientId, extra)}` });
  if (page.statusCode !== 200) throw new Error(`authorize: ${page.statusCode} ${page.headers.location ?? page.body.slice(0, 200)}`);
  const cookies = cookiesOf(page);
  const fields = { ...hiddenFieldsOf(page.body), _csrf: csrfTokenOf(page.body), email: user.email, password: user.password };
  const res = await ctx.app.inject({
    method: 'POST',
    url: '/login',
    headers: { ...FORM, cookie: cookieHeader(cookies) },
    payload: new URLSearchParams(fields).toString(),
  });
  if (res.statusCode !== 303) throw new Error(`login: ${res.statusCode} ${res.body.slice(0, 200)}`);
  const location = new URL(res.headers.location as string);
  return { code: location.searchParams.get('code')!, location, cookies: { ...cookies, ...cookiesOf(res) } };
}

export function basicAuth(clientId: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

export async function postForm(
  ctx: TestContext,
  url: string,
  body: Record<string, string | undefined>,
  headers: Record<string, string> = {},
  opts: { remoteAddress?: string } = {},
) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(body)) if (v !== undefined) p.set(k, v);
  return ctx.app.inject({ method: 'POST', url, headers: { ...FORM, ...headers }, payload: p.toString(), ...opts });
}
