// Test data through the real domain functions. Every call makes fresh, unique rows.
import { randomBytes } from 'node:crypto';
import type { Deps } from '../../src/deps.js';
import { createApp, type App, type AppInput } from '../../src/domain/apps/apps.js';
import { createUser, type AppUser, type User, type UserInput } from '../../src/domain/users/users.js';
import { sql } from 'kysely';

const uniq = () => randomBytes(5).toString('hex');

export const DEFAULT_REDIRECT = 'https://app.example.com/callback';
export const DEFAULT_LOGOUT = 'https://app.example.com/signed-out';
export const DEFAULT_PASSWORD = 'Correct-Horse-9!';

export async function makeApp(
  deps: Pick<Deps, 'db' | 'clock'>,
  input: Partial<AppInput> = {},
): Promise<{ app: App; clientSecret: string }> {
  return createApp(deps, {
    name: `Test App ${uniq()}`,
    redirectUris: [DEFAULT_REDIRECT],
    postLogoutRedirectUris: [DEFAULT_LOGOUT],
    primaryColor: '#123456',
    ...input,
  });
}

/** `memberOf`: also enrol the user in that app with those roles (roles are per app: member below). */
export async function makeUser(
  deps: Pick<Deps, 'db' | 'clock'>,
  input: Partial<UserInput> & { memberOf?: { app: Pick<App, 'appId'>; roles: string[] } } = {},
): Promise<{ user: User; password: string }> {
  const { memberOf, ...rest } = input;
  const password = rest.password ?? DEFAULT_PASSWORD;
  const user = await createUser(deps, {
    email: `user-${uniq()}@example.com`,
    name: 'Test User',
    verified: true,
    ...rest,
    password,
  });
  if (memberOf) await member(deps, user, memberOf.app, memberOf.roles);
  return { user, password };
}

/**
 * Enrols `user` in `app` (active) with `roles` — roles are per app (memberships, issue 14) — and
 * makes the roles available in the app. Returns the user as the app sees them, for issueTokens.
 * Written directly (no audit event, no webhook): test setup, not an admin's change.
 */
export async function member(deps: Pick<Deps, 'db'>, user: User, app: Pick<App, 'appId'>, roles: string[] = []): Promise<AppUser> {
  if (roles.length > 0) {
    await deps.db
      .updateTable('apps')
      .set({ available_roles: sql<string[]>`array(select distinct r from unnest(available_roles || ${sql.val(roles)}::text[]) as r)` })
      .where('app_id', '=', app.appId)
      .execute();
  }
  await deps.db
    .insertInto('memberships')
    .values({ user_id: user.id, app_id: app.appId, roles, status: 'active' })
    .onConflict((oc) => oc.columns(['user_id', 'app_id']).doUpdateSet({ roles, status: 'active' }))
    .execute();
  return { ...user, roles };
}
