// Shared by the security suites: row counts of every table, and a browser-like sign-in through the form.
import { sql } from 'kysely';
import type { Db } from '../../src/storage/db.js';
import type { TestContext } from './app.js';
import { DEFAULT_REDIRECT } from './factories.js';
import { cookieHeader, cookiesOf, csrfTokenOf, form, FORM } from './http.js';

/** Rows in every table of the public schema (migrations bookkeeping included), by table name. */
export async function countAllRows(db: Db): Promise<Record<string, number>> {
  const tables = await sql<{ table_name: string }>`
    select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' order by table_name`.execute(
    db,
  );
  const out: Record<string, number> = {};
  for (const { table_name } of tables.rows) {
    const r = await sql<{ n: string | number }>`select count(*) as n from ${sql.table(table_name)}`.execute(db);
    out[table_name] = Number(r.rows[0]!.n);
  }
  return out;
}

export function withoutTables(counts: Record<string, number>, ...tables: string[]): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).filter(([t]) => !tables.includes(t)));
}

/** GET /login: the page, its CSRF token and the cookies it set. */
export async function openLoginPage(ctx: TestContext, appId: string, extra = '', cookies: Record<string, string> = {}) {
  const res = await ctx.app.inject({
    url: `/login?app_id=${encodeURIComponent(appId)}&redirect_uri=${encodeURIComponent(DEFAULT_REDIRECT)}${extra}`,
    headers: Object.keys(cookies).length ? { cookie: cookieHeader(cookies) } : {},
  });
  return { res, csrf: res.statusCode === 200 ? csrfTokenOf(res.body) : '', cookies: { ...cookies, ...cookiesOf(res) } };
}

/** Opens the page and posts the form as a same-origin browser would; returns the POST response. */
export async function signInThroughForm(
  ctx: TestContext,
  appId: string,
  email: string,
  password: string,
  opts: { headers?: Record<string, string>; cookies?: Record<string, string>; state?: string } = {},
) {
  const page = await openLoginPage(ctx, appId);
  // opts.cookies go with the POST only (a live km_sso on the GET would skip the form).
  const post = await ctx.app.inject({
    method: 'POST',
    url: '/login',
    headers: { ...FORM, cookie: cookieHeader({ ...page.cookies, ...opts.cookies }), ...opts.headers },
    payload: form({ _csrf: page.csrf, app_id: appId, redirect_uri: DEFAULT_REDIRECT, state: opts.state, email, password }),
  });
  const location = typeof post.headers.location === 'string' ? new URL(post.headers.location) : undefined;
  return {
    page,
    post,
    cookies: { ...page.cookies, ...opts.cookies, ...cookiesOf(post) },
    accessToken: location?.searchParams.get('access_token') ?? undefined,
    refreshToken: location?.searchParams.get('refresh_token') ?? undefined,
  };
}
