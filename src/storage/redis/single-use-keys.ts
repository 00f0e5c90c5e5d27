/**
 * Single-use keys (client-assertion jti, mfa_token, OTP codes) in Redis when
 * `redis` is set, so every node agrees at once (DESIGN.md §1, issue #6);
 * without Redis the database keeps them (consumed_jtis). Fail closed: Redis
 * down refuses what needs it with 503, never lets a key be used twice.
 */
import type { Redis } from 'ioredis';
import { TemporarilyUnavailableError } from '../../domain/errors.js';
import type { SingleUseKeyStore } from '../stores.js';

const JTI_PREFIX = 'latchkey:jti:';

function unavailable(err: unknown): TemporarilyUnavailableError {
  return new TemporarilyUnavailableError('A dependency of this server is unavailable; retry shortly.', 1, {
    errorReason: 'storage_unavailable',
    logDetail: `Redis (single-use keys) failed: ${(err as Error).message}`,
  });
}

export class RedisSingleUseKeyStore implements SingleUseKeyStore {
  constructor(private readonly redis: Redis) {}

  async consume(key: string, expiresAt: Date, now: Date): Promise<boolean> {
    // Kept at least a second: an expiry in the past would make SET refuse the key and the check meaningless.
    const ttlMs = Math.max(1000, expiresAt.getTime() - now.getTime());
    try {
      return (await this.redis.set(`${JTI_PREFIX}${key}`, '1', 'PX', ttlMs, 'NX')) === 'OK';
    } catch (err) {
      throw unavailable(err);
    }
  }

  async isConsumed(key: string): Promise<boolean> {
    try {
      return (await this.redis.exists(`${JTI_PREFIX}${key}`)) === 1;
    } catch (err) {
      throw unavailable(err);
    }
  }
}
