/**
 * Counters for attack protection and rate limits, behind one interface
 * (DESIGN.md §5): in the database by default (storage/sql/counters.ts, so a
 * restart keeps a lock), in Redis when `redis` is configured
 * (storage/redis/counters.ts). protection/ and mfa/ program against these
 * types; only the composition root picks the backend.
 *
 * Every operation is a single atomic step in its store, so a parallel burst
 * sees distinct counts and cannot slip past a limit.
 */

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

export interface BucketTake {
  allowed: boolean;
  /** When refused: until the bucket holds a token again. */
  retryAfterMs: number;
}

/** A limit that refills gradually (storage/token-bucket.ts): `capacity` at once, then one more every `refillSeconds`. */
export interface TokenBucket {
  take(key: string): Promise<BucketTake>;
  /** Gives one token back (the attempt succeeded, or was refused). */
  giveBack(key: string): Promise<void>;
  /** Fills the bucket again (an operator's unblock). */
  reset(key: string): Promise<void>;
}

export interface TokenBucketOptions {
  name: string;
  capacity: number;
  refillSeconds: number;
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
