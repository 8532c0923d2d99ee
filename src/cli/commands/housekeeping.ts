// keymaster stats | keymaster prune
import { InvalidArgumentError, type Command } from 'commander';
import { recordAuditEvent } from '../../domain/audit/audit.js';
import { collectTableStats, pruneExpired } from '../../domain/housekeeping/prune.js';
import { CLI, print, table, withDeps } from '../context.js';

const size = (b: number) => (b >= 1 << 20 ? `${(b / (1 << 20)).toFixed(1)} MiB` : `${(b / 1024).toFixed(0)} KiB`);

export function registerHousekeepingCommands(program: Command): void {
  program
    .command('stats')
    .description('row count and on-disk size (with indexes) of every table')
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      await withDeps(async (deps) => {
        const stats = await collectTableStats(deps);
        print(o.json, stats, table(stats.map((s) => ({ table: s.table, rows: s.rows, size: size(s.bytes) }))));
      });
    });

  program
    .command('prune')
    .description('delete expired and long-revoked rows now, in batches (the server also does this on a schedule)')
    .option('--batch-size <n>', 'rows per batch (default KEYMASTER_PRUNE_BATCH_SIZE)', (v) => {
      if (!/^\d+$/.test(v) || Number(v) < 1) throw new InvalidArgumentError('must be a positive integer');
      return Number(v);
    })
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      await withDeps(async (deps) => {
        const results = await pruneExpired(deps, { batchSize: o.batchSize });
        // A prune by hand is an operator's act (the server's scheduled prunes are not audited).
        const affected = Object.fromEntries(results.map((r) => [r.name, r.affected]));
        await recordAuditEvent(deps, { event: 'housekeeping.pruned', data: { affected } }, CLI);
        print(
          o.json,
          results,
          table(
            results.map((r) => ({ target: r.name, rows: r.affected, batches: r.batches, max_batch_ms: r.maxBatchMs, total_ms: r.totalMs })),
          ),
        );
      });
    });
}
