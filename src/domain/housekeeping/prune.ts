// Housekeeping: deletes what no longer serves a purpose (expired or revoked tokens and sessions, old
// rate-limit windows, spent codes and flows, sent e-mails), in bounded batches.
// Safe with any number of processes running it at once: batches lock with SKIP LOCKED, so two runs
// split the work instead of repeating it. Adding a table is one entry in PRUNE_TARGETS.
import { performance } from 'node:perf_hooks';
import { sql, type RawBuilder } from 'kysely';
import type { Deps } from '../../deps.js';
import { DAY } from '../../lib/clock.js';
import { LIVENESS_LOOKBACK_MS } from '../tokens/liveness.js';
import * as store from './housekeeping-store.js';

interface PruneContext {
  now: Date;
  /** Expired/revoked rows older than this are deleted (now − KEYMASTER_PRUNE_RETENTION_DAYS). */
  cutoff: Date;
  /**
   * A revoked family or session, or a replayed code, is what access-token liveness reads
   * (domain/tokens/liveness.ts): kept while a token it refuses could still be unexpired, whatever
   * the retention (the earlier of cutoff and now − LIVENESS_LOOKBACK_MS).
   */
  endedCutoff: Date;
}

export interface PruneTarget {
  /** Label in logs and results, e.g. "refresh_tokens". */
  name: string;
  table: string;
  where: (c: PruneContext) => RawBuilder<unknown>;
}

/** Rate-limit windows are at most 15 minutes; a day-old window is certainly over. */
const RATE_LIMIT_KEEP_MS = DAY;

export const PRUNE_TARGETS: PruneTarget[] = [
  {
    name: 'refresh_tokens',
    table: 'refresh_tokens',
    where: ({ cutoff, endedCutoff }) =>
      sql`(expires_at < ${cutoff} or revoked_at < ${cutoff}) and (revoked_at is null or revoked_at < ${endedCutoff})`,
  },
  {
    name: 'sessions',
    table: 'sessions',
    where: ({ cutoff, endedCutoff }) =>
      sql`(expires_at < ${cutoff} or revoked_at < ${cutoff}) and (revoked_at is null or revoked_at < ${endedCutoff})`,
  },
  {
    name: 'rate_limits',
    table: 'rate_limits',
    where: ({ now }) => sql`window_start < ${new Date(now.getTime() - RATE_LIMIT_KEEP_MS)}`,
  },
  // Codes are kept for the retention period after expiry so that a late replay is still recognised.
  {
    name: 'authorization_codes',
    table: 'authorization_codes',
    where: ({ cutoff, endedCutoff }) => sql`expires_at < ${cutoff} and (replayed_at is null or replayed_at < ${endedCutoff})`,
  },
  // RFC 8628 device authorization requests: ten minutes to live, then only the retention period.
  { name: 'device_codes', table: 'device_codes', where: ({ cutoff }) => sql`expires_at < ${cutoff}` },
  { name: 'upstream_flows', table: 'upstream_flows', where: ({ cutoff }) => sql`expires_at < ${cutoff}` },
  { name: 'email_tokens', table: 'email_tokens', where: ({ cutoff }) => sql`expires_at < ${cutoff}` },
  // A jti is remembered only while its assertion could be accepted; a pushed request lives 60 s.
  { name: 'client_assertion_jtis', table: 'client_assertion_jtis', where: ({ now }) => sql`expires_at < ${now}` },
  { name: 'pushed_authorization_requests', table: 'pushed_authorization_requests', where: ({ now }) => sql`expires_at < ${now}` },
  // Delivered (or given-up) messages; pending ones stay until the outbox worker settles them.
  {
    name: 'email_outbox',
    table: 'email_outbox',
    where: ({ cutoff }) => sql`status <> 'pending' and coalesce(sent_at, created_at) < ${cutoff}`,
  },
];

export interface PruneResult {
  name: string;
  affected: number;
  batches: number;
  /** Slowest single batch, in milliseconds (each batch is its own short transaction). */
  maxBatchMs: number;
  totalMs: number;
}

/**
 * Runs every target until a batch comes back short (or `maxBatches` per target, so one run stays
 * bounded). Each batch is its own statement: no long transaction, no long-held locks.
 */
export async function pruneExpired(
  deps: Pick<Deps, 'db' | 'clock' | 'config'>,
  opts: { batchSize?: number; maxBatches?: number; targets?: PruneTarget[] } = {},
): Promise<PruneResult[]> {
  const batchSize = opts.batchSize ?? deps.config.pruneBatchSize;
  const maxBatches = opts.maxBatches ?? 1000;
  const now = deps.clock.now();
  const cutoff = new Date(now.getTime() - deps.config.pruneRetentionDays * DAY);
  const endedCutoff = new Date(Math.min(cutoff.getTime(), now.getTime() - LIVENESS_LOOKBACK_MS));
  const ctx: PruneContext = { now, cutoff, endedCutoff };
  const results: PruneResult[] = [];
  for (const target of opts.targets ?? PRUNE_TARGETS) {
    const where = target.where(ctx);
    const result: PruneResult = { name: target.name, affected: 0, batches: 0, maxBatchMs: 0, totalMs: 0 };
    for (;;) {
      const t0 = performance.now();
      const n = await store.deleteBatch(deps.db, target.table, where, batchSize);
      const ms = performance.now() - t0;
      result.batches += 1;
      result.affected += n;
      result.totalMs += ms;
      result.maxBatchMs = Math.max(result.maxBatchMs, ms);
      if (n < batchSize || result.batches >= maxBatches) break;
    }
    result.maxBatchMs = Math.round(result.maxBatchMs * 10) / 10;
    result.totalMs = Math.round(result.totalMs * 10) / 10;
    results.push(result);
  }
  return results;
}

export interface TableStat {
  table: string;
  rows: number;
  bytes: number;
}

/** `keymaster stats`: exact row count and on-disk size (table + indexes + TOAST) of every table. */
export async function collectTableStats(deps: Pick<Deps, 'db'>): Promise<TableStat[]> {
  const out: TableStat[] = [];
  for (const table of await store.listTables(deps.db)) out.push({ table, ...(await store.tableStats(deps.db, table)) });
  return out;
}
