/**
 * A change announced to every node over Redis pub/sub, so each node acts on
 * it at once (signing keys re-read, the catalog reloaded). Best effort: a
 * node that misses a message falls back on what the channel's owner says
 * (a periodic re-read, or the next start). Without Redis there is nothing to
 * announce through.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

export interface ChangeChannel {
  /** The Redis channel name. */
  name: string;
  /** What a node that cannot subscribe does instead, for the warning. */
  fallback: string;
}

export class ChangeNotices {
  private subscriber: Redis | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly logger: Logger,
    private readonly channel: ChangeChannel,
  ) {}

  /** `onChange` gets the tenant id each message names. */
  async listen(onChange: (tenantId: string) => void): Promise<void> {
    // A subscribed connection can do nothing else; it queues while reconnecting, so it resubscribes by itself.
    this.subscriber = this.redis.duplicate({ enableOfflineQueue: true });
    this.subscriber.on('error', () => undefined); // the main connection already reports Redis going away
    this.subscriber.on('message', (_channel: string, tenantId: string) => onChange(tenantId));
    try {
      await this.subscriber.subscribe(this.channel.name);
    } catch (err) {
      this.logger.warn(
        { err: (err as Error).message, channel: this.channel.name },
        `could not subscribe to ${this.channel.name} in Redis; ${this.channel.fallback}`,
      );
    }
  }

  async announce(tenantId: string): Promise<void> {
    try {
      await this.redis.publish(this.channel.name, tenantId);
    } catch (err) {
      this.logger.warn(
        { err: (err as Error).message, channel: this.channel.name },
        `could not announce on ${this.channel.name} in Redis; ${this.channel.fallback}`,
      );
    }
  }

  async close(): Promise<void> {
    this.subscriber?.disconnect();
  }
}
