// Serialization failures (40001) and deadlocks (40P01) are Postgres asking for the work to be run
// again: the transaction was rolled back whole, so nothing of it committed. They are routine with
// default_transaction_isolation = serializable (or repeatable read), and a deadlock can happen at any
// level (two rotation batches holding the same two tokens). Every database handle on Postgres runs
// them again here, a bounded number of times, so the domain never sees one unless they persist:
//  - `db.transaction().execute(fn)` (the domain's transactions, STYLE.md §8) runs fn again from the
//    start. That is safe because a transaction's callback only talks to the database; side effects
//    (email, webhooks, log events) run after it commits.
//  - a statement outside a transaction (autocommit: one statement is its own transaction, such as the
//    rotation) is sent again.
// A statement inside a transaction is never retried alone: the transaction is aborted, so it is the
// transaction's to run again. When the attempts run out the last error goes up: storage/postgres.ts
// has made it a DatabaseUnavailableError('contention'), a 503 with Retry-After.
import {
  type CompiledQuery,
  Kysely,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type QueryResult,
  type TransactionBuilder,
  type TransactionSettings,
} from 'kysely';
import { DatabaseUnavailableError } from './unavailable.js';

/** Attempts per transaction or statement, the first included. */
export const MAX_ATTEMPTS = 5;

export function isRetryable(err: unknown): boolean {
  if (err instanceof DatabaseUnavailableError) return err.retryable;
  const code = (err as { code?: unknown } | undefined)?.code;
  return code === '40001' || code === '40P01';
}

/** Jittered exponential back-off: up to 10, 20, 40, 80 ms, so two conflicting retries do not meet again in step. */
const backoffMs = (attempt: number) => Math.random() * 5 * 2 ** attempt;

/** Runs `work` until it succeeds, fails with an error that is not a serialization failure or deadlock, or MAX_ATTEMPTS are spent. */
export async function withRetries<T>(work: (attempt: number) => Promise<T>, attempts = MAX_ATTEMPTS): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work(attempt);
    } catch (err) {
      if (attempt >= attempts || !isRetryable(err)) throw err;
      await new Promise((r) => setTimeout(r, backoffMs(attempt)));
    }
  }
}

/** Kysely whose transactions run again on a serialization failure or deadlock (see the header). */
export class RetryingKysely<DB> extends Kysely<DB> {
  override transaction(): TransactionBuilder<DB> {
    return retryingBuilder(super.transaction());
  }
}

function retryingBuilder<DB>(builder: TransactionBuilder<DB>): TransactionBuilder<DB> {
  // TransactionBuilder keeps its settings in a private field, so it is wrapped, not extended.
  const wrapped: Pick<TransactionBuilder<DB>, 'setAccessMode' | 'setIsolationLevel' | 'execute'> = {
    setAccessMode: (mode) => retryingBuilder(builder.setAccessMode(mode)),
    setIsolationLevel: (level) => retryingBuilder(builder.setIsolationLevel(level)),
    execute: (fn) => withRetries(() => builder.execute(fn)),
  };
  return wrapped as unknown as TransactionBuilder<DB>;
}

/** A dialect whose statements outside a transaction are sent again on a serialization failure or deadlock. */
export function retryingDialect(dialect: Dialect): Dialect {
  return {
    createAdapter: () => dialect.createAdapter(),
    createDriver: () => new RetryingDriver(dialect.createDriver()),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createIntrospector: (db) => dialect.createIntrospector(db),
  };
}

class RetryingConnection implements DatabaseConnection {
  inTransaction = false;
  constructor(readonly inner: DatabaseConnection) {}

  executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    if (this.inTransaction) return this.inner.executeQuery<R>(query);
    return withRetries(() => this.inner.executeQuery<R>(query));
  }

  streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    return this.inner.streamQuery<R>(query, chunkSize);
  }
}

class RetryingDriver implements Driver {
  constructor(private readonly inner: Driver) {}

  init(): Promise<void> {
    return this.inner.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    return new RetryingConnection(await this.inner.acquireConnection());
  }

  async beginTransaction(conn: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const c = conn as RetryingConnection;
    c.inTransaction = true;
    await this.inner.beginTransaction(c.inner, settings);
  }

  async commitTransaction(conn: DatabaseConnection): Promise<void> {
    const c = conn as RetryingConnection;
    try {
      await this.inner.commitTransaction(c.inner);
    } finally {
      c.inTransaction = false;
    }
  }

  async rollbackTransaction(conn: DatabaseConnection): Promise<void> {
    const c = conn as RetryingConnection;
    try {
      await this.inner.rollbackTransaction(c.inner);
    } finally {
      c.inTransaction = false;
    }
  }

  releaseConnection(conn: DatabaseConnection): Promise<void> {
    return this.inner.releaseConnection((conn as RetryingConnection).inner);
  }

  destroy(): Promise<void> {
    return this.inner.destroy();
  }
}
