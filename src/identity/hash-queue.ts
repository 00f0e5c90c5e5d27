/**
 * Password verification is the one CPU-bound step a client can trigger at
 * will. At most `concurrency` run at once (one per core: more would only
 * slow each down); at most `maxQueue` requests wait; beyond that a request
 * is shed with 503 before any hashing starts, so overload cannot build an
 * unbounded backlog of 20 MiB argon2 computations.
 */
import { TemporarilyUnavailableError } from '../oauth/errors.js';

export interface HashQueueStats {
  running: number;
  waiting: number;
}

export class HashQueue {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    readonly concurrency: number,
    readonly maxQueue: number,
  ) {}

  get stats(): HashQueueStats {
    return { running: this.running, waiting: this.waiting.length };
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.maxQueue) {
        throw new TemporarilyUnavailableError('The server is busy verifying passwords; retry shortly.', 1, {
          errorReason: 'hash_queue_full',
          logDetail: `password hash queue full (${this.running} running, ${this.waiting.length} waiting; raise password_hashing.max_queue or add nodes)`,
        });
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await work();
    } finally {
      // Hand the slot straight to the next waiter, so `running` never dips and lets a newcomer jump the queue.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
