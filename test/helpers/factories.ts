// Test data through the real domain functions. Every call makes fresh, unique rows.
import { randomBytes } from 'node:crypto';
import type { Deps } from '../../src/deps.js';
import { createApp, type App, type AppInput } from '../../src/domain/apps/apps.js';
import { createUser, type User, type UserInput } from '../../src/domain/users/users.js';

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

export async function makeUser(
  deps: Pick<Deps, 'db' | 'clock'>,
  input: Partial<UserInput> = {},
): Promise<{ user: User; password: string }> {
  const password = input.password ?? DEFAULT_PASSWORD;
  const user = await createUser(deps, {
    email: `user-${uniq()}@example.com`,
    name: 'Test User',
    roles: ['user'],
    verified: true,
    ...input,
    password,
  });
  return { user, password };
}
