// Signs a user in through the real hosted login (GET + POST /login) and returns what the app receives.
import type { TestContext } from './app.js';
import { DEFAULT_REDIRECT } from './factories.js';
import { cookieHeader, cookiesOf, csrfTokenOf, form, FORM } from './http.js';

export async function signIn(
  ctx: TestContext,
  appId: string,
  email: string,
  password: string,
  headers: Record<string, string> = {},
): Promise<{ accessToken: string; refreshToken: string; sso: string }> {
  const page = await ctx.app.inject({ url: `/login?app_id=${appId}&redirect_uri=${encodeURIComponent(DEFAULT_REDIRECT)}`, headers });
  const post = await ctx.app.inject({
    method: 'POST',
    url: '/login',
    headers: { ...FORM, ...headers, cookie: cookieHeader(cookiesOf(page)) },
    payload: form({ _csrf: csrfTokenOf(page.body), app_id: appId, redirect_uri: DEFAULT_REDIRECT, email, password }),
  });
  if (post.statusCode !== 303) throw new Error(`sign-in failed: ${post.statusCode}`);
  const loc = new URL(post.headers.location as string);
  return {
    accessToken: loc.searchParams.get('access_token')!,
    refreshToken: loc.searchParams.get('refresh_token')!,
    sso: cookiesOf(post).km_sso!,
  };
}
