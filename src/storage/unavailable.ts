// DatabaseUnavailableError: the database could not do its part of a request for a reason that is not
// the request's fault and will likely pass (connection lost or refused, server shutting down or
// restarting, pool full, statement timed out, serialization retries exhausted). The HTTP layer answers
// it with 503 temporarily_unavailable + Retry-After in the route's error shape; /readyz reports the
// reason. The storage layer classifies once, where the driver's context is known (storage/postgres.ts),
// so nothing above it inspects driver errors.

/**
 * unreachable: no connection could be made, or the one in use was lost (server restarted, backend
 *   terminated, network). slow: a statement or transaction ran past its timeout, or the server stopped
 *   answering. saturated: every pooled connection was busy for the whole acquisition timeout, or the
 *   server refused more connections. contention: serialization failures or deadlocks that bounded
 *   retries did not get past, or a lock timeout.
 */
export type UnavailableReason = 'unreachable' | 'slow' | 'saturated' | 'contention';

/** Seconds a client is asked to wait before it retries (Retry-After). */
const RETRY_AFTER: Record<UnavailableReason, number> = { unreachable: 5, slow: 5, saturated: 1, contention: 1 };

export class DatabaseUnavailableError extends Error {
  readonly reason: UnavailableReason;
  /** The SQLSTATE of the server's error, when the server sent one. */
  readonly sqlstate: string | undefined;

  constructor(reason: UnavailableReason, cause: unknown) {
    const message = cause instanceof Error ? cause.message : String(cause);
    super(`database ${reason}: ${message}`, { cause });
    this.name = 'DatabaseUnavailableError';
    this.reason = reason;
    const code = (cause as { code?: unknown } | undefined)?.code;
    this.sqlstate = typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
  }

  get retryAfterSeconds(): number {
    return RETRY_AFTER[this.reason];
  }

  /** A serialization failure or deadlock: the whole transaction may be run again (domain/transaction helper). */
  get retryable(): boolean {
    return this.sqlstate === '40001' || this.sqlstate === '40P01';
  }
}

// SQLSTATEs (PostgreSQL appendix A) that mean "not now" rather than "not this request".
const SQLSTATE_REASON: Record<string, UnavailableReason> = {
  '57P01': 'unreachable', // admin_shutdown (fast shutdown, pg_terminate_backend)
  '57P02': 'unreachable', // crash_shutdown
  '57P03': 'unreachable', // cannot_connect_now (starting up, in recovery)
  '57P05': 'unreachable', // idle_session_timeout
  '53300': 'saturated', // too_many_connections
  '57014': 'slow', // query_canceled (statement_timeout)
  '25P03': 'slow', // idle_in_transaction_session_timeout
  '55P03': 'contention', // lock_not_available (lock_timeout)
  '40001': 'contention', // serialization_failure
  '40P01': 'contention', // deadlock_detected
};

// Socket-level errors (libuv codes) of a connection that is gone or cannot be made.
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * The unavailability an error from the driver stands for, or undefined when it is an ordinary error
 * (a constraint violation, bad SQL: the request's or the code's fault). `connectionLost` says the
 * connection the statement ran on is no longer usable (the driver's own state, checked by the caller).
 */
export function classifyDatabaseError(err: unknown, connectionLost = false): DatabaseUnavailableError | undefined {
  if (err instanceof DatabaseUnavailableError) return err;
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string') {
    // Class 08: connection exception.
    if (code.startsWith('08')) return new DatabaseUnavailableError('unreachable', err);
    const reason = SQLSTATE_REASON[code];
    if (reason) return new DatabaseUnavailableError(reason, err);
    if (NETWORK_CODES.has(code)) return new DatabaseUnavailableError('unreachable', err);
  }
  return connectionLost ? new DatabaseUnavailableError('unreachable', err) : undefined;
}
