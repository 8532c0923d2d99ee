// The Postgres pool (pg) behind Kysely, made to survive the database going away: a restart, a failover,
// a pg_terminate_backend sweep, a hung server. Invariants:
//  - No database error of any kind becomes an unhandled 'error' event. pg-pool listens on IDLE clients
//    only; a checked-out client whose backend dies between statements (a FATAL 57P01, a socket end
//    with no query active) would otherwise crash the process. Every client here has a permanent
//    listener; the broken client then fails its next statement and the pool drops it on release
//    (pg-pool removes a client that is no longer queryable), so connections are replaced on demand.
//  - Every failure that means "not now" reaches the caller as a DatabaseUnavailableError with a reason
//    (storage/unavailable.ts), classified here where the driver's state is known.
//  - Timeouts everywhere: opening a connection, waiting for a busy pool's free connection, a
//    statement (server side, plus a client-side watchdog for a server that stops answering at all),
//    idle in transaction.
import type { Logger } from 'pino';
import pg from 'pg';
import { preparedName } from './prepared.js';
import { classifyDatabaseError, DatabaseUnavailableError, type UnavailableReason } from './unavailable.js';

export interface PostgresTimeouts {
  /** Opening a connection (TCP, TLS, authentication). */
  connectMs: number;
  /** Waiting for a free connection when every pooled one is busy. */
  acquireMs: number;
  /** Server-side statement_timeout; 0 = none (and no client-side watchdog). */
  statementMs: number;
  /** Server-side idle_in_transaction_session_timeout; 0 = none. */
  idleInTransactionMs: number;
}

export const DEFAULT_TIMEOUTS: PostgresTimeouts = { connectMs: 5000, acquireMs: 3000, statementMs: 10_000, idleInTransactionMs: 10_000 };

export interface PostgresOptions {
  max?: number;
  /** The texts registered with prepared() run as named statements (storage/prepared.ts). */
  preparedStatements?: boolean;
  timeouts?: Partial<PostgresTimeouts>;
  /**
   * Sent as startup parameters (statement_timeout, idle_in_transaction_session_timeout). Off for a
   * pooler that refuses unknown startup parameters (PgBouncer): set them on the role there instead.
   */
  sessionSettings?: boolean;
  log?: Pick<Logger, 'warn'>;
}

export type DatabaseProbe = { ok: true; latencyMs: number } | { ok: false; reason: UnavailableReason; detail: string };

export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
  max: number;
}

/** What Kysely's PostgresDialect needs from a pool. */
export interface ResilientPool {
  connect(): Promise<pg.PoolClient>;
  end(): Promise<void>;
  readonly stats: () => PoolStats;
  readonly probe: (timeoutMs: number) => Promise<DatabaseProbe>;
}

// pg keeps these on the client without typing them; pg-pool reads them the same way.
interface ClientState {
  _queryable?: boolean;
  _ending?: boolean;
  _ended?: boolean;
  connection?: { stream?: { destroy(): void } };
}

/** How much longer than statement_timeout a statement may go without any answer before its connection is cut. */
const WATCHDOG_GRACE_MS = 2000;

export function createResilientPool(connectionString: string, opts: PostgresOptions = {}): ResilientPool {
  const max = opts.max ?? 10;
  const t = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
  const log = opts.log;
  const Client = clientClass(opts.preparedStatements ?? true, t, opts.sessionSettings ?? true, log);
  const pool = new pg.Pool({ connectionString, max, connectionTimeoutMillis: t.connectMs, Client: Client.ctor });
  // An idle client's error is handled by the pool (it drops the client) and already logged by the
  // client's own listener; the pool re-emits it here, where it must not be unhandled.
  pool.on('error', () => {});

  const fail = (err: unknown, fallback: UnavailableReason) => classifyDatabaseError(err) ?? new DatabaseUnavailableError(fallback, err);
  const stats = (): PoolStats => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, max });

  const connect = (): Promise<pg.PoolClient> => {
    const full = pool.idleCount === 0 && pool.totalCount >= max;
    const pending = pool.connect();
    if (!full) return pending.catch((err: unknown) => Promise.reject(fail(err, 'unreachable')));
    // Every connection is busy: wait at most acquireMs for one to come back (a saturated pool answers
    // 503 + Retry-After instead of queueing requests without bound).
    return new Promise((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        reject(
          new DatabaseUnavailableError('saturated', new Error(`no free database connection within ${t.acquireMs} ms (pool of ${max})`)),
        );
      }, t.acquireMs);
      pending.then(
        (client) => {
          if (settled) return client.release();
          settled = true;
          clearTimeout(timer);
          resolve(client);
        },
        (err: unknown) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          reject(fail(err, 'saturated'));
        },
      );
    });
  };

  // Not ready, and why: a statement unanswered for the whole probe timeout means the server is slow
  // (or hung), whatever else is true. A full pool with requests waiting is saturated only while
  // connections still succeed: when the database goes away under load, the pool fills with clients
  // that are trying to connect, and the newest connection attempt having failed says unreachable.
  const notReady = (timeoutMs: number): DatabaseProbe | undefined => {
    const age = Client.oldestStatementMs();
    if (age >= timeoutMs) return { ok: false, reason: 'slow', detail: `a statement has had no answer for ${age} ms` };
    const failing = Client.connectFailing();
    if (failing) return { ok: false, reason: 'unreachable', detail: `the last connection attempt failed: ${failing}` };
    const s = stats();
    if (s.waiting > 0 && s.idle === 0 && s.total >= max)
      return { ok: false, reason: 'saturated', detail: `all ${max} connections busy, ${s.waiting} waiting` };
    return undefined;
  };

  const probe = async (timeoutMs: number): Promise<DatabaseProbe> => {
    const early = notReady(timeoutMs);
    if (early) return early;
    const started = performance.now();
    let connected = false;
    const attempt = (async () => {
      const client = await connect();
      connected = true;
      try {
        await client.query('select 1');
      } finally {
        client.release();
      }
    })();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
    const outcome = await Promise.race([
      attempt.then(
        () => 'ok' as const,
        (err: unknown) => err,
      ),
      deadline,
    ]);
    clearTimeout(timer);
    if (outcome === 'ok') return { ok: true, latencyMs: Math.round(performance.now() - started) };
    attempt.catch(() => {}); // settles later (the watchdog or a timeout); nobody waits for it
    if (outcome === 'timeout') {
      if (connected) return { ok: false, reason: 'slow', detail: `select 1 not answered within ${timeoutMs} ms` };
      return notReady(timeoutMs) ?? { ok: false, reason: 'unreachable', detail: `no connection within ${timeoutMs} ms` };
    }
    const e = fail(outcome, 'unreachable');
    return { ok: false, reason: e.reason, detail: e.message };
  };

  return {
    connect,
    stats,
    probe,
    end: async () => {
      Client.stop();
      await pool.end();
    },
  };
}

/**
 * The pg Client class of one pool: a permanent error listener, startup settings (timeouts), named
 * prepared statements for registered texts, errors classified, and a watchdog that cuts a connection
 * whose statement has had no answer for statement_timeout + a grace (a hung server never sends the
 * statement_timeout error).
 */
function clientClass(prepare: boolean, t: PostgresTimeouts, sessionSettings: boolean, log: Pick<Logger, 'warn'> | undefined) {
  const busy = new Map<pg.Client, number>(); // client → when its current statement was sent
  const watchdogMs = t.statementMs > 0 ? t.statementMs + WATCHDOG_GRACE_MS : 0;
  const timedOut = new WeakSet<pg.Client>();
  // The error a connection died with (a FATAL from the server arrives as an 'error' event when no
  // statement is active): it, not the driver's "not queryable", says why the next statement failed.
  const lostWith = new WeakMap<pg.Client, unknown>();
  // Why the newest connection attempt to settle failed; undefined once one succeeds. A failure not yet
  // followed by a success means the server cannot be reached now (the readiness probe's "unreachable").
  let connectFailure: string | undefined;
  const sweep = watchdogMs
    ? setInterval(
        () => {
          const now = Date.now();
          for (const [client, since] of busy) {
            if (now - since < watchdogMs) continue;
            busy.delete(client);
            timedOut.add(client);
            log?.warn({ event: 'db.statement_unanswered', afterMs: now - since }, 'database did not answer: connection closed');
            (client as unknown as ClientState).connection?.stream?.destroy();
          }
        },
        Math.min(1000, watchdogMs),
      )
    : undefined;
  sweep?.unref();

  // Called below with .call(this, …), so `this` is the client.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const plainQuery = pg.Client.prototype.query as (this: pg.Client, ...args: unknown[]) => Promise<pg.QueryResult>;

  class KeymasterClient extends pg.Client {
    constructor(config: pg.ClientConfig = {}) {
      super({
        ...config,
        application_name: 'keymaster',
        keepAlive: true,
        ...(sessionSettings && t.statementMs > 0 && { statement_timeout: t.statementMs }),
        ...(sessionSettings && t.idleInTransactionMs > 0 && { idle_in_transaction_session_timeout: t.idleInTransactionMs }),
      });
      this.on('error', (err: Error & { code?: string }) => {
        if (lostWith.has(this)) return;
        lostWith.set(this, err);
        log?.warn({ event: 'db.connection_lost', code: err.code, detail: err.message }, 'database connection lost; it will be replaced');
      });
    }
  }

  // pg-pool connects with a callback; a direct caller may take the promise. Both record the outcome.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const plainConnect = pg.Client.prototype.connect as (this: pg.Client, cb?: (err?: Error) => void) => Promise<void> | undefined;
  const recordConnect = (err: unknown) => {
    connectFailure = err ? (err instanceof Error && err.message) || 'connection failed' : undefined;
  };
  KeymasterClient.prototype.connect = function connect(this: pg.Client, callback?: (err?: Error) => void) {
    if (callback) {
      return plainConnect.call(this, (err?: Error) => {
        recordConnect(err);
        callback(err);
      });
    }
    return plainConnect.call(this)!.then(
      () => recordConnect(undefined),
      (err: unknown) => {
        recordConnect(err);
        throw err;
      },
    );
  } as typeof pg.Client.prototype.connect;

  KeymasterClient.prototype.query = function query(this: pg.Client, text: unknown, values?: unknown, callback?: unknown) {
    // Kysely always calls query(text, values) and takes the promise; anything else passes through.
    if (typeof text !== 'string' || typeof values === 'function' || callback !== undefined) {
      return plainQuery.call(this, text, values, callback);
    }
    const name = prepare && Array.isArray(values) ? preparedName(text) : undefined;
    const result = name ? plainQuery.call(this, { name, text, values }) : plainQuery.call(this, text, values);
    if (watchdogMs) busy.set(this, Date.now());
    return result.then(
      (r) => {
        busy.delete(this);
        return r;
      },
      (err: unknown) => {
        busy.delete(this);
        if (timedOut.has(this)) throw new DatabaseUnavailableError('slow', err);
        const s = this as unknown as ClientState;
        const lost = s._queryable === false || s._ending === true || s._ended === true;
        throw (lost && classifyDatabaseError(lostWith.get(this))) || classifyDatabaseError(err, lost) || err;
      },
    );
  } as typeof pg.Client.prototype.query;

  return {
    ctor: KeymasterClient,
    /** How long the oldest statement in flight has waited for its answer (0 when none). */
    oldestStatementMs: () => {
      let oldest = Infinity;
      for (const since of busy.values()) oldest = Math.min(oldest, since);
      return oldest === Infinity ? 0 : Date.now() - oldest;
    },
    /** Why the newest connection attempt failed, while no attempt has succeeded since; else undefined. */
    connectFailing: (): string | undefined => connectFailure,
    stop: () => {
      if (sweep) clearInterval(sweep);
      busy.clear();
    },
  };
}
