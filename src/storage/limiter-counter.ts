/**
 * A Counter (storage/counters.ts) over a rate-limiter-flexible limiter, the
 * library every counter backend uses; and the one counter that needs no
 * store: in this process's memory.
 */
import { RateLimiterMemory, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { ConsumeResult, Counter, CounterOptions, CounterState } from './counters.js';

/** How far over its limit a blocked key is held; more than any number of attempts in flight at once. */
const BLOCK_MARGIN = 1_000_000;

/** Wraps a rate-limiter-flexible limiter: over-limit is a value, a store failure an exception. */
export class LimiterCounter implements Counter {
  constructor(
    private readonly limiter: RateLimiterAbstract,
    private readonly onStoreError: (err: unknown, operation: string) => never,
  ) {}

  async consume(key: string, points = 1): Promise<ConsumeResult> {
    try {
      const res = await this.limiter.consume(key, points);
      return { allowed: true, consumed: res.consumedPoints, msBeforeReset: Math.max(0, res.msBeforeNext) };
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) {
        return { allowed: false, consumed: rejection.consumedPoints, msBeforeReset: Math.max(0, rejection.msBeforeNext) };
      }
      return this.onStoreError(rejection, 'consume');
    }
  }

  async peek(key: string): Promise<CounterState | null> {
    try {
      const res = await this.limiter.get(key);
      return res === null ? null : { consumed: res.consumedPoints, msBeforeReset: Math.max(0, res.msBeforeNext) };
    } catch (err) {
      return this.onStoreError(err, 'get');
    }
  }

  async refund(key: string, points = 1): Promise<void> {
    try {
      const res = await this.limiter.reward(key, points);
      // A refund after a concurrent reset would leave a negative count, i.e. a free attempt: drop the key instead.
      if (res.consumedPoints < 0) await this.limiter.delete(key);
    } catch (err) {
      this.onStoreError(err, 'reward');
    }
  }

  async reset(key: string): Promise<void> {
    try {
      await this.limiter.delete(key);
    } catch (err) {
      this.onStoreError(err, 'delete');
    }
  }

  async block(key: string, seconds: number): Promise<void> {
    try {
      // Far over the limit, not just one over (rate-limiter-flexible's block()): refunds of attempts that were
      // in flight when the lock began must not bring the count back under the limit.
      await this.limiter.set(key, this.limiter.points + BLOCK_MARGIN, seconds);
    } catch (err) {
      this.onStoreError(err, 'block');
    }
  }

  async set(key: string, points: number, seconds: number): Promise<void> {
    try {
      await this.limiter.set(key, points, seconds);
    } catch (err) {
      this.onStoreError(err, 'set');
    }
  }
}

/**
 * A counter in this process's memory (rate-limiter-flexible's
 * RateLimiterMemory), for what only this node needs to see: attempts in
 * flight on a single-node (SQLite) server, where a database write and its
 * commit per attempt would buy nothing.
 */
export function memoryCounter({ limit, windowSeconds }: CounterOptions): Counter {
  return new LimiterCounter(new RateLimiterMemory({ points: limit, duration: windowSeconds }), (err) => {
    throw err;
  });
}
