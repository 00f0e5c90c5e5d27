/**
 * Compiled statements on SQLite skip Kysely's executor (storage/sql/compiled.ts,
 * issue #13), but never around an open transaction: a read issued while the
 * write batcher's transaction is open waits for it, so it sees a batch's rows
 * only once they are committed and never sees a batch that rolled back.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Kysely } from 'kysely';
import { migrateToLatest, openDatabase } from '../../src/storage/database.js';
import type { Database } from '../../src/storage/schema.js';
import { CompiledStatement } from '../../src/storage/sql/compiled.js';
import { writeBatcherFor } from '../../src/storage/sql/write-batcher.js';

const READ_COUNTER = new CompiledStatement<'key', { points: number }>(['key'], (db, v) =>
  db.selectFrom('attack_counters').select('points').where('key', '=', v.key),
);

describe('compiled statements on SQLite', () => {
  let dir: string;
  let db: Kysely<Database>;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'latchkey-compiled-'));
    db = openDatabase(`sqlite:${join(dir, 'test.db')}`).db;
    await migrateToLatest(db);
  });

  after(async () => {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Starts a batch whose work writes `key`, then holds the transaction open until `release` is called. */
  function openBatch(key: string, outcome: 'commit' | 'fail'): { release: () => void; done: Promise<unknown> } {
    let release = (): void => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const done = writeBatcherFor(db).run(async (trx) => {
      await trx.insertInto('attack_counters').values({ key, points: 7, expires_at_ms: null }).execute();
      await held;
      if (outcome === 'fail') throw new Error('the batch fails after its write');
    });
    // A second piece of work in the same turn makes it a real transaction (a batch of one runs alone).
    writeBatcherFor(db)
      .run(async () => undefined)
      .catch(() => undefined);
    return { release, done };
  }

  it('runs reads and writes directly when no transaction is open', async () => {
    await db.insertInto('attack_counters').values({ key: 'direct', points: 3, expires_at_ms: null }).execute();
    assert.deepEqual((await READ_COUNTER.execute(db, { key: 'direct' })).rows, [{ points: 3 }]);
  });

  it("a read issued inside a batch's open transaction waits for the commit, then sees the batch's row", async () => {
    const batch = openBatch('committed', 'commit');
    await new Promise((resolve) => setImmediate(resolve)); // the batch has begun and written
    let answered = false;
    const read = READ_COUNTER.execute(db, { key: 'committed' }).then((result) => {
      answered = true;
      return result.rows;
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(answered, false, 'the read did not wait for the open transaction');
    batch.release();
    await batch.done;
    assert.deepEqual(await read, [{ points: 7 }]);
  });

  it('a read issued inside a batch that then rolls back never sees its row', async () => {
    const batch = openBatch('rolled-back', 'fail');
    await new Promise((resolve) => setImmediate(resolve));
    const read = READ_COUNTER.execute(db, { key: 'rolled-back' });
    batch.release();
    await assert.rejects(batch.done, /the batch fails after its write/);
    assert.deepEqual((await read).rows, []);
  });
});
