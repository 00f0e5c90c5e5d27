/**
 * The Redis connection for counters. Commands fail fast while Redis is
 * down (no offline queue, one retry), so a login is refused with 503 in
 * milliseconds instead of hanging; the client reconnects on its own.
 */
import { Redis } from 'ioredis';
import type { Logger } from 'pino';

export function openRedis(url: string, logger: Logger): Redis {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    commandTimeout: 2000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  });
  let down = false;
  redis.on('error', (err: Error) => {
    if (down) return;
    down = true;
    logger.error(
      { err: err.message },
      'Redis is unreachable: password logins are refused with 503 until it answers (counters fail closed)',
    );
  });
  redis.on('ready', () => {
    if (down) logger.info('Redis is reachable again');
    down = false;
  });
  return redis;
}

/**
 * Waits (bounded) for the first connection, so a node that just started does
 * not refuse its first logins while Redis is merely still connecting. If
 * Redis stays down, start-up goes on: logins fail closed and /readyz says why.
 */
export async function awaitRedisReady(redis: Redis, timeoutMs: number, logger: Logger): Promise<void> {
  if (redis.status === 'ready') return;
  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      resolve(false);
    }, timeoutMs);
    const onReady = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    redis.once('ready', onReady);
  });
  if (!ready) logger.warn({ waited_ms: timeoutMs }, 'Redis did not answer at start; password logins are refused with 503 until it does');
}
