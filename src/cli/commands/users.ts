// keymaster users create|list|update|unlock
import type { Command } from 'commander';
import { adminUpdateUser, unlockUser } from '../../domain/accounts/accounts.js';
import { createUser, findUserByEmailOrId, listUsers, parseRoles, type User } from '../../domain/users/users.js';
import type { Deps } from '../../deps.js';
import { appError } from '../../errors.js';
import { checkAppRoles, getAppAccess, setMembershipRoles } from '../../domain/memberships/memberships.js';
import { CLI, cliEnv, print, table, withDeps } from '../context.js';

/** `roles`: the user's roles in the app named with --app (per-app memberships, issue 14). */
export function userJson(u: User, app?: { appId: string; roles: string[] }) {
  return {
    id: u.id,
    email: u.email,
    name: u.name,
    ...(app && { app_id: app.appId, roles: app.roles }),
    // The global roles of before issue 14: shown for an admin to assign per app, never in a token.
    legacy_roles: u.legacyRoles,
    email_verified: u.emailVerified,
    disabled: u.disabled,
    locked_until: u.lockedUntil?.toISOString() ?? null,
    created_at: u.createdAt.toISOString(),
    last_login_at: u.lastLoginAt?.toISOString() ?? null,
  };
}

async function resolveUser(deps: Deps, ref: string): Promise<User> {
  const user = await findUserByEmailOrId(deps, ref);
  if (!user) throw appError('user_ref_not_found', { ref });
  return user;
}

export function registerUserCommands(program: Command): void {
  const users = program.command('users').description('manage users');

  users
    .command('create')
    .description('create a user')
    .requiredOption('--email <email>')
    .option('--password <password>', 'initial password; without it, the KEYMASTER_PASSWORD variable (keeps it out of shell history)')
    .option('--name <name>')
    .option(
      '--roles <list>',
      "comma-separated roles in the app named with --app, e.g. user,admin (one of the app's available roles)",
      parseRoles,
    )
    .option('--app <id>', 'the app the roles are for (roles are per app)')
    .option('--verified', 'mark the email as verified (required to sign in)')
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      // An empty KEYMASTER_PASSWORD counts as unset: the error names both ways of giving one.
      const password: string | undefined = o.password ?? (cliEnv('KEYMASTER_PASSWORD') || undefined);
      if (password === undefined) throw appError('usage', { message: 'give --password or set KEYMASTER_PASSWORD' });
      if (o.roles !== undefined && o.app === undefined) throw appError('usage', { message: '--roles needs --app: roles are per app' });
      await withDeps(async (deps) => {
        // The app's roles are checked before the user is created: a refused role creates nobody.
        if (o.app !== undefined) checkAppRoles(await getAppAccess(deps, o.app as string), o.roles ?? []);
        const user = await createUser(deps, { email: o.email, password, name: o.name, verified: Boolean(o.verified) }, CLI);
        const membership =
          o.app !== undefined
            ? await setMembershipRoles(deps, { userId: user.id, appId: o.app as string, roles: o.roles ?? [] }, CLI)
            : undefined;
        print(
          o.json,
          userJson(user, membership),
          `created user ${user.id} <${user.email}>${user.emailVerified ? '' : ' (email not verified: it cannot sign in until verified)'}`,
        );
      });
    });

  users
    .command('list')
    .description('list users')
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      await withDeps(async (deps) => {
        const all = await listUsers(deps);
        print(
          o.json,
          all.map((u) => userJson(u)),
          table(
            all.map((u) => ({
              id: u.id,
              email: u.email,
              name: u.name,
              legacy_roles: u.legacyRoles,
              verified: u.emailVerified,
              locked: u.lockedUntil ? 'yes' : '',
            })),
          ),
        );
      });
    });

  users
    .command('update <user>')
    .description('change a user (by email or id): name, roles, email verification, disabled')
    .option('--name <name>')
    .option('--roles <list>', 'comma-separated roles in the app named with --app (replaces its current ones)', parseRoles)
    .option('--app <id>', 'the app the roles are for (roles are per app)')
    .option('--verified', 'mark the email as verified')
    .option('--unverified', 'mark the email as not verified')
    .option('--disable', 'disable the account (ends its sessions and refresh tokens)')
    .option('--enable', 'enable a disabled account')
    .option('--json', 'machine-readable output')
    .action(async (ref: string, o) => {
      if (o.verified && o.unverified) throw appError('usage', { message: '--verified and --unverified cannot be combined' });
      if (o.disable && o.enable) throw appError('usage', { message: '--disable and --enable cannot be combined' });
      if (o.roles !== undefined && o.app === undefined) throw appError('usage', { message: '--roles needs --app: roles are per app' });
      const roles = o.roles as string[] | undefined;
      const input = {
        name: o.name as string | undefined,
        verified: o.verified ? true : o.unverified ? false : undefined,
        disabled: o.disable ? true : o.enable ? false : undefined,
      };
      if (roles === undefined && Object.values(input).every((v) => v === undefined))
        throw appError('usage', { message: 'nothing to update: give --name, --roles, --verified, --unverified, --disable or --enable' });
      if (input.name !== undefined && !input.name.trim()) throw appError('usage', { message: '--name must not be empty' });
      await withDeps(async (deps) => {
        const found = await resolveUser(deps, ref);
        const membership =
          roles !== undefined ? await setMembershipRoles(deps, { userId: found.id, appId: o.app as string, roles }, CLI) : undefined;
        const user = Object.values(input).some((v) => v !== undefined) ? await adminUpdateUser(deps, found.id, input, CLI) : found;
        print(o.json, userJson(user, membership), `updated user ${user.id} <${user.email}>`);
      });
    });

  users
    .command('unlock <user>')
    .description('clear the lockout (and failed sign-in count) of a user, by email or id')
    .option('--json', 'machine-readable output')
    .action(async (ref: string, o) => {
      await withDeps(async (deps) => {
        const user = await unlockUser(deps, (await resolveUser(deps, ref)).id, CLI);
        print(o.json, userJson(user), `unlocked user ${user.id} <${user.email}>`);
      });
    });
}
