// One browser over app.inject: keeps its cookies (and forgets cleared ones), follows links and posts
// forms as a user does, with the page's hidden fields and CSRF token.
import type { LightMyRequestResponse } from 'fastify';
import type { TestContext } from './app.js';
import { cookieHeader, csrfTokenOf, form, FORM } from './http.js';
import { hiddenFieldsOf } from './oidc.js';

export class Visitor {
  cookies: Record<string, string> = {};
  constructor(private readonly ctx: TestContext) {}

  private keep(res: LightMyRequestResponse) {
    for (const c of res.cookies as { name: string; value: string; maxAge?: number; expires?: Date }[]) {
      const cleared = c.value === '' || c.maxAge === 0 || (c.expires !== undefined && c.expires.getTime() <= Date.now());
      if (cleared) delete this.cookies[c.name];
      else this.cookies[c.name] = c.value;
    }
    return res;
  }

  async get(url: string): Promise<LightMyRequestResponse> {
    return this.keep(await this.ctx.app.inject({ url, headers: { cookie: cookieHeader(this.cookies) } }));
  }

  /** Posts `action` with the page's hidden fields and CSRF token (the first form's), and `fields`. */
  async submit(page: LightMyRequestResponse, action: string, fields: Record<string, string> = {}): Promise<LightMyRequestResponse> {
    return this.post(action, { ...hiddenFieldsOf(page.body), _csrf: csrfTokenOf(page.body), ...fields });
  }

  async post(action: string, fields: Record<string, string | undefined>): Promise<LightMyRequestResponse> {
    return this.keep(
      await this.ctx.app.inject({
        method: 'POST',
        url: action,
        headers: { ...FORM, cookie: cookieHeader(this.cookies) },
        payload: form(fields),
      }),
    );
  }
}

/** The path and query of a redirect to this server. */
export const localPath = (res: LightMyRequestResponse): string => {
  const u = new URL(res.headers.location as string, 'http://localhost');
  return u.pathname + u.search;
};
