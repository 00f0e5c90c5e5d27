/**
 * The attack-protection counter backends (src/storage/sql/counters.ts, src/storage/redis/counters.ts,
 * DESIGN.md §5): one conformance suite run against the database backend
 * (always on a real SQLite file; on PostgreSQL, shared, when
 * LATCHKEY_TEST_DATABASE_URL names a server) and the Redis backend (when
 * LATCHKEY_TEST_REDIS_URL names a real Redis).
 *
 * Contract: every operation is one atomic step in its store, so a parallel
 * burst sees distinct counts and exactly `limit` of them are allowed;
 * refund gives points back; reset forgets the key; block holds the key over
 * the limit for its own duration; set stores a count with a fresh expiry; peek of an unknown key is null and
 * creates nothing; counters with different names never share a key.
 * The database backend also takes expiry from the injected clock and keeps
 * its state across a close and reopen of the database. The Redis
 * backend fails closed: every operation on an unreachable Redis throws 503
 * `temporarily_unavailable` (`storage_unavailable`), never a verdict.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import pino from 'pino';
import { TemporarilyUnavailableError } from '../../src/domain/errors.js';
import type { Counter, CounterBackend } from '../../src/storage/counters.js';
import { openRedis } from '../../src/storage/redis/connection.js';
import { redisCounterBackend } from '../../src/storage/redis/counters.js';
import { sqlCounterBackend } from '../../src/storage/sql/counters.js';
import { migrateToLatest, openDatabase } from '../../src/storage/database.js';
import type { Database } from '../../src/storage/schema.js';
import { TestClock } from '../helpers/clock.js';
import { createScratchDatabase, postgresSkip, type ScratchDatabase } from '../helpers/postgres.js';
import { TEST_REDIS_URL, openReadyRedis, redisSkip, scanKeys } from '../helpers/redis.js';

interface BackendUnderTest {
  backend: CounterBackend;
  close(): Promise<void>;
}

/** A fresh counter name per test: the Redis may be shared with other suites running now. */
const uniqueName = (): string => `test-${randomUUID()}`;

function conformance(open: () => Promise<BackendUnderTest>): void {
  let subject: BackendUnderTest;
  const counter = (limit: number, windowSeconds = 60, name = uniqueName()): Counter =>
    subject.backend.counter({ name, limit, windowSeconds });

  before(async () => {
    subject = await open();
  });
  after(async () => {
    await subject.close();
  });

  it('50 concurrent consumes against a limit of 10: exactly 10 allowed, consumed values distinct 1..50', async () => {
    const c = counter(10);
    const results = await Promise.all(Array.from({ length: 50 }, () => c.consume('burst')));
    const consumed = results.map((r) => r.consumed).sort((a, b) => a - b);
    assert.deepEqual(
      consumed,
      Array.from({ length: 50 }, (_, i) => i + 1),
      'every consume saw its own count',
    );
    assert.equal(results.filter((r) => r.allowed).length, 10);
    for (const r of results) {
      assert.equal(r.allowed, r.consumed <= 10, `consumed ${r.consumed} allowed=${r.allowed}`);
      assert.ok(r.msBeforeReset > 0 && r.msBeforeReset <= 60_000, `msBeforeReset ${r.msBeforeReset} within the window`);
    }
    assert.equal((await c.peek('burst'))?.consumed, 50);
  });

  it('refund gives a point back: at the limit, a refund makes room for one more allowed consume', async () => {
    const c = counter(3);
    for (let i = 1; i <= 3; i++) assert.equal((await c.consume('k')).allowed, true);
    const over = await c.consume('k');
    assert.deepEqual([over.allowed, over.consumed], [false, 4]);
    await c.refund('k');
    await c.refund('k');
    assert.equal((await c.peek('k'))?.consumed, 2);
    const again = await c.consume('k');
    assert.deepEqual([again.allowed, again.consumed], [true, 3]);
    assert.equal((await c.consume('k')).allowed, false);
  });

  it('refund of several points at once', async () => {
    const c = counter(10);
    await c.consume('k', 5);
    await c.refund('k', 3);
    assert.equal((await c.peek('k'))?.consumed, 2);
  });

  it('reset clears the key: peek is null and the next consume starts at 1', async () => {
    const c = counter(2);
    for (let i = 0; i < 4; i++) await c.consume('k');
    assert.equal((await c.consume('k')).allowed, false);
    await c.reset('k');
    assert.equal(await c.peek('k'), null);
    const fresh = await c.consume('k');
    assert.deepEqual([fresh.allowed, fresh.consumed], [true, 1]);
  });

  it('reset touches only its own key', async () => {
    const c = counter(5);
    await c.consume('a');
    await c.consume('b');
    await c.consume('b');
    await c.reset('a');
    assert.equal(await c.peek('a'), null);
    assert.equal((await c.peek('b'))?.consumed, 2);
  });

  it('block holds the key over the limit, for the block duration rather than the window, with msBeforeReset > 0', async () => {
    const c = counter(5, 10);
    assert.equal((await c.consume('k')).consumed, 1);
    await c.block('k', 3600);
    const state = await c.peek('k');
    assert.ok(state !== null);
    assert.ok(state.consumed > 5, `blocked key counts ${state.consumed}, over the limit 5`);
    assert.ok(
      state.msBeforeReset > 10_000 && state.msBeforeReset <= 3_600_000,
      `msBeforeReset ${state.msBeforeReset}: the block's hour, not the 10 s window`,
    );
    const refused = await c.consume('k');
    assert.equal(refused.allowed, false);
    assert.ok(refused.msBeforeReset > 10_000, `refused for ${refused.msBeforeReset} ms`);
  });

  it('a block outlasts refunds from attempts that were in flight when it began', async () => {
    // Attempts reserved before the lock and refunded after it must not reopen it.
    const c = counter(3, 10);
    await Promise.all([c.consume('k'), c.consume('k'), c.consume('k')]);
    await c.block('k', 600);
    await Promise.all(Array.from({ length: 20 }, () => c.refund('k')));
    const state = await c.peek('k');
    assert.ok(state !== null && state.consumed > 3, `still over the limit after 20 refunds (counts ${state?.consumed})`);
    assert.equal((await c.consume('k')).allowed, false);
  });

  it('token bucket: capacity at once, then refused with a Retry-After of one refill; a token given back is usable again', async () => {
    const bucket = subject.backend.bucket({ name: uniqueName(), capacity: 3, refillSeconds: 60 });
    for (let i = 1; i <= 3; i++) assert.equal((await bucket.take('k')).allowed, true, `take ${i}`);
    const refused = await bucket.take('k');
    assert.equal(refused.allowed, false);
    assert.ok(refused.retryAfterMs > 0 && refused.retryAfterMs <= 60_000, `retry after ${refused.retryAfterMs} ms`);
    await bucket.giveBack('k');
    assert.equal((await bucket.take('k')).allowed, true, 'the token given back');
    assert.equal((await bucket.take('k')).allowed, false);
  });

  it('token bucket: 20 concurrent takes against a capacity of 5 let exactly 5 through', async () => {
    const bucket = subject.backend.bucket({ name: uniqueName(), capacity: 5, refillSeconds: 60 });
    const takes = await Promise.all(Array.from({ length: 20 }, () => bucket.take('burst')));
    assert.equal(takes.filter((t) => t.allowed).length, 5);
  });

  it('set stores exactly the points given, with a fresh expiry each time, whatever the key held', async () => {
    const c = counter(5, 10);
    await c.consume('k', 3);
    await c.set('k', 1, 3600);
    const first = await c.peek('k');
    assert.equal(first?.consumed, 1);
    assert.ok(
      first !== null && first.msBeforeReset > 10_000 && first.msBeforeReset <= 3_600_000,
      `the set's hour, not the 10 s window: ${first?.msBeforeReset}`,
    );
    await c.set('k', 7, 60);
    const second = await c.peek('k');
    assert.equal(second?.consumed, 7);
    assert.ok(second !== null && second.msBeforeReset <= 60_000, `the new expiry replaces the longer one: ${second?.msBeforeReset}`);
    await c.set('never-consumed', 2, 60);
    assert.equal((await c.peek('never-consumed'))?.consumed, 2);
  });

  it('block works on a key never consumed', async () => {
    const c = counter(5);
    await c.block('never-seen', 120);
    const refused = await c.consume('never-seen');
    assert.equal(refused.allowed, false);
    assert.ok(refused.msBeforeReset > 0 && refused.msBeforeReset <= 120_000, `msBeforeReset ${refused.msBeforeReset}`);
  });

  it('peek of an unknown key is null, and peeking creates nothing', async () => {
    const c = counter(5);
    assert.equal(await c.peek('unknown'), null);
    assert.equal(await c.peek('unknown'), null);
    assert.equal((await c.consume('unknown')).consumed, 1, 'the peeks left no count behind');
  });

  it('peek reports the count without consuming', async () => {
    const c = counter(5);
    await c.consume('k', 2);
    const first = await c.peek('k');
    const second = await c.peek('k');
    assert.equal(first?.consumed, 2);
    assert.equal(second?.consumed, 2);
    assert.ok((first?.msBeforeReset ?? 0) > 0);
  });

  it('counters with different names never share a key', async () => {
    const a = counter(5);
    const b = counter(5);
    await a.consume('same-key', 4);
    assert.equal(await b.peek('same-key'), null);
    assert.equal((await b.consume('same-key')).consumed, 1);
    assert.equal((await a.peek('same-key'))?.consumed, 4);
  });

  it('two counter objects with the same name share state (what two servers on one store rely on)', async () => {
    const name = uniqueName();
    const one = counter(3, 60, name);
    const two = counter(3, 60, name);
    await one.consume('k', 3);
    const refused = await two.consume('k');
    assert.deepEqual([refused.allowed, refused.consumed], [false, 4]);
  });
}

/** What only the database backend promises: expiry on the injected clock, state kept across a close and reopen. */
function databaseOnly(url: () => string, shared: boolean): void {
  let db: Kysely<Database> | undefined;
  let backend: CounterBackend;
  let testClock: TestClock;

  const reopen = async (): Promise<void> => {
    await db?.destroy();
    db = openDatabase(url()).db;
    await migrateToLatest(db);
    backend = sqlCounterBackend(db, testClock, shared);
  };

  before(async () => {
    testClock = new TestClock();
    await reopen();
  });
  after(async () => {
    await db?.destroy();
  });

  it('expiry follows the injected clock: still counted just before the window ends, a fresh count just after', async () => {
    const c = backend.counter({ name: uniqueName(), limit: 3, windowSeconds: 60 });
    for (let i = 0; i < 4; i++) await c.consume('k');
    testClock.advance(30);
    const mid = await c.peek('k');
    assert.equal(mid?.consumed, 4);
    assert.ok(
      mid !== null && mid.msBeforeReset <= 30_000 && mid.msBeforeReset > 29_000,
      `msBeforeReset ${mid?.msBeforeReset} follows the clock`,
    );
    testClock.advance(29);
    assert.equal((await c.consume('k')).allowed, false, 'one second before the window ends the key is still over its limit');
    testClock.advance(2);
    assert.equal(await c.peek('k'), null, 'an expired window reads as unknown');
    const fresh = await c.consume('k');
    assert.deepEqual([fresh.allowed, fresh.consumed], [true, 1]);
    assert.ok(fresh.msBeforeReset > 59_000 && fresh.msBeforeReset <= 60_000, `the fresh window is a full one: ${fresh.msBeforeReset}`);
  });

  it('a token bucket refills one token per interval on the injected clock, up to its capacity', async () => {
    const bucket = backend.bucket({ name: uniqueName(), capacity: 3, refillSeconds: 60 });
    for (let i = 0; i < 3; i++) assert.equal((await bucket.take('k')).allowed, true);
    assert.equal((await bucket.take('k')).allowed, false);
    testClock.advance(59);
    assert.equal((await bucket.take('k')).allowed, false, 'not yet one interval');
    testClock.advance(2);
    assert.equal((await bucket.take('k')).allowed, true, 'one token back after an interval');
    assert.equal((await bucket.take('k')).allowed, false, 'and only one');
    testClock.advance(3600);
    for (let i = 0; i < 3; i++) assert.equal((await bucket.take('k')).allowed, true, `full again: ${i}`);
    assert.equal((await bucket.take('k')).allowed, false, 'never more than the capacity');
  });

  it('a set key expires by the injected clock, and setting it again renews it', async () => {
    const c = backend.counter({ name: uniqueName(), limit: 3, windowSeconds: 60 });
    await c.set('k', 1, 600);
    testClock.advance(500);
    await c.set('k', 1, 600);
    testClock.advance(500);
    assert.equal((await c.peek('k'))?.consumed, 1, 'renewed 500 s ago, for 600 s');
    testClock.advance(101);
    assert.equal(await c.peek('k'), null);
  });

  it('a block expires by the injected clock too', async () => {
    const c = backend.counter({ name: uniqueName(), limit: 3, windowSeconds: 60 });
    await c.block('k', 600);
    testClock.advance(599);
    assert.equal((await c.consume('k')).allowed, false);
    testClock.advance(2);
    const fresh = await c.consume('k');
    assert.deepEqual([fresh.allowed, fresh.consumed], [true, 1]);
  });

  it('state survives closing and reopening the database', async () => {
    const name = uniqueName();
    let c = backend.counter({ name, limit: 5, windowSeconds: 600 });
    await c.consume('counted', 4);
    await c.block('blocked', 3600);
    await reopen();
    c = backend.counter({ name, limit: 5, windowSeconds: 600 });
    assert.equal((await c.peek('counted'))?.consumed, 4);
    const next = await c.consume('counted');
    assert.deepEqual([next.allowed, next.consumed], [true, 5]);
    assert.equal((await c.consume('counted')).allowed, false);
    const blocked = await c.consume('blocked');
    assert.equal(blocked.allowed, false, 'a block (a brute-force lock) survives a restart');
    assert.ok(blocked.msBeforeReset > 3_500_000, `msBeforeReset ${blocked.msBeforeReset}`);
    assert.equal(await c.peek('unknown'), null);
  });
}

describe('counter backend: database (SQLite file)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-counters-'));
  const clock = new TestClock();

  after(() => rmSync(dir, { recursive: true, force: true }));

  describe('conformance', () => {
    conformance(async () => {
      const opened = openDatabase(`sqlite:${join(dir, 'conformance.db')}`);
      await migrateToLatest(opened.db);
      return { backend: sqlCounterBackend(opened.db, clock), close: () => opened.db.destroy() };
    });
  });

  describe('database only', () => {
    databaseOnly(() => `sqlite:${join(dir, 'sql-only.db')}`, false);
  });
});

// In the same process as the SQLite suite above, on purpose: the counters' statements are compiled once and
// kept, and SQLite's compiled text must never reach PostgreSQL (nor the reverse).
describe('counter backend: database (PostgreSQL, shared)', { skip: postgresSkip('counter backend: database (PostgreSQL, shared)') }, () => {
  const clock = new TestClock();
  let scratch: ScratchDatabase | undefined;

  // One scratch database for both groups; every test uses counter names of its own.
  before(async () => {
    scratch = await createScratchDatabase();
  });
  after(async () => {
    await scratch?.drop();
  });

  describe('conformance', () => {
    conformance(async () => {
      const opened = openDatabase((scratch as ScratchDatabase).url);
      await migrateToLatest(opened.db);
      return { backend: sqlCounterBackend(opened.db, clock, true), close: () => opened.db.destroy() };
    });
  });

  describe('database only', () => {
    databaseOnly(() => (scratch as ScratchDatabase).url, true);
  });
});

describe('counter backend: Redis', { skip: redisSkip('counter backend: Redis') }, () => {
  const names: string[] = [];
  let cleanup: Redis | undefined;

  before(async () => {
    cleanup = await openReadyRedis(TEST_REDIS_URL as string);
  });
  after(async () => {
    // Only this suite's keys: the Redis may be shared.
    if (!cleanup) return;
    const keys = (await scanKeys(cleanup, 'latchkey:test-*')).filter((k) => names.some((n) => k.startsWith(`latchkey:${n}:`)));
    if (keys.length > 0) await cleanup.del(...keys);
    cleanup.disconnect();
  });

  describe('conformance', () => {
    conformance(async () => {
      const redis = await openReadyRedis(TEST_REDIS_URL as string);
      const backend = redisCounterBackend(redis, 'test redis');
      const counter = backend.counter.bind(backend);
      // Remember every name used, to delete exactly those keys afterwards.
      backend.counter = (options) => {
        names.push(options.name);
        return counter(options);
      };
      return { backend, close: () => backend.close() };
    });
  });

  it('stores its keys under latchkey:{name}:{key}, with the window as their TTL', async () => {
    const redis = cleanup as Redis;
    const backend = redisCounterBackend(redis, 'test redis');
    const name = uniqueName();
    names.push(name);
    await backend.counter({ name, limit: 5, windowSeconds: 60 }).consume('k', 2);
    assert.equal(await redis.get(`latchkey:${name}:k`), '2');
    const ttl = await redis.pttl(`latchkey:${name}:k`);
    assert.ok(ttl > 0 && ttl <= 60_000, `ttl ${ttl}`);
  });

  it('ping answers while Redis is up', async () => {
    const redis = await openReadyRedis(TEST_REDIS_URL as string);
    const backend = redisCounterBackend(redis, 'test redis');
    try {
      await backend.ping();
    } finally {
      await backend.close();
    }
  });
});

/** Needs no Redis: the point is that there is none. */
describe('counter backend: Redis unreachable fails closed', () => {
  let backend: CounterBackend;
  before(() => {
    // Port 1: nothing listens; the client keeps reconnecting in the background.
    backend = redisCounterBackend(openRedis('redis://127.0.0.1:1', pino({ level: 'silent' })), 'redis://127.0.0.1:1');
  });
  after(async () => {
    await backend.close();
  });

  const unavailable = (err: unknown): boolean => {
    assert.ok(err instanceof TemporarilyUnavailableError, `expected TemporarilyUnavailableError, got ${String(err)}`);
    assert.equal(err.error, 'temporarily_unavailable');
    assert.equal(err.statusCode, 503);
    assert.equal(err.errorReason, 'storage_unavailable');
    assert.ok(Number(err.headers['retry-after']) >= 1, 'Retry-After');
    return true;
  };

  it('every operation throws 503 temporarily_unavailable, never a verdict', async () => {
    const c = backend.counter({ name: uniqueName(), limit: 10, windowSeconds: 60 });
    await assert.rejects(c.consume('k'), unavailable);
    await assert.rejects(c.peek('k'), unavailable);
    await assert.rejects(c.refund('k'), unavailable);
    await assert.rejects(c.reset('k'), unavailable);
    await assert.rejects(c.block('k', 60), unavailable);
  });

  it('ping rejects (readiness)', async () => {
    await assert.rejects(backend.ping());
  });
});
