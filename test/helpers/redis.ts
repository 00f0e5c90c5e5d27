/**
 * Redis for the suites that need one: the URL comes from
 * LATCHKEY_TEST_REDIS_URL (CI: redis://127.0.0.1:6379). Without it those
 * suites are skipped, loudly: the reason is printed, not only recorded.
 *
 * Other suites may share the same Redis concurrently: use unique key names
 * and never FLUSHALL.
 */
import type { Redis } from 'ioredis';
import pino from 'pino';
import { openRedis } from '../../src/storage/redis/connection.js';

export const TEST_REDIS_URL: string | undefined = process.env.LATCHKEY_TEST_REDIS_URL || undefined;

/**
 * `false` when Redis is configured, else the skip reason (printed once per
 * suite file), for `describe(name, { skip: redisSkip(name) }, …)`.
 */
export function redisSkip(suite: string): string | false {
  if (TEST_REDIS_URL !== undefined) return false;
  const reason =
    'LATCHKEY_TEST_REDIS_URL is not set: the Redis suites need a real Redis (e.g. LATCHKEY_TEST_REDIS_URL=redis://127.0.0.1:6379)';
  console.log(`# SKIPPED ${suite}: ${reason}`);
  return reason;
}

/**
 * A client opened exactly as the server opens it (no offline queue), ready
 * to take commands: resolves on `ready`, rejects after `timeoutMs`.
 */
export async function openReadyRedis(url: string, timeoutMs = 5000): Promise<Redis> {
  const redis = openRedis(url, pino({ level: 'silent' }));
  await waitForReady(redis, timeoutMs);
  return redis;
}

export async function waitForReady(redis: Redis, timeoutMs = 5000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      reject(new Error(`Redis did not become ready within ${timeoutMs} ms (status ${redis.status})`));
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    redis.once('ready', onReady);
  });
}

/** Keys matching `pattern` (SCAN, never KEYS on a shared server). */
export async function scanKeys(redis: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

/**
 * Polls `check` until it returns true, for a condition that becomes true on
 * its own (e.g. a client noticing a dead connection); fails after
 * `timeoutMs` with `what` in the message. Not a sleep: it returns as soon as
 * the condition holds.
 */
export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export { startTcpProxy, type TcpProxy } from './tcp-proxy.js';
