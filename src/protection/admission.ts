/**
 * Admission: where login attempts wait for room. An attempt that finds its
 * limits full of attempts still in flight (failures plus attempts in flight
 * over the limit, attack-protection.ts) is not refused: those others may
 * end well, and refusing would mistake the legitimate parallel logins of one
 * account for an attack. It waits instead, fairly (in the order it first
 * waited), until an attempt on this node ends or a short poll passes
 * (attempts on other nodes, or room freed under another key), and gives up
 * after MAX_WAIT_MS.
 */

/** How long an attempt waits for others in flight on its counters before giving up with 429. */
export const MAX_WAIT_MS = 5000;
/** Between re-checks for room freed under another key (same-node attempts signal when they end). */
const POLL_MS = 20;
/**
 * The same with shared counters (several nodes), where a re-check costs
 * round trips to the database or Redis for every waiter: a waiter polls for
 * other nodes' attempts less often (bench: polling at 20 ms cost more than
 * the logins' own counting).
 */
const SHARED_POLL_MS = 100;

/** One attempt's place in line, from its first wait on. */
export interface Waiter {
  /** Whether the attempt has waited as long as it may. */
  outOfTime(): boolean;
  /** Until an attempt on this node ends or a poll interval passes; keeps the attempt's place in line across waits. */
  wait(): Promise<void>;
}

export class Admission {
  /** Attempts waiting for room, oldest first; each attempt that ends on this node wakes one. */
  private readonly waiting: Array<{ ticket: number; wake: () => void }> = [];
  private nextTicket = 0;
  private readonly pollMs: number;

  /** `sharedCounters`: other nodes count on the same store (storage/counters.ts `shared`). */
  constructor(sharedCounters: boolean) {
    this.pollMs = sharedCounters ? SHARED_POLL_MS : POLL_MS;
  }

  /** An attempt arrives: its time to wait starts now; it takes a place in line only if it has to wait. */
  arrive(): Waiter {
    const deadline = Date.now() + MAX_WAIT_MS;
    let ticket: number | undefined;
    return {
      outOfTime: () => Date.now() >= deadline,
      wait: () => {
        ticket ??= this.nextTicket++;
        return this.waitForAnAttemptToEnd(ticket);
      },
    };
  }

  /** One attempt's end frees room for one waiter: waking them all would have each re-read its counters for nothing. */
  attemptEnded(): void {
    this.waiting.shift()?.wake();
  }

  /** Waiters are kept in the order they first waited, so one that polled and found no room keeps its place. */
  private waitForAnAttemptToEnd(ticket: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = {
        ticket,
        wake: (): void => {
          clearTimeout(timer);
          const index = this.waiting.indexOf(entry);
          if (index >= 0) this.waiting.splice(index, 1);
          resolve();
        },
      };
      const timer = setTimeout(entry.wake, this.pollMs);
      const before = this.waiting.findIndex((other) => other.ticket > ticket);
      this.waiting.splice(before < 0 ? this.waiting.length : before, 0, entry);
    });
  }
}
