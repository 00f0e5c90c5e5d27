/**
 * Brute-force protection for the password-checking grants (RFC 6749
 * §4.3.2), modelled on Auth0's attack protection with Entra ID's smart
 * counting:
 *
 * - per identifier and end-user IP: after `threshold` consecutive failures
 *   the pair is locked (429 `too_many_attempts`, `user_blocked`), even with
 *   the right password, until an operator unblocks, the password changes or
 *   `block_seconds` pass;
 * - per identifier across all IPs: a backstop (NIST SP 800-63B: at most 100
 *   consecutive failures), which the allowlist does not bypass;
 * - per end-user IP across identifiers: failed logins per day, refilling
 *   gradually (a sliding window), then `ip_blocked`;
 * - the same wrong password repeated counts once (compared by a keyed
 *   fingerprint kept for a short window, never the password).
 *
 * Every check reserves its count atomically *before* the password is
 * checked, so a parallel burst cannot slip past a limit; a success resets,
 * an attempt that never reached the check is refunded. Unknown identifiers
 * are counted exactly like known ones.
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { KeyedFingerprint } from '../crypto/secrets.js';
import type { Tenant } from '../oauth/catalog.js';
import { TooManyAttemptsError, type ErrorReason } from '../oauth/errors.js';
import { loginKey } from '../storage/sql/user-store.js';
import type { AttackLockStore, ConnectionRecord } from '../storage/stores.js';
import type { Counter, CounterBackend, CounterState } from './counters.js';
import { ipCounterKey } from './ip.js';
import type { SecurityEvents } from './security-events.js';

const DAY_MS = 86_400_000;

/** The wording Auth0 uses, so apps that show it keep making sense. */
const USER_BLOCKED_MESSAGE = 'Too many failed sign-in attempts for this account from this location; it is blocked. Try again later or contact the administrator.';
const IP_BLOCKED_MESSAGE = 'Too many failed sign-in attempts from this IP address; try again later.';

export interface LoginAttemptInput {
  tenant: Tenant;
  connection: ConnectionRecord;
  clientId: string;
  identifier: string;
  password: string;
  /** Canonical end-user IP (protection/end-user-ip.ts). */
  ip: string;
}

interface TenantCounters {
  bruteForce: Counter;
  backstop: Counter;
  suspiciousIp: Counter;
  /** Marks an IP whose throttle was already reported (ip_throttled). */
  ipThrottled: Counter;
  samePassword: Counter;
  rateTenant: Counter | undefined;
  rateClient: Map<string, Counter>;
}

interface Reservation {
  counter: Counter;
  key: string;
  state: CounterState;
}

export type FailureReason = 'unknown_user' | 'wrong_password' | 'no_password' | 'rejected';

export class AttackProtection {
  private readonly countersByTenant = new Map<string, TenantCounters>();

  constructor(
    private readonly backend: CounterBackend,
    private readonly locks: AttackLockStore,
    private readonly events: SecurityEvents,
    private readonly fingerprints: KeyedFingerprint,
    private readonly clock: Clock,
  ) {}

  /**
   * Checks and reserves before the password is checked. Throws 429 when the
   * identifier (from this IP or everywhere) is locked or the IP throttled.
   */
  async beginLogin(input: LoginAttemptInput): Promise<LoginAttempt> {
    const { tenant, connection, ip } = input;
    const settings = tenant.protection.attack;
    const counters = this.countersFor(tenant);
    const identifierKey = identifierKeyOf(connection.id, input.identifier);
    const ipKey = ipCounterKey(ip);
    const allowlisted = tenant.protection.allowlist.has(ip);
    const fingerprint =
      settings.brute_force.same_password_window_seconds > 0
        ? `${tenant.id}:${this.fingerprints.of(tenant.id, connection.id, loginKey(input.identifier), input.password)}`
        : undefined;
    const context = { tenantId: tenant.id, clientId: input.clientId, connection: connection.name, identifier: input.identifier, ip };
    const attempt = new LoginAttempt(this, input, identifierKey, ipKey, fingerprint);

    const checks: Array<Promise<Refusal | undefined>> = [];
    if (settings.brute_force.enabled && !allowlisted) {
      checks.push(this.reserveConsecutive(attempt, counters.bruteForce, `${tenant.id}:${identifierKey}:${ipKey}`, settings.brute_force.threshold, 'user_blocked', 'brute_force'));
    }
    if (settings.backstop.enabled) {
      checks.push(this.reserveConsecutive(attempt, counters.backstop, `${tenant.id}:${identifierKey}`, settings.backstop.threshold, 'user_blocked', 'backstop'));
    }
    if (settings.suspicious_ip.enabled && !allowlisted) {
      checks.push(this.reserveIp(attempt, counters.suspiciousIp, `${tenant.id}:${ipKey}`, settings.suspicious_ip.per_day));
    }
    // Every read and reservation is issued at once: one transaction on the database backend.
    const [seenBefore, ...outcomes] = await Promise.all([fingerprint === undefined ? null : counters.samePassword.peek(fingerprint), ...checks]);
    const refusals = outcomes.filter((r): r is Refusal => r !== undefined);
    if (refusals.length === 0) {
      if (seenBefore !== null) {
        // The same wrong password moments ago: it is checked again (the password may have changed since) but counts nothing.
        attempt.repeat = true;
        await attempt.releaseReservations();
      }
      return attempt;
    }

    // Refused before the password check: the attempt counts nowhere else. The counter that refused keeps its point:
    // a lock may have been set on it meanwhile (block() writes threshold+1), and giving points back after that
    // would reopen it. The IP window has no lock to reopen, so it gets its point back.
    const keep = new Set(refusals.filter((r) => r.kind !== 'ip_blocked').map((r) => r.key));
    await attempt.refund((reservation) => !keep.has(reservation.key));
    const refusal = refusals.find((r) => r.errorReason === 'ip_blocked') ?? refusals[0]!;
    if (refusal.errorReason === 'ip_blocked' && (await this.firstThrottle(counters, `${tenant.id}:${ipKey}`, refusal.retryAfterMs))) {
      await this.events.record({ type: 'ip_throttled', reason: 'ip_blocked', ...context, details: { per_day: settings.suspicious_ip.per_day } });
    }
    await this.events.record({ type: 'login_blocked', reason: refusal.kind, ...context });
    throw new TooManyAttemptsError(refusal.errorReason === 'ip_blocked' ? IP_BLOCKED_MESSAGE : USER_BLOCKED_MESSAGE, refusal.retryAfterMs / 1000, {
      errorReason: refusal.errorReason,
      logDetail: `login refused before the password check: ${refusal.kind} (tenant ${tenant.name}, connection ${connection.name}, ip ${ip})`,
    });
  }

  /** Token-endpoint rate limit of the whole tenant: checked before client authentication. */
  async checkTenantRateLimit(tenant: Tenant): Promise<void> {
    const limit = tenant.protection.rateLimits.tenant;
    const counter = this.countersFor(tenant).rateTenant;
    if (!limit || !counter) return;
    await this.enforceRateLimit(counter, tenant.id, tenant, undefined, 'tenant', limit.requests);
  }

  /** Per-application rate limit: after authentication, so only the client itself spends its quota. */
  async checkClientRateLimit(tenant: Tenant, clientId: string): Promise<void> {
    const app = tenant.applications.get(clientId);
    const limit = app?.settings.rate_limit ?? tenant.protection.rateLimits.client;
    if (!limit) return;
    const counters = this.countersFor(tenant);
    let counter = counters.rateClient.get(clientId);
    if (!counter) {
      counter = this.backend.counter({ name: `rc:${tenant.id}:${clientId}`, limit: limit.requests, windowSeconds: limit.per_seconds });
      counters.rateClient.set(clientId, counter);
    }
    await this.enforceRateLimit(counter, 'all', tenant, clientId, 'client', limit.requests);
  }

  /**
   * Clears every lock of these identifiers (per-IP and backstop), e.g. on
   * `latchkey users unblock` or a password change. Returns how many locks
   * were in force.
   */
  async unblock(tenant: Tenant, connection: ConnectionRecord, identifiers: string[], reason: 'operator' | 'password_changed', userId?: string): Promise<number> {
    const counters = this.countersFor(tenant);
    let cleared = 0;
    for (const identifierKey of new Set(identifiers.map((i) => identifierKeyOf(connection.id, i)))) {
      const locks = await this.locks.listForIdentifier(tenant.id, connection.id, identifierKey, this.clock.now());
      for (const lock of locks) {
        if (lock.ip !== null) await counters.bruteForce.reset(`${tenant.id}:${identifierKey}:${lock.ip}`);
      }
      await counters.backstop.reset(`${tenant.id}:${identifierKey}`);
      await this.locks.removeForIdentifier(tenant.id, connection.id, identifierKey);
      cleared += locks.length;
    }
    if (cleared > 0 || reason === 'operator') {
      await this.events.record({ type: 'user_unblocked', reason, tenantId: tenant.id, connection: connection.name, userId, identifier: identifiers[0], details: { locks_cleared: cleared } });
    }
    return cleared;
  }

  /** @internal A verified login's final word: success, or refused for a reason told only to who knew the password. */
  async recordOutcome(attempt: LoginAttempt, type: 'login_success' | 'login_failure', reason: string | undefined, userId: string): Promise<void> {
    const { tenant, connection, clientId, identifier, ip } = attempt.input;
    await this.events.record({ type, reason, tenantId: tenant.id, clientId, connection: connection.name, userId, identifier, ip });
  }

  /** @internal LoginAttempt's outcomes. */
  async settle(attempt: LoginAttempt, outcome: { kind: 'verified' } | { kind: 'failed'; reason: FailureReason; userId: string | undefined }): Promise<void> {
    const { tenant, connection, clientId, identifier, ip } = attempt.input;
    const counters = this.countersFor(tenant);
    if (outcome.kind === 'verified') {
      // Consecutive failures end with a success; the IP's reserved failure is given back.
      await Promise.all(
        attempt.reservations.map((r) => {
          if (r.counter !== counters.suspiciousIp) return r.counter.reset(r.key);
          return attempt.repeat ? undefined : r.counter.refund(r.key);
        }),
      );
      return;
    }
    const settings = tenant.protection.attack;
    if (attempt.fingerprint !== undefined && !attempt.repeat) await counters.samePassword.consume(attempt.fingerprint);
    if (attempt.repeat) {
      await this.recordFailure(attempt, outcome.reason, outcome.userId);
      return;
    }
    await this.recordFailure(attempt, outcome.reason, outcome.userId);
    for (const reservation of attempt.reservations) {
      const isBruteForce = reservation.counter === counters.bruteForce;
      const isBackstop = reservation.counter === counters.backstop;
      if (!isBruteForce && !isBackstop) continue;
      const threshold = isBruteForce ? settings.brute_force.threshold : settings.backstop.threshold;
      // Only the reservation that reached the threshold locks, so a burst locks once.
      if (reservation.state.consumed !== threshold) continue;
      const blockSeconds = isBruteForce ? settings.brute_force.block_seconds : (settings.backstop.block_seconds ?? settings.brute_force.block_seconds);
      await reservation.counter.block(reservation.key, blockSeconds);
      const now = this.clock.now();
      await this.locks.record({
        tenantId: tenant.id,
        connectionId: connection.id,
        identifierKey: attempt.identifierKey,
        identifier,
        ip: isBruteForce ? attempt.ipKey : null,
        lockedAt: now,
        expiresAt: new Date(now.getTime() + blockSeconds * 1000),
      });
      await this.events.record({
        type: 'user_locked',
        reason: isBruteForce ? 'brute_force' : 'backstop',
        tenantId: tenant.id,
        clientId,
        connection: connection.name,
        userId: outcome.userId,
        identifier,
        ip,
        details: { threshold, block_seconds: blockSeconds },
      });
    }
  }

  private async recordFailure(attempt: LoginAttempt, reason: FailureReason, userId: string | undefined): Promise<void> {
    const { tenant, connection, clientId, identifier, ip } = attempt.input;
    await this.events.record({
      type: 'login_failure',
      reason,
      tenantId: tenant.id,
      clientId,
      connection: connection.name,
      userId,
      identifier,
      ip,
      ...(attempt.repeat ? { details: { repeated_password: true } } : {}),
    });
  }

  private async reserveConsecutive(attempt: LoginAttempt, counter: Counter, key: string, threshold: number, errorReason: ErrorReason, kind: string): Promise<Refusal | undefined> {
    const result = await counter.consume(key);
    attempt.reservations.push({ counter, key, state: result });
    if (result.consumed > threshold) return { errorReason, kind, key, retryAfterMs: result.msBeforeReset };
    return undefined;
  }

  /**
   * Failed logins per IP and day, refilling gradually: a sliding window
   * estimated from today's count and yesterday's, weighted by how much of
   * yesterday still lies inside the last 24 hours.
   */
  private async reserveIp(attempt: LoginAttempt, counter: Counter, ipKey: string, perDay: number): Promise<Refusal | undefined> {
    const now = this.clock.now().getTime();
    const day = Math.floor(now / DAY_MS);
    const elapsed = (now % DAY_MS) / DAY_MS;
    const currentKey = `${ipKey}:${day}`;
    // Issued together, so they share one transaction with the login's other counters.
    const [yesterday, today] = await Promise.all([counter.peek(`${ipKey}:${day - 1}`), counter.consume(currentKey)]);
    attempt.reservations.push({ counter, key: currentKey, state: today });
    const previous = yesterday?.consumed ?? 0;
    const current = today.consumed;
    const estimate = previous * (1 - elapsed) + current;
    if (estimate <= perDay) return undefined;
    return {
      errorReason: 'ip_blocked',
      kind: 'ip_blocked',
      key: currentKey,
      // Whether this refusal is the throttle's first is for firstThrottle(): the refund leaves the count as it was, so it cannot tell.
      retryAfterMs: msUntilRoom(previous, current - 1, perDay, now),
    };
  }

  /**
   * Whether this is the first ip_blocked refusal of the IP's current
   * throttle: one ip_throttled event per throttle, not one per refusal. A
   * marker, atomic under a parallel burst, lasting until the IP has room
   * again; a later throttle logs again.
   */
  private async firstThrottle(counters: TenantCounters, key: string, retryAfterMs: number): Promise<boolean> {
    const marker = await counters.ipThrottled.consume(key);
    if (marker.consumed !== 1) return false;
    await counters.ipThrottled.block(key, Math.max(1, Math.ceil(retryAfterMs / 1000)));
    return true;
  }

  private async enforceRateLimit(counter: Counter, key: string, tenant: Tenant, clientId: string | undefined, scope: 'tenant' | 'client', limit: number): Promise<void> {
    const result = await counter.consume(key);
    if (result.allowed) return;
    if (result.consumed === limit + 1) {
      await this.events.record({ type: 'rate_limited', reason: scope, tenantId: tenant.id, clientId, details: { limit } });
    }
    throw new TooManyAttemptsError(`Too many token requests for this ${scope === 'tenant' ? 'tenant' : 'application'}; retry after the time in Retry-After.`, result.msBeforeReset / 1000, {
      errorReason: 'rate_limited',
      logDetail: `token endpoint rate limit of the ${scope} reached (${limit} requests; tenant ${tenant.name}${clientId === undefined ? '' : `, client ${clientId}`})`,
    });
  }

  private countersFor(tenant: Tenant): TenantCounters {
    let counters = this.countersByTenant.get(tenant.id);
    if (counters) return counters;
    const attack = tenant.protection.attack;
    const rate = tenant.protection.rateLimits;
    counters = {
      bruteForce: this.backend.counter({ name: 'bf', limit: attack.brute_force.threshold, windowSeconds: attack.brute_force.block_seconds }),
      backstop: this.backend.counter({ name: 'bs', limit: attack.backstop.threshold, windowSeconds: attack.backstop.block_seconds ?? attack.brute_force.block_seconds }),
      // Keyed per day; each key lives two days, so yesterday's count is still there to weigh.
      suspiciousIp: this.backend.counter({ name: 'ip', limit: attack.suspicious_ip.per_day, windowSeconds: 2 * 86_400 }),
      ipThrottled: this.backend.counter({ name: 'ipt', limit: 1, windowSeconds: 2 * 86_400 }),
      samePassword: this.backend.counter({ name: 'rp', limit: 1_000_000, windowSeconds: Math.max(1, attack.brute_force.same_password_window_seconds) }),
      rateTenant: rate.tenant ? this.backend.counter({ name: `rt:${tenant.id}`, limit: rate.tenant.requests, windowSeconds: rate.tenant.per_seconds }) : undefined,
      rateClient: new Map(),
    };
    this.countersByTenant.set(tenant.id, counters);
    return counters;
  }
}

interface Refusal {
  errorReason: ErrorReason;
  kind: string;
  /** The counter key that refused. */
  key: string;
  retryAfterMs: number;
}

/** One password attempt between its checks and its outcome. */
export class LoginAttempt {
  readonly reservations: Reservation[] = [];
  /** The same wrong password as moments ago: its reservations were released, it counts nothing. */
  repeat = false;
  private released = false;
  private settled = false;

  constructor(
    private readonly protection: AttackProtection,
    readonly input: LoginAttemptInput,
    readonly identifierKey: string,
    readonly ipKey: string,
    readonly fingerprint: string | undefined,
  ) {}

  /** Gives back every reserved point, once. */
  async releaseReservations(which: (reservation: Reservation) => boolean = () => true): Promise<void> {
    if (this.released) return;
    this.released = true;
    await Promise.all(this.reservations.filter(which).map((r) => r.counter.refund(r.key)));
  }

  /** The credentials were refused: the reservation stands, and may lock. */
  async failed(reason: FailureReason, userId?: string): Promise<void> {
    if (this.settle()) await this.protection.settle(this, { kind: 'failed', reason, userId });
  }

  /**
   * The password was right and tokens will be issued: consecutive-failure
   * counts end here. `reason` flags a breached password that policy lets through.
   */
  async succeeded(userId: string, reason?: 'password_breached'): Promise<void> {
    await this.verifiedWith('login_success', reason, userId);
  }

  /** The password was right, but policy refuses the login (blocked user, breached password); the counts still end. */
  async refused(userId: string, reason: 'user_blocked' | 'password_breached'): Promise<void> {
    await this.verifiedWith('login_failure', reason, userId);
  }

  private async verifiedWith(type: 'login_success' | 'login_failure', reason: string | undefined, userId: string): Promise<void> {
    if (!this.settle()) return;
    // Issued together: the resets and the event share one transaction.
    await Promise.all([this.protection.settle(this, { kind: 'verified' }), this.protection.recordOutcome(this, type, reason, userId)]);
  }

  /** The check never happened (the server was busy or a dependency failed): nothing counts. */
  async refund(which: (reservation: Reservation) => boolean = () => true): Promise<void> {
    if (!this.settle()) return;
    await this.releaseReservations(which);
  }

  private settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    return true;
  }
}

/** The connection and the login as typed, normalised as the user store matches it, hashed to bound the key. */
export function identifierKeyOf(connectionId: string, identifier: string): string {
  return createHash('sha256').update(`${connectionId}\0${loginKey(identifier)}`).digest('base64url').slice(0, 32);
}

/** How long until the sliding window has room for one more attempt. */
function msUntilRoom(previous: number, current: number, limit: number, now: number): number {
  const intoDay = now % DAY_MS;
  const room = limit - current - 1;
  if (room >= 0 && previous > 0) {
    const fractionNeeded = 1 - room / previous;
    return Math.max(1000, fractionNeeded * DAY_MS - intoDay);
  }
  const untilTomorrow = DAY_MS - intoDay;
  return untilTomorrow + Math.max(0, 1 - (limit - 1) / Math.max(current, 1)) * DAY_MS;
}
