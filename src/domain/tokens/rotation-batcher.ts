// Group commit for refresh rotations: the rotations asked for in one turn of the event loop go to
// Postgres as ONE statement (one round trip, one transaction, one WAL flush) instead of one each.
// Under load, every turn reads many requests from their sockets before it ends; each would otherwise
// cost a pool checkout, a round trip and a commit of its own, in this process and in Postgres.
//
// Nothing about the decision moves into this process: each presented token is still spent by its own
// conditional UPDATE inside the statement, and a token that is not live gets no row and goes on to
// the classifying transaction (reuse grace, replay, revoked...) as before. A token presented twice in
// one turn goes out again once the statement with its first presentation is done, so the second is
// classified after the first commits, as if it had come later. If a batch fails (a deadlock between
// two processes' batches holding the same two tokens, say), each of its rotations runs alone, so one
// cannot fail another (a batch of one is not retried).
import type { Db } from '../../storage/db.js';
import {
  rotateInOneStatement,
  rotateManyInOneStatement,
  type Rotated,
  type RotationSpend,
  type RotationSuccessor,
} from './refresh-token-store.js';

/** At most this many rotations per statement (its jsonb input stays small; a turn with more runs several). */
export const MAX_ROTATION_BATCH = 64;

interface Pending {
  spend: RotationSpend;
  successor: RotationSuccessor;
  resolve(r: Rotated | undefined): void;
  reject(err: unknown): void;
}

export class RotationBatcher {
  #queue: Pending[] = [];
  #scheduled = false;

  constructor(private readonly db: Db) {}

  /** Spends a live token and inserts its successor (rotateInOneStatement), together with this turn's others. */
  rotate(spend: RotationSpend, successor: RotationSuccessor): Promise<Rotated | undefined> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ spend, successor, resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    // After the poll phase: every request read from a socket in this turn has queued its rotation.
    setImmediate(() => this.#flush());
  }

  #flush(): void {
    this.#scheduled = false;
    const queue = this.#queue;
    this.#queue = [];
    const hashes = new Set<string>();
    const later: Pending[] = [];
    const runs: Promise<void>[] = [];
    let batch: Pending[] = [];
    for (const p of queue) {
      if (hashes.has(p.spend.tokenHash)) {
        later.push(p);
        continue;
      }
      hashes.add(p.spend.tokenHash);
      batch.push(p);
      if (batch.length === MAX_ROTATION_BATCH) {
        runs.push(this.#run(batch));
        batch = [];
      }
    }
    if (batch.length) runs.push(this.#run(batch));
    // A token presented again in this turn goes out once its first presentation's statement is done
    // (#run never rejects), so the second is decided after the first commits.
    if (later.length) {
      void Promise.all(runs).then(() => {
        this.#queue.push(...later);
        this.#schedule();
      });
    }
  }

  async #run(batch: Pending[]): Promise<void> {
    if (batch.length === 1) return this.#runAlone(batch[0]!);
    let rotated: Map<string, Rotated>;
    try {
      rotated = await rotateManyInOneStatement(this.db, batch);
    } catch {
      await Promise.all(batch.map((p) => this.#runAlone(p)));
      return;
    }
    for (const p of batch) p.resolve(rotated.get(p.successor.jti));
  }

  async #runAlone(p: Pending): Promise<void> {
    try {
      p.resolve(await rotateInOneStatement(this.db, p.spend, p.successor));
    } catch (err) {
      p.reject(err);
    }
  }
}
