// Drives the Console as a browser would, through app.inject: GET /console → the hosted /authorize →
// POST /login → /console/callback, keeping the cookies (the Console's are Path=/console; inject sends
// whatever the jar holds). Shared by test/http/console-*.test.ts.
import type { LightMyRequestResponse } from 'fastify';
import type { TestContext } from '../helpers/app.js';
import { cookieHeader, csrfTokenOf, FORM } from '../helpers/http.js';
import { hiddenFieldsOf } from '../helpers/oidc.js';

export class Jar {
  readonly cookies: Record<string, string> = {};
  store(res: LightMyRequestResponse): LightMyRequestResponse {
    for (const c of res.cookies as { name: string; value: string; maxAge?: number; expires?: Date }[]) {
      const expired =
        c.value === '' || c.maxAge === 0 || (c.expires !== undefined && c.expires.getTime() < Date.now() - 1000 * 86400 * 365);
      if (expired) delete this.cookies[c.name];
      else this.cookies[c.name] = c.value;
    }
    return res;
  }
  header(): string {
    return cookieHeader(this.cookies);
  }
}

export interface ConsoleBrowser {
  jar: Jar;
  get(url: string): Promise<LightMyRequestResponse>;
  /** Posts a form with the CSRF token of `page` (a Console page that holds a form). */
  post(url: string, fields: Record<string, string>, page?: LightMyRequestResponse): Promise<LightMyRequestResponse>;
}

export function consoleBrowser(ctx: TestContext, jar = new Jar()): ConsoleBrowser {
  return {
    jar,
    get: async (url) => jar.store(await ctx.app.inject({ url, headers: { cookie: jar.header() } })),
    post: async (url, fields, page) => {
      const csrf = page ? csrfTokenOf(page.body) : undefined;
      return jar.store(
        await ctx.app.inject({
          method: 'POST',
          url,
          headers: { ...FORM, cookie: jar.header() },
          payload: new URLSearchParams({ ...(csrf && { _csrf: csrf }), ...fields }).toString(),
        }),
      );
    },
  };
}

/** The hosted sign-in a GET /console starts; returns the callback response (303 to the Console when it worked). */
export async function consoleSignIn(
  ctx: TestContext,
  user: { email: string; password: string },
  start = '/console',
  browser = consoleBrowser(ctx),
): Promise<{ browser: ConsoleBrowser; callback: LightMyRequestResponse; authorizeUrl: URL }> {
  const first = await browser.get(start);
  if (first.statusCode !== 302) throw new Error(`GET ${start}: ${first.statusCode}`);
  const authorizeUrl = new URL(first.headers.location as string, ctx.baseUrl);
  const page = await browser.get(authorizeUrl.pathname + authorizeUrl.search);
  let location: string;
  if (page.statusCode === 303) {
    location = page.headers.location as string;
  } else {
    if (page.statusCode !== 200) throw new Error(`authorize: ${page.statusCode} ${page.body.slice(0, 200)}`);
    const fields = { ...hiddenFieldsOf(page.body), _csrf: csrfTokenOf(page.body), email: user.email, password: user.password };
    const res = browser.jar.store(
      await ctx.app.inject({
        method: 'POST',
        url: '/login',
        headers: { ...FORM, cookie: browser.jar.header() },
        payload: new URLSearchParams(fields).toString(),
      }),
    );
    // A refusal (no admin tier) is the hosted error page, whose way back is the Console's callback.
    const back = /href="([^"]*\/console\/callback\?[^"]*)"/.exec(res.body)?.[1]?.replaceAll('&amp;', '&');
    if (res.statusCode === 403 && back) location = back;
    else if (res.statusCode !== 303) throw new Error(`login: ${res.statusCode} ${res.body.slice(0, 300)}`);
    else location = res.headers.location as string;
  }
  const cb = new URL(location, ctx.baseUrl);
  const callback = await browser.get(cb.pathname + cb.search);
  return { browser, callback, authorizeUrl };
}
