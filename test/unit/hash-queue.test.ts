/**
 * The password hash queue: bounded concurrency, bounded waiting, shedding
 * with 503 before any work starts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HashQueue } from '../../src/identity/hash-queue.js';

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

describe('HashQueue', () => {
  it('runs at most `concurrency` jobs at once, in arrival order', async () => {
    const queue = new HashQueue(2, 10);
    const gates = [gate(), gate(), gate()];
    const started: number[] = [];
    const jobs = gates.map((g, i) => queue.run(async () => {
      started.push(i);
      await g.opened;
      return i;
    }));
    await Promise.resolve();
    assert.deepEqual(started, [0, 1]);
    assert.deepEqual(queue.stats, { running: 2, waiting: 1 });
    gates[0]?.open();
    await jobs[0];
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(started, [0, 1, 2]);
    gates[1]?.open();
    gates[2]?.open();
    assert.deepEqual(await Promise.all(jobs), [0, 1, 2]);
    assert.deepEqual(queue.stats, { running: 0, waiting: 0 });
  });

  it('sheds with temporarily_unavailable and Retry-After when the queue is full, without starting the work', async () => {
    const queue = new HashQueue(1, 1);
    const g = gate();
    const first = queue.run(() => g.opened);
    const second = queue.run(async () => undefined);
    let ran = false;
    await assert.rejects(
      queue.run(async () => {
        ran = true;
      }),
      (err: { error?: string; statusCode?: number; headers?: Record<string, string>; errorReason?: string }) =>
        err.error === 'temporarily_unavailable' && err.statusCode === 503 && err.headers?.['retry-after'] === '1' && err.errorReason === 'hash_queue_full',
    );
    assert.equal(ran, false);
    g.open();
    await Promise.all([first, second]);
  });

  it('a failing job frees its slot', async () => {
    const queue = new HashQueue(1, 0);
    await assert.rejects(queue.run(async () => Promise.reject(new Error('boom'))), /boom/);
    assert.equal(await queue.run(async () => 'ok'), 'ok');
  });
});
