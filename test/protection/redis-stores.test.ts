/**
 * Issue #6 §2: with `redis` set, single-use keys (client-assertion jti,
 * mfa_token, OTP codes) and signing-key changes go through Redis, so every
 * node agrees at once. Against the real Redis (LATCHKEY_TEST_REDIS_URL); a
 * TCP proxy takes it away to show the store fails closed.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { TemporarilyUnavailableError } from '../../src/domain/errors.js';
import { KeyChangeNotices } from '../../src/storage/redis/key-change-notices.js';
import { RedisSingleUseKeyStore } from '../../src/storage/redis/single-use-keys.js';
import { TEST_REDIS_URL, openReadyRedis, redisSkip, startTcpProxy, waitUntil, type TcpProxy } from '../helpers/redis.js';

const silent = pino({ level: 'silent' });

describe('issue #6 §2: single-use keys and key-change notices in Redis', { skip: redisSkip('redis single-use keys') }, () => {
  let redis: Redis;
  before(async () => {
    redis = await openReadyRedis(TEST_REDIS_URL as string);
  });
  after(() => redis?.disconnect());

  it('20 concurrent consumes of one key: exactly one wins; the key is then consumed until it expires', async () => {
    const store = new RedisSingleUseKeyStore(redis);
    const key = `test:${randomUUID()}`;
    const now = new Date();
    const expiresAt = new Date(now.getTime() + 60_000);
    assert.equal(await store.isConsumed(key), false);
    const results = await Promise.all(Array.from({ length: 20 }, () => store.consume(key, expiresAt, now)));
    assert.equal(results.filter(Boolean).length, 1, 'exactly one first use');
    assert.equal(await store.isConsumed(key), true);
    assert.equal(await store.consume(key, expiresAt, now), false, 'a later use is a repeat');
    const ttl = await redis.pttl(`latchkey:jti:${key}`);
    assert.ok(ttl > 0 && ttl <= 60_000, `kept until the key's own expiry (pttl ${ttl})`);
  });

  it('two connections (two nodes) share the key: the second node sees the first use', async () => {
    const other = await openReadyRedis(TEST_REDIS_URL as string);
    try {
      const key = `test:${randomUUID()}`;
      const now = new Date();
      assert.equal(await new RedisSingleUseKeyStore(redis).consume(key, new Date(now.getTime() + 60_000), now), true);
      assert.equal(await new RedisSingleUseKeyStore(other).consume(key, new Date(now.getTime() + 60_000), now), false);
    } finally {
      other.disconnect();
    }
  });

  it('Redis unreachable: consume fails closed with 503 storage_unavailable, never a second first use', async () => {
    let proxy: TcpProxy | undefined;
    let viaProxy: Redis | undefined;
    try {
      proxy = await startTcpProxy(TEST_REDIS_URL as string);
      viaProxy = await openReadyRedis(`redis://127.0.0.1:${proxy.port}`);
      const store = new RedisSingleUseKeyStore(viaProxy);
      const key = `test:${randomUUID()}`;
      const now = new Date();
      assert.equal(await store.consume(key, new Date(now.getTime() + 60_000), now), true);
      await proxy.stop();
      await waitUntil('the client to notice Redis is gone', async () => viaProxy?.status !== 'ready');
      await assert.rejects(store.consume(key, new Date(now.getTime() + 60_000), now), (err: unknown) => {
        assert.ok(err instanceof TemporarilyUnavailableError, String(err));
        assert.equal(err.statusCode, 503);
        assert.equal(err.errorReason, 'storage_unavailable');
        return true;
      });
      await assert.rejects(store.isConsumed(key), TemporarilyUnavailableError);
    } finally {
      viaProxy?.disconnect();
      await proxy?.stop().catch(() => undefined);
    }
  });

  it('a key change announced by one node reaches the others that listen', async () => {
    const listener = await openReadyRedis(TEST_REDIS_URL as string);
    const notices = new KeyChangeNotices(listener, silent);
    const heard: string[] = [];
    try {
      await notices.listen((tenantId) => heard.push(tenantId));
      const tenantId = randomUUID();
      await new KeyChangeNotices(redis, silent).announce(tenantId);
      await waitUntil('the notice to arrive', async () => heard.includes(tenantId));
    } finally {
      await notices.close();
      listener.disconnect();
    }
  });
});
