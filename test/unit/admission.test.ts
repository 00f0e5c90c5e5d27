/**
 * Admission, the wait queue of login attempts (src/protection/admission.ts):
 * an attempt that ends wakes one waiter, the oldest; a waiter that polled
 * and found no room keeps its place; a waiter gives up after MAX_WAIT_MS;
 * with shared counters it polls less often. Timers and Date are mocked: no
 * test waits for real time.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { Admission, MAX_WAIT_MS } from '../../src/protection/admission.js';

/** Lets settled promises run their callbacks. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('admission (the wait queue of login attempts)', () => {
  beforeEach(() => {
    mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  });
  afterEach(() => {
    mock.timers.reset();
  });

  it('an attempt that ends wakes one waiter, the one that waited first', async () => {
    const admission = new Admission(false);
    const woken: string[] = [];
    for (const name of ['first', 'second', 'third'])
      void admission
        .arrive()
        .wait()
        .then(() => woken.push(name));
    admission.attemptEnded();
    await settle();
    assert.deepEqual(woken, ['first']);
    admission.attemptEnded();
    admission.attemptEnded();
    await settle();
    assert.deepEqual(woken, ['first', 'second', 'third']);
  });

  it('a waiter that polled and found no room keeps its place ahead of later arrivals', async () => {
    const admission = new Admission(false);
    const early = admission.arrive();
    const late = admission.arrive();
    await Promise.all([early.wait(), late.wait(), Promise.resolve(mock.timers.tick(20))]);
    // Both polled; the later one happens to wait again first.
    const woken: string[] = [];
    void late.wait().then(() => woken.push('late'));
    void early.wait().then(() => woken.push('early'));
    admission.attemptEnded();
    await settle();
    assert.deepEqual(woken, ['early']);
    admission.attemptEnded();
  });

  it('polls every 20 ms on one node, every 100 ms with shared counters', async () => {
    for (const [shared, pollMs] of [
      [false, 20],
      [true, 100],
    ] as const) {
      const admission = new Admission(shared);
      let woken = false;
      void admission
        .arrive()
        .wait()
        .then(() => (woken = true));
      mock.timers.tick(pollMs - 1);
      await settle();
      assert.equal(woken, false, `shared=${shared}: still waiting at ${pollMs - 1} ms`);
      mock.timers.tick(1);
      await settle();
      assert.equal(woken, true, `shared=${shared}: polled at ${pollMs} ms`);
    }
  });

  it(`an attempt is out of time ${MAX_WAIT_MS} ms after it arrived, not before`, () => {
    const waiter = new Admission(false).arrive();
    mock.timers.tick(MAX_WAIT_MS - 1);
    assert.equal(waiter.outOfTime(), false);
    mock.timers.tick(1);
    assert.equal(waiter.outOfTime(), true);
  });
});
