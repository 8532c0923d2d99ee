// keymaster webhooks add|list|remove|ping|deliveries — identity webhooks (KEYMASTER-API.md §6).
import type { Command } from 'commander';
import {
  addWebhook,
  deleteWebhook,
  listDeliveries,
  listWebhooks,
  pingWebhook,
  WEBHOOK_EVENTS,
  type Webhook,
} from '../../domain/webhooks/webhooks.js';
import { CLI, parseLimit, print, table, withDeps } from '../context.js';

const csv = (v: string) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

const webhookJson = (w: Webhook) => ({
  id: w.id,
  app_id: w.appId,
  url: w.url,
  events: w.events,
  disabled: w.disabled,
  created_at: w.createdAt.toISOString(),
});

export function registerWebhookCommands(program: Command): void {
  const webhooks = program.command('webhooks').description('identity webhooks: subscriptions and deliveries');

  webhooks
    .command('add')
    .description('subscribe a URL to events of an app; prints the signing secret once')
    .requiredOption('--app <app_id>')
    .requiredOption('--url <url>', 'http(s) endpoint that receives the POSTs')
    .requiredOption('--events <list>', `comma-separated: ${WEBHOOK_EVENTS.join(',')}`, csv)
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      await withDeps(async (deps) => {
        const { webhook, secret } = await addWebhook(deps, { appId: o.app, url: o.url, events: o.events }, CLI);
        print(
          o.json,
          { ...webhookJson(webhook), secret },
          `id:      ${webhook.id}\napp_id:  ${webhook.appId}\nurl:     ${webhook.url}\nevents:  ${webhook.events.join(',')}\nsecret:  ${secret}\n\nStore the secret now: it is shown only once. Verify X-Keymaster-Signature = sha256=HMAC-SHA256(secret, raw body).`,
        );
      });
    });

  webhooks
    .command('list')
    .description('list webhooks')
    .option('--app <app_id>', 'only this app')
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      await withDeps(async (deps) => {
        const all = await listWebhooks(deps, o.app);
        print(
          o.json,
          all.map(webhookJson),
          table(all.map((w) => ({ id: w.id, app_id: w.appId, url: w.url, events: w.events, created: w.createdAt }))),
        );
      });
    });

  webhooks
    .command('remove <id>')
    .description('delete a webhook and its queued deliveries')
    .option('--json', 'machine-readable output')
    .action(async (id: string, o) => {
      await withDeps(async (deps) => {
        await deleteWebhook(deps, id, CLI);
        print(o.json, { id, deleted: true }, `deleted ${id}`);
      });
    });

  webhooks
    .command('ping <id>')
    .description('queue a ping event to a webhook')
    .option('--json', 'machine-readable output')
    .action(async (id: string, o) => {
      await withDeps(async (deps) => {
        const deliveryId = await pingWebhook(deps, id, CLI);
        print(o.json, { delivery_id: deliveryId }, `queued ping ${deliveryId} (a running server delivers it)`);
      });
    });

  webhooks
    .command('deliveries')
    .description('list deliveries, newest first')
    .option('--app <app_id>', 'only this app')
    .option('--webhook <id>', 'only this webhook')
    .option('--status <status>', 'pending, delivered or failed')
    .option('--limit <n>', 'at most n rows (default 100)', parseLimit)
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      await withDeps(async (deps) => {
        const rows = await listDeliveries(deps, { appId: o.app, webhookId: o.webhook, status: o.status, limit: o.limit });
        const json = rows.map((d) => ({
          id: d.id,
          webhook_id: d.webhook_id,
          app_id: d.app_id,
          event: d.event,
          status: d.status,
          attempts: d.attempts,
          next_attempt_at: d.status === 'pending' ? d.next_attempt_at.toISOString() : null,
          last_status: d.last_status,
          last_error: d.last_error,
          created_at: d.created_at.toISOString(),
          delivered_at: d.delivered_at?.toISOString() ?? null,
        }));
        print(
          o.json,
          json,
          table(
            json.map((d) => ({
              id: d.id,
              event: d.event,
              status: d.status,
              attempts: d.attempts,
              last: d.last_status ?? d.last_error,
              created: d.created_at,
              next: d.next_attempt_at,
            })),
          ),
        );
      });
    });
}
