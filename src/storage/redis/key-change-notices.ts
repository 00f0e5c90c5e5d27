/**
 * Signing-key changes, announced to every node (Redis pub/sub) so their JWKS
 * and signing keys change at once rather than at the next 10-second re-read.
 * Best effort: a node that misses a message still re-reads within 10 s.
 * Without Redis there is nothing to announce through: nodes re-read.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

const KEY_ROTATION_CHANNEL = 'latchkey:signing-keys-changed';

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
      this.logger.warn(
        { err: (err as Error).message },
        'could not subscribe to signing-key changes in Redis; this node picks rotated keys up within 10 s instead',
      );
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
