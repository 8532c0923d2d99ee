// keymaster keys list|rotate
import type { Command } from 'commander';
import { advanceKeyLifecycle, listSigningKeys, rotateSigningKey, type SigningKeyInfo } from '../../domain/keys/keys.js';
import { CLI, print, table, withDeps } from '../context.js';

const iso = (d: Date | null) => d?.toISOString() ?? null;

function keyJson(k: SigningKeyInfo) {
  return {
    kid: k.kid,
    state: k.state,
    created_at: iso(k.createdAt),
    activate_at: iso(k.activateAt),
    activated_at: iso(k.activatedAt),
    retire_at: iso(k.retireAt),
    retired_at: iso(k.retiredAt),
  };
}

export function registerKeyCommands(program: Command): void {
  const keys = program.command('keys').description('signing keys: next → active → previous → retired');

  keys
    .command('list')
    .description('list published signing keys (--all includes retired ones)')
    .option('--all', 'include retired keys')
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      await withDeps(async (deps) => {
        // Apply whatever is due first, so the listing is the current truth.
        await advanceKeyLifecycle(deps);
        const all = await listSigningKeys(deps, { all: Boolean(o.all) });
        print(o.json, all.map(keyJson), table(all.map(keyJson)));
      });
    });

  keys
    .command('rotate')
    .description('publish a new key now; it starts signing after one JWKS cache period')
    .option('--immediate', 'sign with the new key at once (compromised key); cached JWKS may reject new tokens until they refresh')
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      await withDeps(async (deps) => {
        const { kid, activateAt } = await rotateSigningKey(deps, { immediate: Boolean(o.immediate) }, CLI);
        const active = activateAt.getTime() <= deps.clock.now().getTime();
        print(
          o.json,
          { kid, state: active ? 'active' : 'next', activate_at: activateAt.toISOString() },
          active
            ? `key ${kid} is now active (servers pick it up within KEYMASTER_KEY_POLL_SECONDS)`
            : `key ${kid} published as next; it signs from ${activateAt.toISOString()}`,
        );
      });
    });
}
