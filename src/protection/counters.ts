/**
 * Counters for attack protection and rate limits, behind one interface
 * (DESIGN.md §5), on rate-limiter-flexible: in the database by default (so
 * a restart keeps a lock), in Redis when `redis` is configured.
 *
 * Every operation is a single atomic step in its store, so a parallel burst
 * sees distinct counts and cannot slip past a limit.
 */
import type { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { systemClock, type Clock } from '../clock.js';
import { TemporarilyUnavailableError } from '../domain/errors.js';
import type { Database } from '../storage/schema.js';
import { createSqlRateLimiter } from './sql-rate-limiter.js';
import { redisTatStore, sqlTatStore, tokenBucket, type TokenBucket, type TokenBucketOptions } from './token-bucket.js';

export interface CounterState {
  /** Points in the current window, this call's included. */
  consumed: number;
  /** Until the window (or block) ends; 0 when unknown. */
  msBeforeReset: number;
}

export interface ConsumeResult extends CounterState {
  /** False once `consumed` exceeds the counter's limit. */
  allowed: boolean;
}

export interface Counter {
  consume(key: string, points?: number): Promise<ConsumeResult>;
  peek(key: string): Promise<CounterState | null>;
  /** Gives points back (a reserved attempt that turned out not to count). */
  refund(key: string, points?: number): Promise<void>;
  reset(key: string): Promise<void>;
  /** Holds the key over its limit for `seconds`, whatever it counted. */
  block(key: string, seconds: number): Promise<void>;
  /**
   * Stores exactly `points` under the key, expiring `seconds` from now
   * whatever expiry it had: a mark that a later event renews (a familiar
   * sign-in IP) or a count whose memory restarts with each change (the
   * backstop's repeats).
   */
  set(key: string, points: number, seconds: number): Promise<void>;
}

export interface CounterOptions {
  /** Distinguishes counters sharing one store. */
  name: string;
  limit: number;
  windowSeconds: number;
}

export interface CounterBackend {
  readonly describe: string;
  /** Whether other nodes see these counters (Redis, PostgreSQL); SQLite serves one node. */
  readonly shared: boolean;
  counter(options: CounterOptions): Counter;
  /** A token bucket (gradual refill) on the same store. */
  bucket(options: TokenBucketOptions): TokenBucket;
  /** Readiness: rejects while the store is unreachable. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** How far over its limit a blocked key is held; more than any number of attempts in flight at once. */
const BLOCK_MARGIN = 1_000_000;

/** Wraps a rate-limiter-flexible limiter: over-limit is a value, a store failure an exception. */
class LimiterCounter implements Counter {
  constructor(
    private readonly limiter: RateLimiterAbstract,
    private readonly onStoreError: (err: unknown, operation: string) => never,
  ) {}

  async consume(key: string, points = 1): Promise<ConsumeResult> {
    try {
      const res = await this.limiter.consume(key, points);
      return { allowed: true, consumed: res.consumedPoints, msBeforeReset: Math.max(0, res.msBeforeNext) };
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) return { allowed: false, consumed: rejection.consumedPoints, msBeforeReset: Math.max(0, rejection.msBeforeNext) };
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

/** Counters in the `attack_counters` table, through Kysely (one SQL path for SQLite and PostgreSQL). */
export function sqlCounterBackend(db: Kysely<Database>, clock: Clock, shared = false): CounterBackend {
  return {
    describe: 'database',
    // An SQLite file serves one node (DESIGN.md §1); a PostgreSQL database is shared by every node.
    shared,
    counter: ({ name, limit, windowSeconds }) =>
      new LimiterCounter(createSqlRateLimiter({ db, clock, keyPrefix: name, points: limit, duration: windowSeconds }), (err) => {
        // isStorageUnavailable() turns a busy or unreachable database into 503 at the reply; anything else is a bug.
        throw err;
      }),
    bucket: (options) => tokenBucket(sqlTatStore(db), clock, options),
    ping: async () => undefined,
    close: async () => undefined,
  };
}

/**
 * Counters in Redis. A Redis failure fails closed: the attempt is refused
 * with 503 `temporarily_unavailable`, never let through unchecked.
 */
export function redisCounterBackend(redis: Redis, describe: string, clock: Clock = systemClock): CounterBackend {
  const failClosed = (err: unknown, operation: string): never => {
    throw new TemporarilyUnavailableError('Sign-in protection is unavailable; retry shortly.', 5, {
      errorReason: 'storage_unavailable',
      logDetail: `attack-protection counters in Redis (${describe}) failed on ${operation}: ${(err as Error)?.message ?? String(err)}; logins are refused until Redis answers`,
    });
  };
  return {
    describe,
    shared: true,
    counter: ({ name, limit, windowSeconds }) =>
      new LimiterCounter(
        new RateLimiterRedis({ storeClient: redis, keyPrefix: `latchkey:${name}`, points: limit, duration: windowSeconds, rejectIfRedisNotReady: true }),
        failClosed,
      ),
    bucket: (options) => tokenBucket(redisTatStore(redis, describe), clock, options),
    async ping() {
      await redis.ping();
    },
    async close() {
      redis.disconnect();
    },
  };
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
