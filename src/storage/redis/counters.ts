/**
 * The Redis counter backend (storage/counters.ts), used when `redis` is
 * configured: rate-limiter-flexible's RateLimiterRedis for counters, a Lua
 * script for the token buckets' TAT. A Redis failure fails closed: the
 * attempt is refused with 503 `temporarily_unavailable`, never let through
 * unchecked.
 */
import type { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { systemClock, type Clock } from '../../clock.js';
import { TemporarilyUnavailableError } from '../../domain/errors.js';
import type { CounterBackend } from '../counters.js';
import { LimiterCounter } from '../limiter-counter.js';
import { tokenBucket, type TatStore } from '../token-bucket.js';

export function redisCounterBackend(redis: Redis, describe: string, clock: Clock = systemClock): CounterBackend {
  const failClosed = (err: unknown, operation: string): never => {
    throw new TemporarilyUnavailableError('Sign-in protection is unavailable; retry shortly.', 5, {
      errorReason: 'storage_unavailable',
      logDetail:
        `attack-protection counters in Redis (${describe}) failed on ${operation}: ${(err as Error)?.message ?? String(err)}; ` +
        'logins are refused until Redis answers',
    });
  };
  return {
    describe,
    shared: true,
    counter: ({ name, limit, windowSeconds }) =>
      new LimiterCounter(
        new RateLimiterRedis({
          storeClient: redis,
          keyPrefix: `latchkey:${name}`,
          points: limit,
          duration: windowSeconds,
          rejectIfRedisNotReady: true,
        }),
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

const ADVANCE_SCRIPT = `
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
if tat < now then tat = now end
tat = tat + interval
redis.call('SET', KEYS[1], tat, 'PX', tat - now + interval)
return tat`;

/** On Redis: fails closed (503), as the other counters do. */
function redisTatStore(redis: Redis, describe: string): TatStore {
  const failClosed = (err: unknown): never => {
    throw new TemporarilyUnavailableError('Sign-in protection is unavailable; retry shortly.', 5, {
      errorReason: 'storage_unavailable',
      logDetail: `token bucket in Redis (${describe}) failed: ${(err as Error)?.message ?? String(err)}`,
    });
  };
  return {
    async advance(key, now, interval) {
      try {
        return Number(await redis.eval(ADVANCE_SCRIPT, 1, `latchkey:tb:${key}`, String(now), String(interval)));
      } catch (err) {
        return failClosed(err);
      }
    },
    async rewind(key, interval) {
      try {
        await redis.decrby(`latchkey:tb:${key}`, interval);
      } catch (err) {
        failClosed(err);
      }
    },
    async clear(key) {
      try {
        await redis.del(`latchkey:tb:${key}`);
      } catch (err) {
        failClosed(err);
      }
    },
  };
}
