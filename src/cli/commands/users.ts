// keymaster users create|list
import type { Command } from 'commander';
import { createUser, listUsers, parseRoles, type User } from '../../domain/users/users.js';
import { CLI, print, table, withDeps } from '../context.js';

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

export function registerUserCommands(program: Command): void {
  const users = program.command('users').description('manage users');

  users
    .command('create')
    .description('create a user')
    .requiredOption('--email <email>')
    .requiredOption('--password <password>', 'initial password (prefer KEYMASTER_PASSWORD env to keep it out of shell history)')
    .option('--name <name>')
    .option('--roles <list>', 'comma-separated roles, e.g. user,admin', parseRoles)
    .option('--verified', 'mark the email as verified (required to sign in)')
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      await withDeps(async (deps) => {
        const user = await createUser(deps, { email: o.email, password: o.password, name: o.name, roles: o.roles ?? [], verified: Boolean(o.verified) }, CLI);
        print(o.json, userJson(user), `created user ${user.id} <${user.email}>${user.emailVerified ? '' : ' (email not verified: it cannot sign in until verified)'}`);
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
          table(all.map((u) => ({ id: u.id, email: u.email, name: u.name, roles: u.roles, verified: u.emailVerified, locked: u.lockedUntil ? 'yes' : '' }))),
        );
      });
    });
}
