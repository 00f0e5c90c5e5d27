/**
 * The gradual refill behind suspicious-IP throttling and the MFA code limit
 * (src/protection/sliding-window.ts): pure arithmetic.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { msUntilRoom, slidingEstimate, windowPosition } from '../../src/protection/sliding-window.js';

const HOUR = 3_600_000;

describe('sliding window counter', () => {
  it('windowPosition: aligned index and elapsed fraction', () => {
    assert.deepEqual(windowPosition(5 * HOUR + HOUR / 4, HOUR), { index: 5, elapsed: 0.25 });
    assert.deepEqual(windowPosition(5 * HOUR, HOUR), { index: 5, elapsed: 0 });
  });

  it('the previous window weighs only the part still within one period', () => {
    assert.equal(slidingEstimate(10, 0, 0), 10);
    assert.equal(slidingEstimate(10, 0, 0.5), 5);
    assert.equal(slidingEstimate(10, 3, 0.9), 4);
    assert.equal(slidingEstimate(0, 7, 0.3), 7);
  });

  it('a full previous window refills gradually: one more after a tenth of the period for a limit of 10', () => {
    // 10 failures last hour, none this hour, limit 10, at the start of this hour: room for one more after 6 minutes.
    const wait = msUntilRoom(10, 0, 10, 7 * HOUR, HOUR);
    assert.ok(Math.abs(wait - HOUR / 10) < 1, `${wait} ms ≈ 6 minutes`);
    assert.ok(slidingEstimate(10, 0, wait / HOUR) + 1 <= 10);
    assert.ok(slidingEstimate(10, 0, (wait - 1000) / HOUR) + 1 > 10);
  });

  it('a full current window waits into the next one', () => {
    // 10 this hour at 15 minutes in: the next window starts in 45 minutes, then 10 × (1 − f) + 1 ≤ 10 needs f ≥ 0.1.
    const wait = msUntilRoom(0, 10, 10, 7 * HOUR + HOUR / 4, HOUR);
    assert.ok(Math.abs(wait - ((3 * HOUR) / 4 + HOUR / 10)) < 1, `${wait} ms`);
  });

  it('never less than a second', () => {
    assert.equal(msUntilRoom(1, 0, 10, 7 * HOUR, HOUR), 1000);
  });
});
