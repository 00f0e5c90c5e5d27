/**
 * Attack protection with its counters in Redis (`redis` configured), black
 * box over HTTP against real servers and a real Redis
 * (LATCHKEY_TEST_REDIS_URL; skipped, with the reason printed, without it).
 *
 * - The brute-force lock behaves as with the database backend: after 10
 *   consecutive wrong passwords (threshold 10) for one identifier from one
 *   IP, even the right password gets 429 `too_many_attempts`,
 *   `error_reason: user_blocked`, with Retry-After; and the count lives in
 *   Redis.
 * - Servers sharing one Redis (and the same master key and tenant) share
 *   the counts and the lock; deleting the Redis key lifts it, so the lock
 *   lives in Redis and not in the shared database.
 * - Redis unreachable fails closed: a password grant (right or wrong
 *   password) is 503 `temporarily_unavailable`, `error_reason:
 *   storage_unavailable`, with Retry-After, never `invalid_grant` and never
 *   tokens; /readyz is 503 `counters unreachable`; grants that do not touch
 *   the counters (refresh_token, client_credentials, with no rate limits
 *   configured) keep working. When Redis comes back, logins work again
 *   without a restart.
 *
 * Keys are per tenant id (random per data directory), so runs and other
 * suites sharing the Redis never see each other's counts; nothing is flushed.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { ALICE, API, WEB, acmeFixture } from '../helpers/fixtures.js';
import { get, postForm, type JsonResponse } from '../helpers/http.js';
import { TEST_REDIS_URL, openReadyRedis, redisSkip, scanKeys, startTcpProxy, waitUntil } from '../helpers/redis.js';
import { startTestServer, type TenantInput, type TestServer } from '../helpers/server.js';

const THRESHOLD = 10;

const passwordGrant = (server: TestServer, password: string, username = ALICE.username): Promise<JsonResponse> =>
  postForm(server.at('/oauth/token'), {
    grant_type: 'password',
    username,
    password,
    audience: API,
    scope: 'offline_access read:sample',
    ...WEB,
  });

/** Distinct wrong passwords: a repeated wrong password counts only once. */
const wrongPassword = (i: number): string => `wrong password number ${i}`;

function assertWrongPassword(res: JsonResponse, context: string): void {
  assert.equal(res.status, 400, `${context}: ${res.text}`);
  assert.equal(res.body.error, 'invalid_grant', `${context}: ${res.text}`);
}

function assertLocked(res: JsonResponse, context: string): void {
  assert.equal(res.status, 429, `${context}: ${res.text}`);
  assert.equal(res.body.error, 'too_many_attempts', `${context}: ${res.text}`);
  assert.equal(res.body.error_reason, 'user_blocked', `${context}: ${res.text}`);
  assert.ok(Number(res.headers.get('retry-after')) > 0, `${context}: Retry-After ${res.headers.get('retry-after')}`);
  assert.equal(res.body.access_token, undefined);
}

function assertFailClosed(res: JsonResponse, context: string): void {
  assert.equal(res.status, 503, `${context}: ${res.text}`);
  assert.equal(res.body.error, 'temporarily_unavailable', `${context}: ${res.text}`);
  assert.equal(res.body.error_reason, 'storage_unavailable', `${context}: ${res.text}`);
  assert.ok(Number(res.headers.get('retry-after')) >= 1, `${context}: Retry-After ${res.headers.get('retry-after')}`);
  assert.equal(res.body.access_token, undefined);
}

const tenantIdOf = (server: TestServer): string => {
  const tenant = server.server.runtime.catalog.tenant('acme');
  assert.ok(tenant, 'tenant acme');
  return tenant.id;
};

describe('attack protection with Redis counters', { skip: redisSkip('attack protection with Redis counters') }, () => {
  const redisUrl = TEST_REDIS_URL as string;
  let tenant: TenantInput;
  let redis: Redis;
  const tenantIds: string[] = [];

  before(async () => {
    ({ tenant } = await acmeFixture());
    redis = await openReadyRedis(redisUrl);
  });
  after(async () => {
    // Only the keys of the tenants this suite created.
    for (const id of tenantIds) {
      const keys = (await scanKeys(redis, 'latchkey:*')).filter((k) => k.includes(id));
      if (keys.length > 0) await redis.del(...keys);
    }
    redis.disconnect();
  });

  const start = async (options: { dir?: string; redis?: string } = {}): Promise<TestServer> => {
    const server = await startTestServer({
      tenants: [tenant],
      extra: { redis: options.redis ?? redisUrl },
      ...(options.dir ? { dir: options.dir } : {}),
    });
    tenantIds.push(tenantIdOf(server));
    // The server listens before its Redis client has connected; until then it (rightly) fails closed and
    // /readyz says so. Wait for ready, as a load balancer would, unless this server is meant to stay unready.
    if (options.redis === undefined)
      await waitUntil('/readyz 200 after start', async () => (await get(`${server.url}/readyz`)).status === 200);
    return server;
  };

  /** The brute-force counter keys of this tenant in Redis. */
  const bruteForceKeys = (server: TestServer): Promise<string[]> => scanKeys(redis, `latchkey:bf:${tenantIdOf(server)}:*`);

  it('10 wrong passwords lock the identifier from this IP, as with the database backend, and the count is in Redis', async () => {
    const server = await start();
    try {
      for (let i = 1; i <= THRESHOLD; i++) assertWrongPassword(await passwordGrant(server, wrongPassword(i)), `wrong password ${i}`);
      const keys = await bruteForceKeys(server);
      assert.equal(keys.length, 1, `one brute-force key in Redis: ${keys.join(', ')}`);
      assert.ok(Number(await redis.get(keys[0]!)) > THRESHOLD, 'the key holds the lock (over the threshold)');
      assert.ok((await redis.pttl(keys[0]!)) > 0, 'the lock expires');
      assertLocked(await passwordGrant(server, ALICE.password), 'right password after the lock');
      assertLocked(await passwordGrant(server, wrongPassword(99)), 'wrong password after the lock');
      // Another identifier is not affected.
      const other = await postForm(server.at('/oauth/token'), {
        grant_type: 'password',
        username: 'joe',
        password: '2Federate',
        audience: API,
        ...WEB,
      });
      assert.equal(other.status, 200, other.text);
    } finally {
      await server.close();
    }
  });

  it('9 wrong passwords then the right one: no lock, and the success resets the count in Redis', async () => {
    const server = await start();
    try {
      for (let i = 1; i < THRESHOLD; i++) assertWrongPassword(await passwordGrant(server, wrongPassword(i)), `wrong password ${i}`);
      const ok = await passwordGrant(server, ALICE.password);
      assert.equal(ok.status, 200, ok.text);
      assert.deepEqual(await bruteForceKeys(server), [], 'the success reset the brute-force key');
      // The count starts again: 9 more failures still do not lock.
      for (let i = 1; i < THRESHOLD; i++)
        assertWrongPassword(await passwordGrant(server, wrongPassword(100 + i)), `wrong password ${i} after the reset`);
      assert.equal((await passwordGrant(server, ALICE.password)).status, 200);
    } finally {
      await server.close();
    }
  });

  it('two servers on one Redis share the count and the lock; deleting the Redis key lifts it on both', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-redis-shared-'));
    let first: TestServer | undefined;
    let second: TestServer | undefined;
    try {
      first = await start({ dir });
      // Same data directory (hence the same tenant id) and master key, started while the first runs.
      second = await start({ dir });
      assert.equal(tenantIdOf(second), tenantIdOf(first));
      // The failures alternate between the servers: the lock needs the shared count of 10.
      for (let i = 1; i <= THRESHOLD; i++) {
        const server = i % 2 === 0 ? second : first;
        assertWrongPassword(await passwordGrant(server, wrongPassword(i)), `wrong password ${i} on server ${i % 2 === 0 ? 2 : 1}`);
      }
      assertLocked(await passwordGrant(first, ALICE.password), 'server 1 after the shared failures');
      assertLocked(await passwordGrant(second, ALICE.password), 'server 2 after the shared failures');

      // The lock is Redis state: without its key, both servers let the right password in.
      const keys = await bruteForceKeys(first);
      assert.equal(keys.length, 1, keys.join(', '));
      await redis.del(keys[0]!);
      const okSecond = await passwordGrant(second, ALICE.password);
      assert.equal(okSecond.status, 200, okSecond.text);
      const okFirst = await passwordGrant(first, ALICE.password);
      assert.equal(okFirst.status, 200, okFirst.text);
    } finally {
      await second?.close();
      await first?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('Redis unreachable: password grant 503 temporarily_unavailable (fail closed), /readyz 503, refresh_token and client_credentials still work', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-redis-down-'));
    try {
      // A refresh token issued while Redis was up.
      const up = await start({ dir });
      const issued = await passwordGrant(up, ALICE.password);
      assert.equal(issued.status, 200, issued.text);
      const refreshToken = issued.body.refresh_token;
      assert.equal(typeof refreshToken, 'string', issued.text);
      await up.close();

      // The same data directory, now with nothing listening where Redis should be.
      const down = await start({ dir, redis: 'redis://127.0.0.1:1' });
      try {
        assertFailClosed(await passwordGrant(down, ALICE.password), 'right password');
        for (let i = 1; i <= THRESHOLD + 2; i++) assertFailClosed(await passwordGrant(down, wrongPassword(i)), `wrong password ${i}`);
        assertFailClosed(await passwordGrant(down, 'whatever', 'nobody@acme.test'), 'unknown user');

        const ready = await get(`${down.url}/readyz`);
        assert.equal(ready.status, 503, ready.text);
        assert.equal(ready.body.reason, 'counters unreachable');
        assert.ok(ready.headers.get('retry-after'));
        assert.equal((await get(`${down.url}/healthz`)).status, 200, 'still alive, only not ready');
        // What a balancer may route on to keep refreshes flowing through a Redis outage (docs/deploy.md).
        const databaseReady = await get(`${down.url}/readyz/database`);
        assert.equal(databaseReady.status, 200, `/readyz/database needs only the database: ${databaseReady.text}`);

        const refreshed = await postForm(down.at('/oauth/token'), {
          grant_type: 'refresh_token',
          refresh_token: refreshToken as string,
          ...WEB,
        });
        assert.equal(refreshed.status, 200, refreshed.text);
        assert.equal(typeof refreshed.body.access_token, 'string');
        const cc = await postForm(down.at('/oauth/token'), { grant_type: 'client_credentials', audience: API, ...WEB });
        assert.equal(cc.status, 200, cc.text);
        assert.equal(typeof cc.body.access_token, 'string');
      } finally {
        await down.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('Redis going away mid-run: logins fail closed, /readyz 503; when it returns, logins work again without a restart', async () => {
    const proxy = await startTcpProxy(redisUrl);
    const server = await start({ redis: `redis://127.0.0.1:${proxy.port}` });
    try {
      // Wait for the server's client to connect, then a normal login.
      await waitUntil('/readyz 200 through the proxy', async () => (await get(`${server.url}/readyz`)).status === 200);
      assert.equal((await passwordGrant(server, ALICE.password)).status, 200);
      assertWrongPassword(await passwordGrant(server, wrongPassword(1)), 'wrong password while up');

      await proxy.stop();
      await waitUntil('/readyz 503 once Redis is gone', async () => (await get(`${server.url}/readyz`)).status === 503);
      assertFailClosed(await passwordGrant(server, ALICE.password), 'right password while Redis is gone');
      assertFailClosed(await passwordGrant(server, wrongPassword(2)), 'wrong password while Redis is gone');

      await proxy.start();
      await waitUntil('/readyz 200 once Redis is back', async () => (await get(`${server.url}/readyz`)).status === 200);
      const ok = await passwordGrant(server, ALICE.password);
      assert.equal(ok.status, 200, ok.text);
    } finally {
      await server.close();
      await proxy.stop().catch(() => undefined);
    }
  });
});
