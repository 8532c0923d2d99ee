// keymaster admin create|grant|revoke|list, keymaster tenants create|list
import type { Command } from 'commander';
import { createPlatformAdmin } from '../../domain/admin/bootstrap.js';
import {
  ADMIN_TIERS,
  grantTierAsOperator,
  listAllAdminGrants,
  revokeGrantAsOperator,
  type ListedGrant,
} from '../../domain/admin/operator-grants.js';
import { createTenant, listTenantsPage, type Tenant } from '../../domain/tenants/tenants.js';
import { findUserByEmailOrId } from '../../domain/users/users.js';
import { appError } from '../../errors.js';
import { CLI, isRemote, print, readStdin, table, withDeps, writeErr } from '../context.js';
import { promptHidden } from '../prompt.js';

const grantJson = (g: ListedGrant) => ({
  id: g.id,
  user_id: g.userId,
  email: g.email,
  tier: g.tier,
  tenant_id: g.tenantId,
  app_id: g.appId,
  created_at: g.createdAt.toISOString(),
});
const tenantJson = (t: Tenant) => ({ id: t.id, name: t.name, created_at: t.createdAt.toISOString() });

/** `--password-stdin`: everything piped in, less one trailing newline (`echo pw | …`). */
const stdinPassword = async () => (await readStdin()).replace(/\r?\n$/, '');

/** Asked on a terminal only, twice, never echoed; undefined when there is no terminal to ask on. */
async function askPassword(): Promise<string | undefined> {
  if (isRemote() || !process.stdin.isTTY) return undefined;
  const first = await promptHidden('Password for the new administrator: ');
  const again = await promptHidden('Repeat the password: ');
  if (first !== again) throw appError('usage', { message: 'the two passwords differ' });
  return first;
}

export function registerAdminCommands(program: Command): void {
  const admin = program.command('admin').description('administrators: platform, tenant and app admins, managers');

  admin
    .command('create')
    .description('make a user (created with a verified email if needed) a platform admin')
    .requiredOption('--email <email>')
    .option('--name <name>', 'the name of a new user')
    .option('--password-stdin', 'read the new user’s password from stdin (else it is asked for on a terminal)')
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      await withDeps(async (deps) => {
        const r = await createPlatformAdmin(
          deps,
          { email: o.email, name: o.name, password: o.passwordStdin ? stdinPassword : askPassword },
          CLI,
        );
        print(
          o.json,
          { user_id: r.user.id, email: r.user.email, user_created: r.userCreated, grant_id: r.grantId, grant_created: r.grantCreated },
          [
            `${r.userCreated ? 'created user' : 'existing user'} ${r.user.id} <${r.user.email}>`,
            r.grantCreated ? `granted platform_admin (grant ${r.grantId})` : `already a platform_admin (grant ${r.grantId})`,
            `Sign in to the Console at ${deps.config.issuer}/console, or use the Admin API (${deps.config.issuer}/admin).`,
          ].join('\n'),
        );
      });
    });

  admin
    .command('grant <user>')
    .description('grant an admin tier to a user (email or id)')
    .requiredOption('--tier <tier>', ADMIN_TIERS.join(' | '))
    .option('--tenant <tenant_id>', 'for tenant_admin: the tenant')
    .option('--app <app_id>', 'for app_admin and manager: the app')
    .option('--json', 'machine-readable output')
    .action(async (ref: string, o) => {
      await withDeps(async (deps) => {
        const user = await findUserByEmailOrId(deps, ref);
        if (!user) throw appError('user_ref_not_found', { ref });
        const g = await grantTierAsOperator(deps, { userId: user.id, tier: o.tier, tenantId: o.tenant, appId: o.app }, CLI);
        const scope = o.tenant ? ` of tenant ${o.tenant}` : o.app ? ` of app ${o.app}` : '';
        print(
          o.json,
          { grant_id: g.grantId, created: g.created, user_id: user.id, tier: o.tier, tenant_id: o.tenant ?? null, app_id: o.app ?? null },
          `${g.created ? 'granted' : 'already holds'} ${o.tier}${scope} to ${user.email} (grant ${g.grantId})`,
        );
      });
    });

  admin
    .command('revoke <grant_id>')
    .description('revoke an admin grant (ids in `admin list`)')
    .option('--json', 'machine-readable output')
    .action(async (grantId: string, o) => {
      await withDeps(async (deps) => {
        await revokeGrantAsOperator(deps, grantId, CLI);
        print(o.json, { grant_id: grantId, revoked: true }, `revoked grant ${grantId}`);
      });
    });

  admin
    .command('list')
    .description('list admin grants')
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      await withDeps(async (deps) => {
        const grants = await listAllAdminGrants(deps);
        if (!o.json && grants.length === 0) writeErr('keymaster: no administrator yet: run `keymaster admin create --email <email>`\n');
        print(
          o.json,
          grants.map(grantJson),
          table(grants.map((g) => ({ id: g.id, email: g.email, tier: g.tier, tenant_id: g.tenantId, app_id: g.appId }))),
        );
      });
    });

  const tenants = program.command('tenants').description('tenants: organisations that own apps and have their own admins');

  tenants
    .command('create')
    .description('create a tenant')
    .requiredOption('--name <name>')
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      await withDeps(async (deps) => {
        const t = await createTenant(deps, { name: o.name }, CLI);
        print(o.json, tenantJson(t), `created tenant ${t.id} (${t.name})`);
      });
    });

  tenants
    .command('list')
    .description('list tenants')
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      await withDeps(async (deps) => {
        const { tenants: all } = await listTenantsPage(deps, { limit: 1000 });
        print(o.json, all.map(tenantJson), table(all.map((t) => ({ id: t.id, name: t.name, created_at: t.createdAt }))));
      });
    });
}
