// Drives the hosted sign-in over real HTTP (fetch), as a browser would: follow /authorize to the
// login page, post the form with its CSRF token and cookies, and return the redirect to the client.
import { csrfTokenOf } from './http.js';

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
    out[m[1]!] = m[2]!.replaceAll('&amp;', '&').replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&lt;', '<').replaceAll('&gt;', '>');
  }
  return out;
}

export async function get(url: string | URL, jar: CookieJar): Promise<Response> {
  const res = await fetch(url, { redirect: 'manual', headers: { cookie: jar.header() } });
  jar.store(res);
  return res;
}

/** Opens an authorization URL; if the sign-in page shows, signs in. Returns the final redirect URL. */
export async function signIn(authorizationUrl: URL, email: string, password: string, jar = new CookieJar()): Promise<{ callback: URL; jar: CookieJar }> {
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
