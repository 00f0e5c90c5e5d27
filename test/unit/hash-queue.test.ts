/**
 * The password hash queue: bounded concurrency, bounded waiting, shedding
 * with 503 before any work starts; fair per end-user IP (issue #11 point 4):
 * one IP holds at most its share of the places, and waiters are served
 * round-robin across IPs.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HashQueue, defaultMaxPerIp } from '../../src/identity/hash-queue.js';

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
    const jobs = gates.map((g, i) =>
      queue.run(async () => {
        started.push(i);
        await g.opened;
        return i;
      }),
    );
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
        err.error === 'temporarily_unavailable' &&
        err.statusCode === 503 &&
        err.headers?.['retry-after'] === '1' &&
        err.errorReason === 'hash_queue_full',
    );
    assert.equal(ran, false);
    g.open();
    await Promise.all([first, second]);
  });

  it('a failing job frees its slot', async () => {
    const queue = new HashQueue(1, 0);
    await assert.rejects(
      queue.run(async () => Promise.reject(new Error('boom'))),
      /boom/,
    );
    assert.equal(await queue.run(async () => 'ok'), 'ok');
  });

  it('one IP holds at most maxPerIp places, running and waiting: the next gets 429 ip_concurrent_checks without starting its work; other IPs still get in', async () => {
    const queue = new HashQueue(1, 10, 3);
    const g = gate();
    const flood = [queue.run(() => g.opened, '192.0.2.1'), queue.run(() => g.opened, '192.0.2.1'), queue.run(() => g.opened, '192.0.2.1')];
    assert.deepEqual(queue.stats, { running: 1, waiting: 2 });
    let ran = false;
    await assert.rejects(
      queue.run(async () => {
        ran = true;
      }, '192.0.2.1'),
      (err: { error?: string; statusCode?: number; headers?: Record<string, string>; errorReason?: string; description?: string }) =>
        err.error === 'too_many_attempts' &&
        err.statusCode === 429 &&
        err.headers?.['retry-after'] === '1' &&
        err.errorReason === 'ip_concurrent_checks' &&
        err.description?.includes('192.0.2.1') === false,
    );
    assert.equal(ran, false, 'the refused work never started');
    // Another IP is under its share: it waits for its turn rather than being refused.
    const other = queue.run(async () => 'other', '198.51.100.9');
    assert.deepEqual(queue.stats, { running: 1, waiting: 3 });
    g.open();
    await Promise.all(flood);
    assert.equal(await other, 'other');
    // Its places given back, the first IP gets in again.
    assert.equal(await queue.run(async () => 'again', '192.0.2.1'), 'again');
    assert.deepEqual(queue.stats, { running: 0, waiting: 0 });
  });

  it('a refused or failed job gives its place back to its IP', async () => {
    const queue = new HashQueue(1, 10, 1);
    await assert.rejects(
      queue.run(async () => Promise.reject(new Error('boom')), '192.0.2.1'),
      /boom/,
    );
    assert.equal(await queue.run(async () => 'ok', '192.0.2.1'), 'ok');
  });

  it("waiters are served round-robin across IPs: another IP's check runs after at most one more of a flooding IP's", async () => {
    const queue = new HashQueue(1, 20, 10);
    const order: string[] = [];
    const first = gate();
    const jobs: Array<Promise<unknown>> = [queue.run(() => first.opened, 'flood')];
    const job = (ip: string, label: string) => queue.run(async () => void order.push(label), ip);
    for (let i = 1; i <= 6; i++) jobs.push(job('flood', `flood ${i}`));
    jobs.push(job('198.51.100.1', 'other 1'), job('198.51.100.1', 'other 2'), job('203.0.113.7', 'third 1'));
    assert.deepEqual(queue.stats, { running: 1, waiting: 9 });
    first.open();
    await Promise.all(jobs);
    // In arrival order both others would have waited behind all six of the flood's checks.
    assert.deepEqual(order, ['flood 1', 'other 1', 'third 1', 'flood 2', 'other 2', 'flood 3', 'flood 4', 'flood 5', 'flood 6']);
  });

  it('a full queue is still 503 hash_queue_full, told before the per-IP share', async () => {
    const queue = new HashQueue(1, 1, 1);
    const g = gate();
    const running = queue.run(() => g.opened, '192.0.2.1');
    const waiting = queue.run(async () => undefined, '198.51.100.1');
    await assert.rejects(
      queue.run(async () => undefined, '192.0.2.1'),
      (err: { errorReason?: string }) => err.errorReason === 'hash_queue_full',
    );
    await assert.rejects(
      queue.run(async () => undefined, '203.0.113.1'),
      (err: { errorReason?: string }) => err.errorReason === 'hash_queue_full',
    );
    g.open();
    await Promise.all([running, waiting]);
  });

  it('work queued without an IP (rehashing after a login) has no per-IP cap', async () => {
    const queue = new HashQueue(1, 10, 1);
    const g = gate();
    const jobs = [queue.run(() => g.opened), queue.run(async () => 1), queue.run(async () => 2)];
    assert.deepEqual(queue.stats, { running: 1, waiting: 2 });
    g.open();
    await Promise.all(jobs);
  });

  it('background work takes only slots no sign-in waits for, and holds no waiting place', async () => {
    const queue = new HashQueue(1, 1);
    const order: string[] = [];
    const first = gate();
    const importing = queue.runInBackground(async () => {
      order.push('import 1');
      await first.opened;
    });
    // The slot is busy: more background work waits, but outside the queue's places.
    const secondImport = queue.runInBackground(async () => {
      order.push('import 2');
    });
    assert.deepEqual(queue.stats, { running: 1, waiting: 0 });
    // A sign-in still finds its waiting place (max_queue 1), and is served before the waiting import.
    const signIn = queue.run(async () => {
      order.push('sign-in');
    }, '192.0.2.1');
    assert.deepEqual(queue.stats, { running: 1, waiting: 1 });
    first.open();
    await Promise.all([importing, secondImport, signIn]);
    assert.deepEqual(order, ['import 1', 'sign-in', 'import 2']);
    assert.deepEqual(queue.stats, { running: 0, waiting: 0 });
  });

  it('background work runs at once on a free slot, up to `concurrency` together', async () => {
    const queue = new HashQueue(2, 4);
    const gates = [gate(), gate(), gate()];
    const started: number[] = [];
    const jobs = gates.map((g, i) =>
      queue.runInBackground(async () => {
        started.push(i);
        await g.opened;
      }),
    );
    await Promise.resolve();
    assert.deepEqual(started, [0, 1]);
    for (const g of gates) g.open();
    await Promise.all(jobs);
    assert.deepEqual(started, [0, 1, 2]);
    assert.deepEqual(queue.stats, { running: 0, waiting: 0 });
  });

  it('the default share is a quarter of every place (running and waiting), at least one', () => {
    assert.equal(defaultMaxPerIp(2, 256), 65);
    assert.equal(defaultMaxPerIp(1, 16), 5);
    assert.equal(defaultMaxPerIp(1, 0), 1);
    assert.equal(new HashQueue(4, 12).maxPerIp, 4);
  });
});
