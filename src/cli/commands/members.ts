// keymaster members list|roles|suspend|activate|approve|remove, invites create|list|revoke — per-app
// memberships and invites (issue 14). Users are named by email or id; --app is the app's id.
import type { Command } from 'commander';
import type { Deps } from '../../deps.js';
import { appError } from '../../errors.js';
import { createInvite, listInvites, revokeInvite, type Invite } from '../../domain/invites/invites.js';
import {
  approveMembership,
  listMembersOfApp,
  removeMembership,
  setMembershipRoles,
  setMembershipStatus,
  type Membership,
} from '../../domain/memberships/memberships.js';
import { findUserByEmailOrId, parseRoles, type User } from '../../domain/users/users.js';
import { CLI, parseLimit, print, table, withDeps } from '../context.js';

export function membershipJson(m: Membership) {
  return {
    user_id: m.userId,
    app_id: m.appId,
    roles: m.roles,
    status: m.status,
    enrolled_at: m.enrolledAt.toISOString(),
    last_login_at: m.lastLoginAt?.toISOString() ?? null,
    status_changed_at: m.statusChangedAt?.toISOString() ?? null,
  };
}

export function inviteJson(i: Invite) {
  return {
    id: i.id,
    app_id: i.appId,
    email: i.email,
    roles: i.roles,
    status: i.status,
    created_at: i.createdAt.toISOString(),
    expires_at: i.expiresAt.toISOString(),
    accepted_at: i.acceptedAt?.toISOString() ?? null,
    revoked_at: i.revokedAt?.toISOString() ?? null,
  };
}

async function resolveUser(deps: Deps, ref: string): Promise<User> {
  const user = await findUserByEmailOrId(deps, ref);
  if (!user) throw appError('user_ref_not_found', { ref });
  return user;
}

function parseHours(v: string): number {
  if (!/^\d+$/.test(v)) throw appError('usage', { message: '--hours must be a whole number of hours' });
  return Number(v);
}

const STATUSES = ['active', 'suspended', 'pending'] as const;

export function registerMemberCommands(program: Command): void {
  const members = program.command('members').description("manage an app's members: their roles and status in that app");

  members
    .command('list')
    .description("list an app's members, newest first")
    .requiredOption('--app <id>', 'the app')
    .option('--status <status>', 'only active, suspended or pending members')
    .option('--limit <n>', 'at most this many (default 100)', parseLimit)
    .option('--cursor <cursor>', 'the next_cursor of a previous page')
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      if (o.status !== undefined && !(STATUSES as readonly string[]).includes(o.status as string)) {
        throw appError('usage', { message: '--status must be active, suspended or pending' });
      }
      await withDeps(async (deps) => {
        const page = await listMembersOfApp(deps, o.app as string, {
          limit: Math.min(Math.max((o.limit as number | undefined) ?? 100, 1), 200),
          cursor: o.cursor as string | undefined,
          status: o.status as (typeof STATUSES)[number] | undefined,
        });
        print(
          o.json,
          { items: page.items.map(membershipJson), next_cursor: page.nextCursor },
          table(
            page.items.map((m) => ({
              user_id: m.userId,
              status: m.status,
              roles: m.roles,
              enrolled_at: m.enrolledAt,
              last_login_at: m.lastLoginAt,
            })),
          ) + (page.nextCursor ? `\nmore: --cursor ${page.nextCursor}` : ''),
        );
      });
    });

  members
    .command('roles <user>')
    .description("set a user's roles in an app (enrols them, active, if they are not a member)")
    .requiredOption('--app <id>', 'the app')
    .requiredOption('--set <list>', "comma-separated roles, each one of the app's available roles (empty: none)", (v: string) =>
      v.trim() === '' ? [] : parseRoles(v),
    )
    .option('--json', 'machine-readable output')
    .action(async (ref: string, o) => {
      await withDeps(async (deps) => {
        const user = await resolveUser(deps, ref);
        const m = await setMembershipRoles(deps, { userId: user.id, appId: o.app as string, roles: o.set as string[] }, CLI);
        print(o.json, membershipJson(m), `${user.email} in ${m.appId}: ${m.roles.join(',') || '(no roles)'}`);
      });
    });

  for (const [name, description] of [
    ['suspend', 'suspend a member in this app only: sign-in and refresh refused, live access tokens inactive'],
    ['activate', 'lift a suspension'],
  ] as const) {
    members
      .command(`${name} <user>`)
      .description(description)
      .requiredOption('--app <id>', 'the app')
      .option('--json', 'machine-readable output')
      .action(async (ref: string, o) => {
        await withDeps(async (deps) => {
          const user = await resolveUser(deps, ref);
          const status = name === 'suspend' ? 'suspended' : 'active';
          const m = await setMembershipStatus(deps, { userId: user.id, appId: o.app as string, status }, CLI);
          print(o.json, membershipJson(m), `${user.email} in ${m.appId}: ${m.status}`);
        });
      });
  }

  members
    .command('approve <user>')
    .description('let in a member waiting for approval (pending → active)')
    .requiredOption('--app <id>', 'the app')
    .option('--json', 'machine-readable output')
    .action(async (ref: string, o) => {
      await withDeps(async (deps) => {
        const user = await resolveUser(deps, ref);
        const m = await approveMembership(deps, { userId: user.id, appId: o.app as string }, CLI);
        print(o.json, membershipJson(m), `${user.email} in ${m.appId}: ${m.status}`);
      });
    });

  members
    .command('remove <user>')
    .description("remove a user from an app: the membership and that app's refresh tokens end")
    .requiredOption('--app <id>', 'the app')
    .option('--json', 'machine-readable output')
    .action(async (ref: string, o) => {
      await withDeps(async (deps) => {
        const user = await resolveUser(deps, ref);
        await removeMembership(deps, { userId: user.id, appId: o.app as string }, CLI);
        print(o.json, { user_id: user.id, app_id: o.app as string, removed: true }, `removed ${user.email} from ${o.app as string}`);
      });
    });

  const invites = program.command('invites').description('invite people to an app by email');

  invites
    .command('create')
    .description('invite an email address to an app; emails the link and prints the code once')
    .requiredOption('--app <id>', 'the app')
    .requiredOption('--email <email>', 'who is invited (only this address can accept)')
    .option('--roles <list>', "comma-separated roles granted on accepting (the app's available roles)", parseRoles)
    .option('--hours <n>', 'how long the invite is valid (default 72, at most 720)', parseHours)
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      await withDeps(async (deps) => {
        const { invite, code } = await createInvite(
          deps,
          {
            appId: o.app as string,
            email: o.email as string,
            roles: (o.roles as string[] | undefined) ?? [],
            ...(o.hours !== undefined && { expiresInHours: o.hours as number }),
          },
          CLI,
        );
        print(
          o.json,
          { ...inviteJson(invite), code },
          `invited ${invite.email} (invite ${invite.id}, expires ${invite.expiresAt.toISOString()})\ncode: ${code}`,
        );
      });
    });

  invites
    .command('list')
    .description("list an app's invites, newest first")
    .requiredOption('--app <id>', 'the app')
    .option('--limit <n>', 'at most this many (default 100)', parseLimit)
    .option('--cursor <cursor>', 'the next_cursor of a previous page')
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      await withDeps(async (deps) => {
        const page = await listInvites(deps, o.app as string, {
          limit: Math.min(Math.max((o.limit as number | undefined) ?? 100, 1), 200),
          cursor: o.cursor as string | undefined,
        });
        print(
          o.json,
          { items: page.items.map(inviteJson), next_cursor: page.nextCursor },
          table(page.items.map((i) => ({ id: i.id, email: i.email, roles: i.roles, status: i.status, expires_at: i.expiresAt }))) +
            (page.nextCursor ? `\nmore: --cursor ${page.nextCursor}` : ''),
        );
      });
    });

  invites
    .command('revoke <id>')
    .description('revoke an invite not yet accepted')
    .requiredOption('--app <id>', 'the app')
    .option('--json', 'machine-readable output')
    .action(async (id: string, o) => {
      await withDeps(async (deps) => {
        const invite = await revokeInvite(deps, { appId: o.app as string, inviteId: id }, CLI);
        print(o.json, inviteJson(invite), `invite ${invite.id}: ${invite.status}`);
      });
    });
}
