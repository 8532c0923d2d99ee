// keymaster users create|list|update|unlock
import type { Command } from 'commander';
import { adminUpdateUser, unlockUser } from '../../domain/accounts/accounts.js';
import { createUser, findUserByEmailOrId, listUsers, parseRoles, type User } from '../../domain/users/users.js';
import type { Deps } from '../../deps.js';
import { appError } from '../../errors.js';
import { CLI, cliEnv, print, table, withDeps } from '../context.js';

export function userJson(u: User) {
  return {
    id: u.id,
    email: u.email,
    name: u.name,
    roles: u.roles,
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
    .option('--roles <list>', 'comma-separated roles, e.g. user,admin', parseRoles)
    .option('--verified', 'mark the email as verified (required to sign in)')
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      // An empty KEYMASTER_PASSWORD counts as unset: the error names both ways of giving one.
      const password: string | undefined = o.password ?? (cliEnv('KEYMASTER_PASSWORD') || undefined);
      if (password === undefined) throw appError('usage', { message: 'give --password or set KEYMASTER_PASSWORD' });
      await withDeps(async (deps) => {
        const user = await createUser(
          deps,
          { email: o.email, password, name: o.name, roles: o.roles ?? [], verified: Boolean(o.verified) },
          CLI,
        );
        print(
          o.json,
          userJson(user),
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
          all.map(userJson),
          table(
            all.map((u) => ({
              id: u.id,
              email: u.email,
              name: u.name,
              roles: u.roles,
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
    .option('--roles <list>', 'comma-separated roles (replaces the current ones)', parseRoles)
    .option('--verified', 'mark the email as verified')
    .option('--unverified', 'mark the email as not verified')
    .option('--disable', 'disable the account (ends its sessions and refresh tokens)')
    .option('--enable', 'enable a disabled account')
    .option('--json', 'machine-readable output')
    .action(async (ref: string, o) => {
      if (o.verified && o.unverified) throw appError('usage', { message: '--verified and --unverified cannot be combined' });
      if (o.disable && o.enable) throw appError('usage', { message: '--disable and --enable cannot be combined' });
      const input = {
        name: o.name as string | undefined,
        roles: o.roles as string[] | undefined,
        verified: o.verified ? true : o.unverified ? false : undefined,
        disabled: o.disable ? true : o.enable ? false : undefined,
      };
      if (Object.values(input).every((v) => v === undefined))
        throw appError('usage', { message: 'nothing to update: give --name, --roles, --verified, --unverified, --disable or --enable' });
      if (input.name !== undefined && !input.name.trim()) throw appError('usage', { message: '--name must not be empty' });
      await withDeps(async (deps) => {
        const user = await adminUpdateUser(deps, (await resolveUser(deps, ref)).id, input, CLI);
        print(o.json, userJson(user), `updated user ${user.id} <${user.email}>`);
      });
    });

  users
    .command('unlock <user>')
    .description('clear the lockout (and failed sign-in count) of a user, by email or id')
    .option('--json', 'machine-readable output')
    .action(async (ref: string, o) => {
      await withDeps(async (deps) => {
        const user = await unlockUser(deps, (await resolveUser(deps, ref)).id);
        print(o.json, userJson(user), `unlocked user ${user.id} <${user.email}>`);
      });
    });
}
