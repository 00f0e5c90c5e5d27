/**
 * What several nodes must agree on at once, in Redis when `redis` is set
 * (DESIGN.md §1, issue #6): single-use keys (client-assertion jti, mfa_token,
 * OTP codes) and word that a tenant's signing keys changed. Without Redis the
 * database does both (consumed_jtis; nodes re-read keys every 10 s).
 * Fail closed: Redis down refuses what needs it with 503, never lets a key
 * be used twice.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { TemporarilyUnavailableError } from '../domain/errors.js';
import type { SingleUseKeyStore } from '../storage/stores.js';

const JTI_PREFIX = 'latchkey:jti:';
const KEY_ROTATION_CHANNEL = 'latchkey:signing-keys-changed';

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

/**
 * Signing-key changes, announced to every node (Redis pub/sub) so their JWKS
 * and signing keys change at once rather than at the next 10-second re-read.
 * Best effort: a node that misses a message still re-reads within 10 s.
 */
export class KeyChangeNotices {
  private subscriber: Redis | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly logger: Logger,
  ) {}

  async listen(onChange: (tenantId: string) => void): Promise<void> {
    // A subscribed connection can do nothing else; it queues while reconnecting, so it resubscribes by itself.
    this.subscriber = this.redis.duplicate({ enableOfflineQueue: true });
    this.subscriber.on('error', () => undefined); // the main connection already reports Redis going away
    this.subscriber.on('message', (_channel: string, tenantId: string) => onChange(tenantId));
    try {
      await this.subscriber.subscribe(KEY_ROTATION_CHANNEL);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'could not subscribe to signing-key changes in Redis; this node picks rotated keys up within 10 s instead');
    }
  }

  async announce(tenantId: string): Promise<void> {
    try {
      await this.redis.publish(KEY_ROTATION_CHANNEL, tenantId);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'could not announce the key change in Redis; running nodes pick it up within 10 s');
    }
  }

  async close(): Promise<void> {
    this.subscriber?.disconnect();
  }
}
