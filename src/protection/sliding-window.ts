/**
 * A limit that refills gradually, on rate-limiter-flexible's fixed windows:
 * one counter per aligned window, the count of the last `period` estimated
 * from this window's count and the previous one's, weighted by how much of
 * the previous window still lies within one period of now (the "sliding
 * window counter" approximation). Used for suspicious-IP throttling (a day)
 * and failed second-factor codes (an hour).
 */

export interface SlidingWindowPosition {
  /** Index of the current aligned window. */
  index: number;
  /** Fraction of the current window already elapsed, 0 ≤ f < 1. */
  elapsed: number;
}

export function windowPosition(nowMs: number, periodMs: number): SlidingWindowPosition {
  return { index: Math.floor(nowMs / periodMs), elapsed: (nowMs % periodMs) / periodMs };
}

/** How many events the last period holds, estimated. */
export function slidingEstimate(previous: number, current: number, elapsed: number): number {
  return previous * (1 - elapsed) + current;
}

/** How long until the estimate leaves room for one more event (at least 1 s). */
export function msUntilRoom(previous: number, current: number, limit: number, nowMs: number, periodMs: number): number {
  const intoWindow = nowMs % periodMs;
  const room = limit - current - 1;
  if (room >= 0 && previous > 0) {
    const fractionNeeded = 1 - room / previous;
    return Math.max(1000, fractionNeeded * periodMs - intoWindow);
  }
  const untilNextWindow = periodMs - intoWindow;
  return Math.max(1000, untilNextWindow + Math.max(0, 1 - (limit - 1) / Math.max(current, 1)) * periodMs);
}
