/**
 * Coalesces small writes issued in the same event-loop turn into one
 * transaction. On SQLite each autocommit costs a WAL commit (about 40 µs
 * here), and a password login touches several counters and writes a
 * security event: one commit for all of them instead of one each (and, under
 * load, one for several logins at once). Each piece of work still sees its
 * own result; if the transaction fails, every piece of it fails.
 *
 * Not on PostgreSQL: there a transaction holds its row locks until commit,
 * so batches of unrelated logins would wait on (and deadlock with) each
 * other, and a write committed in one batch could become visible before an
 * earlier write still pending in another, breaking the order the counters
 * rely on (a failure counted before its in-flight mark is given back).
 */
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../schema.js';

type Work = (trx: Kysely<Database>) => Promise<unknown>;

interface Pending {
  work: Work;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
}

export class WriteBatcher {
  private pending: Pending[] = [];
  private scheduled = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly batching: boolean,
  ) {}

  run<T>(work: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
    if (!this.batching) return work(this.db);
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // After the current turn's microtasks, so work issued together (Promise.all) lands in one batch.
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    this.scheduled = false;
    const [only] = batch;
    if (batch.length === 1 && only !== undefined) {
      only.work(this.db).then(only.resolve, only.reject);
      return;
    }
    try {
      const results = await this.db.transaction().execute(async (trx: Transaction<Database>) => {
        const out: unknown[] = [];
        for (const item of batch) out.push(await item.work(trx));
        return out;
      });
      for (const [i, item] of batch.entries()) item.resolve(results[i]);
    } catch (err) {
      for (const item of batch) item.reject(err);
    }
  }
}

const batchers = new WeakMap<Kysely<Database>, WriteBatcher>();
const unbatched = new WeakSet<Kysely<Database>>();

/** Called by openDatabase for PostgreSQL: every write is its own statement, committed in the order it was issued. */
export function disableWriteBatching(db: Kysely<Database>): void {
  unbatched.add(db);
}

/** One batcher per database, shared by every store that opts in. */
export function writeBatcherFor(db: Kysely<Database>): WriteBatcher {
  let batcher = batchers.get(db);
  if (!batcher) {
    batcher = new WriteBatcher(db, !unbatched.has(db));
    batchers.set(db, batcher);
  }
  return batcher;
}
