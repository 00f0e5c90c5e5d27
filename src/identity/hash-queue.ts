/**
 * Password verification is the one CPU-bound step a client can trigger at
 * will. At most `concurrency` run at once (one per core: more would only
 * slow each down); at most `maxQueue` requests wait; beyond that a request
 * is shed with 503 before any hashing starts, so overload cannot build an
 * unbounded backlog of 20 MiB argon2 computations.
 *
 * Admission is fair per end-user IP (issue #11 point 4, OWASP Denial of
 * Service Cheat Sheet: limit expensive operations per client): one IP holds
 * at most `maxPerIp` places, running and waiting together, and is refused
 * with 429 beyond them, so it can never fill the queue for everyone else;
 * and waiters are served round-robin across IPs, so a sign-in from another
 * IP waits behind at most one check of each busy IP, not behind a flood's
 * whole backlog.
 *
 * Background work (a user import's passwords) takes only slots no sign-in
 * is waiting for: it never holds a waiting place, so it can neither shed a
 * sign-in nor make one wait longer than for one computation already running.
 */
import { TemporarilyUnavailableError, TooManyAttemptsError } from '../domain/errors.js';

export interface HashQueueStats {
  running: number;
  waiting: number;
}

/**
 * Work queued without an end-user IP (rehashing after a successful login):
 * its own turn in the rotation, and no per-IP cap.
 */
const UNATTRIBUTED = '';

/** The default share of one IP: a quarter of every place (running and waiting), at least one. */
export function defaultMaxPerIp(concurrency: number, maxQueue: number): number {
  return Math.max(1, Math.ceil((concurrency + maxQueue) / 4));
}

export class HashQueue {
  private running = 0;
  private waitingCount = 0;
  /**
   * Waiters by IP, oldest first. The map's order is the rotation: the IP
   * served next is the first entry, and it moves to the back once served
   * (a new IP joins at the back).
   */
  private readonly lanes = new Map<string, Array<() => void>>();
  /** Places (running and waiting) each IP holds. */
  private readonly held = new Map<string, number>();
  /** Background work waiting for a slot no sign-in wants, oldest first. */
  private readonly background: Array<() => void> = [];

  constructor(
    readonly concurrency: number,
    readonly maxQueue: number,
    readonly maxPerIp: number = defaultMaxPerIp(concurrency, maxQueue),
  ) {}

  get stats(): HashQueueStats {
    return { running: this.running, waiting: this.waitingCount };
  }

  /**
   * Runs `work` once a slot is free. `ip` is the end-user IP the check is
   * for (its counter key: IPv6 by /64); without one the work is only
   * bounded by the queue as a whole.
   */
  async run<T>(work: () => Promise<T>, ip?: string): Promise<T> {
    const mustWait = this.running >= this.concurrency;
    // A full queue is the server's state, told first: 503 whoever asks.
    if (mustWait && this.waitingCount >= this.maxQueue) {
      throw new TemporarilyUnavailableError('The server is busy verifying passwords; retry shortly.', 1, {
        errorReason: 'hash_queue_full',
        logDetail: `password hash queue full (${this.running} running, ${this.waitingCount} waiting; raise password_hashing.max_queue or add nodes)`,
      });
    }
    const lane = ip ?? UNATTRIBUTED;
    const holding = this.held.get(lane) ?? 0;
    if (ip !== undefined && holding >= this.maxPerIp) {
      throw new TooManyAttemptsError('Too many password checks from this IP address are in progress at once; retry shortly.', 1, {
        errorReason: 'ip_concurrent_checks',
        logDetail: `end-user IP ${ip} already holds ${holding} places in the password hash queue (password_hashing.max_queue_per_ip is ${this.maxPerIp}); its further checks are refused until some finish`,
      });
    }
    this.held.set(lane, holding + 1);
    try {
      if (mustWait) await this.waitForTurn(lane);
      else this.running++;
      try {
        return await work();
      } finally {
        this.handOver();
      }
    } finally {
      const left = (this.held.get(lane) ?? 1) - 1;
      if (left === 0) this.held.delete(lane);
      else this.held.set(lane, left);
    }
  }

  /**
   * Runs `work` on a slot no sign-in is waiting for: at once when one is
   * free and nobody waits, else after every waiting sign-in has had its
   * turn. It holds no place of the queue (`maxQueue` is for sign-ins), so
   * the caller bounds how much it submits (a user import: `concurrency`).
   */
  async runInBackground<T>(work: () => Promise<T>): Promise<T> {
    if (this.running < this.concurrency && this.waitingCount === 0) this.running++;
    else await new Promise<void>((resolve) => this.background.push(resolve));
    try {
      return await work();
    } finally {
      this.handOver();
    }
  }

  private waitForTurn(lane: string): Promise<void> {
    this.waitingCount++;
    return new Promise<void>((resolve) => {
      const waiters = this.lanes.get(lane);
      if (waiters) waiters.push(resolve);
      else this.lanes.set(lane, [resolve]);
    });
  }

  /**
   * Hands the finished job's slot straight to the next IP in the rotation,
   * so `running` never dips and lets a newcomer jump the queue.
   */
  private handOver(): void {
    const next = this.lanes.entries().next();
    if (next.done === true) {
      // No sign-in waits: the slot goes to background work, else it is free.
      const backgroundTurn = this.background.shift();
      if (backgroundTurn) backgroundTurn();
      else this.running--;
      return;
    }
    const [lane, waiters] = next.value;
    const wake = waiters.shift();
    this.lanes.delete(lane);
    // Served: to the back of the rotation if it still has waiters.
    if (waiters.length > 0) this.lanes.set(lane, waiters);
    this.waitingCount--;
    wake?.();
  }
}
