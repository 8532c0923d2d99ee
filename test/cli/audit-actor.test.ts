// Every CLI command that changes state writes an audit event naming who acted and through what, as
// the Admin API does for its admins (src/domain/admin/authorization.ts: actor, actor_id, source):
// actor "cli", actor_id the operating-system account that ran it, source "cli".
import { userInfo } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliDatabase, runCliInProcess, type CliDatabase } from '../helpers/cli.js';

let world: CliDatabase;
const cli = (...args: string[]) => runCliInProcess(world.env, args);
const CLI_ACTOR = { actor: 'cli', actor_id: userInfo().username, source: 'cli' };

beforeAll(async () => {
  world = await createCliDatabase({ extra: { LOG_LEVEL: 'error' } });
});
afterAll(() => world.close());

/** The newest audit events named `event`, as `keymaster audit list` prints them. */
async function events(event: string): Promise<{ event: string; data: Record<string, unknown> }[]> {
  const res = await cli('audit', 'list', '--event', event, '--json');
  expect(res.code, res.stderr).toBe(0);
  return res.json();
}

describe('CLI changes are audited with the acting operator', { timeout: 120_000 }, () => {
  it('keys rotate records signing_key.rotated', async () => {
    const rotated = await cli('keys', 'rotate', '--json');
    expect(rotated.code, rotated.stderr).toBe(0);
    const { kid } = rotated.json<{ kid: string }>();
    expect(await events('signing_key.rotated')).toEqual([
      expect.objectContaining({ data: expect.objectContaining({ kid, immediate: false, ...CLI_ACTOR }) }),
    ]);
  });

  it('webhooks ping records webhook.pinged; add and remove carry the same actor', async () => {
    const app = (await cli('apps', 'create', '--name', 'Hooked', '--redirect-uri', 'https://hooked.example/cb', '--json')).json<{
      app_id: string;
    }>();
    const hook = (
      await cli('webhooks', 'add', '--app', app.app_id, '--url', 'https://hooks.example.com/k', '--events', 'user.login', '--json')
    ).json<{ id: string }>();
    const ping = await cli('webhooks', 'ping', hook.id, '--json');
    expect(ping.code, ping.stderr).toBe(0);
    const { delivery_id } = ping.json<{ delivery_id: string }>();
    expect(await events('webhook.pinged')).toEqual([
      expect.objectContaining({ data: { webhookId: hook.id, deliveryId: delivery_id, ...CLI_ACTOR } }),
    ]);
    expect((await cli('webhooks', 'remove', hook.id)).code).toBe(0);
    for (const name of ['app.created', 'webhook.created', 'webhook.deleted']) {
      const [latest] = await events(name);
      expect(latest?.data, name).toMatchObject(CLI_ACTOR);
    }
  });

  it('users unlock records user.unlocked with the actor', async () => {
    const made = await cli('users', 'create', '--email', 'locked@example.com', '--password', 'Sup3r-secret!', '--json');
    expect(made.code, made.stderr).toBe(0);
    expect((await cli('users', 'unlock', 'locked@example.com')).code).toBe(0);
    expect(await events('user.unlocked')).toEqual([expect.objectContaining({ data: CLI_ACTOR })]);
  });

  it('prune records housekeeping.pruned with the rows it deleted per table', async () => {
    const res = await cli('prune', '--json');
    expect(res.code, res.stderr).toBe(0);
    const [ev] = await events('housekeeping.pruned');
    expect(ev?.data).toMatchObject({ ...CLI_ACTOR, affected: expect.any(Object) });
    const pruned = res.json<{ name: string; affected: number }[]>();
    expect(ev!.data.affected).toEqual(Object.fromEntries(pruned.map((r) => [r.name, r.affected])));
  });
});
