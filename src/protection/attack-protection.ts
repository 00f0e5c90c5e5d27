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
 * Two counts per scope: failures (what locks), and attempts in flight
 * (reserved atomically before the password is hashed, given back when the
 * attempt ends). An attempt goes ahead only while failures plus attempts in
 * flight stay within the limit, so a parallel burst cannot slip past it;
 * beyond it, attempts wait for those in flight instead of being refused, so
 * legitimate parallel logins of one account are not mistaken for an attack.
 * A success resets the failures. Unknown identifiers are counted exactly like
 * known ones.
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { KeyedFingerprint } from '../crypto/secrets.js';
import type { Tenant } from '../oauth/catalog.js';
import { TooManyAttemptsError, type ErrorReason } from '../oauth/errors.js';
import { loginKey } from '../storage/sql/user-store.js';
import type { AttackLockStore, ConnectionRecord } from '../storage/stores.js';
import { memoryCounter, type Counter, type CounterBackend, type CounterState } from './counters.js';
import { ipCounterKey } from './ip.js';
import { msUntilRoom, slidingEstimate, windowPosition } from './sliding-window.js';
import type { SecurityEvents } from './security-events.js';

const DAY_MS = 86_400_000;
/** An attempt's in-flight mark expires after this, should its node die before giving it back. */
const IN_FLIGHT_WINDOW_SECONDS = 60;
/** How long an attempt waits for others in flight on its counters before giving up with 429. */
const CONTENTION_WAIT_MS = 5000;
/** Between re-checks for room freed under another key (same-node attempts signal when they end). */
const CONTENTION_POLL_MS = 20;
/**
 * The same with shared counters (several nodes), where a re-check costs
 * round trips to the database or Redis for every waiter: a waiter polls for
 * other nodes' attempts less often (bench: polling at 20 ms cost more than
 * the logins' own counting).
 */
const SHARED_CONTENTION_POLL_MS = 100;

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
  inFlight: Counter;
  ipThrottled: Counter;
  samePassword: Counter;
  rateTenant: Counter | undefined;
  rateClient: Map<string, Counter>;
}

type ScopeKind = 'brute_force' | 'backstop' | 'ip_blocked';

/** One limit an attempt is checked against: its failure count and its in-flight count. */
interface Scope {
  kind: ScopeKind;
  limit: number;
  failures: Counter;
  /** Where a failure is counted (for the IP: today's window). */
  failureKey: string;
  /** The IP's window of yesterday, weighed into the sliding estimate. */
  previousDayKey?: string;
  inFlightKey: string;
}

interface ScopeCheck {
  scope: Scope;
  /** Failures so far (the IP's sliding estimate). */
  failures: number;
  /** Attempts in flight, this one included. */
  inFlight: number;
  msBeforeReset: number;
  /** For the IP's Retry-After. */
  previous: number;
  current: number;
}

export type FailureReason = 'unknown_user' | 'wrong_password' | 'no_password';

export class AttackProtection {
  private readonly countersByTenant = new Map<string, TenantCounters>();
  /** Attempts waiting for room, oldest first; each attempt that ends on this node wakes one. */
  private readonly waiting: Array<{ ticket: number; wake: () => void }> = [];
  private nextTicket = 0;

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
    const scopes: Scope[] = [];
    if (settings.brute_force.enabled && !allowlisted) {
      const key = bruteForceKey(tenant.id, identifierKey, ipKey);
      scopes.push({ kind: 'brute_force', limit: settings.brute_force.threshold, failures: counters.bruteForce, failureKey: key, inFlightKey: `bf:${key}` });
    }
    if (settings.backstop.enabled) {
      const key = backstopKey(tenant.id, identifierKey);
      scopes.push({ kind: 'backstop', limit: settings.backstop.threshold, failures: counters.backstop, failureKey: key, inFlightKey: `bs:${key}` });
    }
    if (settings.suspicious_ip.enabled && !allowlisted) {
      const day = windowPosition(this.clock.now().getTime(), DAY_MS).index;
      const key = `${tenant.id}:${ipKey}`;
      scopes.push({
        kind: 'ip_blocked',
        limit: settings.suspicious_ip.per_day,
        failures: counters.suspiciousIp,
        failureKey: `${key}:${day}`,
        previousDayKey: `${key}:${day - 1}`,
        inFlightKey: `ip:${key}`,
      });
    }
    const attempt = new LoginAttempt(this, input, identifierKey, ipKey, fingerprint, scopes);

    const deadline = Date.now() + CONTENTION_WAIT_MS;
    for (;;) {
      const readSeen = (): Promise<CounterState | null> => (fingerprint === undefined ? Promise.resolve(null) : counters.samePassword.peek(fingerprint));
      const checked = await this.checkScopes(scopes, counters.inFlight, readSeen);
      if (checked === undefined) {
        await this.waitOrGiveUp(attempt, deadline);
        continue;
      }
      const { checks, seenBefore } = checked;
      const locked = checks.filter((c) => c.failures + 1 > c.scope.limit);
      if (locked.length > 0) {
        await attempt.releaseInFlight();
        throw await this.refuse(attempt, locked);
      }
      if (checks.every((c) => c.failures + c.inFlight <= c.scope.limit)) {
        for (const check of checks) if (check.failures > 0) attempt.failuresSeen.add(check.scope.kind);
        // The same wrong password moments ago: checked again (the password may have changed since), counted nowhere.
        attempt.repeat = seenBefore !== null;
        return attempt;
      }
      await this.waitOrGiveUp(attempt, deadline);
    }
  }

  /** Others in flight could still use up what is left: wait for them rather than refuse a login that may be right. */
  private async waitOrGiveUp(attempt: LoginAttempt, deadline: number): Promise<void> {
    await attempt.releaseInFlight();
    if (Date.now() >= deadline) {
      throw new TooManyAttemptsError('Too many sign-in attempts for this account are in progress at once; retry shortly.', 1, {
        errorReason: 'concurrent_attempts',
        logDetail: `login attempts for one login name kept the protection counters full for ${CONTENTION_WAIT_MS} ms (tenant ${attempt.input.tenant.name}, ip ${attempt.input.ip})`,
      });
    }
    attempt.ticket ??= this.nextTicket++;
    await this.waitForAnAttemptToEnd(attempt.ticket);
    attempt.resetInFlight();
  }

  /**
   * Reserves the in-flight marks and reads the failures. Undefined when the
   * attempts in flight alone already fill a limit: then nothing need be read.
   * In memory (one node) the marks come first, so waiting costs no database
   * reads; shared counters are read in the same round trip as the marks.
   */
  private async checkScopes(
    scopes: readonly Scope[],
    inFlight: Counter,
    readSeen: () => Promise<CounterState | null>,
  ): Promise<{ checks: ScopeCheck[]; seenBefore: CounterState | null } | undefined> {
    if (this.backend.shared) {
      const [seenBefore, ...checks] = await Promise.all([
        readSeen(),
        ...scopes.map(async (scope) => this.scopeCheck(scope, await inFlight.consume(scope.inFlightKey))),
      ]);
      // A lock is final whatever is in flight: waiters polling in a crowd (several nodes) would otherwise keep
      // each other's marks over the limit and never see it.
      const locked = checks.some((c) => c.failures + 1 > c.scope.limit);
      return !locked && checks.some((c) => c.inFlight > c.scope.limit) ? undefined : { checks, seenBefore };
    }
    const marks = await Promise.all(scopes.map((scope) => inFlight.consume(scope.inFlightKey)));
    if (marks.some((mark, i) => mark.consumed > scopes[i]!.limit)) return undefined;
    // The reads are issued together: one transaction on the database.
    const [seenBefore, ...checks] = await Promise.all([readSeen(), ...scopes.map((scope, i) => this.scopeCheck(scope, marks[i]!))]);
    return { checks, seenBefore };
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
        if (lock.ip !== null) await counters.bruteForce.reset(bruteForceKey(tenant.id, identifierKey, lock.ip));
      }
      await counters.backstop.reset(backstopKey(tenant.id, identifierKey));
      await this.locks.removeForIdentifier(tenant.id, connection.id, identifierKey);
      cleared += locks.length;
    }
    if (cleared > 0 || reason === 'operator') {
      await this.events.record({ type: 'user_unblocked', reason, tenantId: tenant.id, connection: connection.name, userId, identifier: identifiers[0], details: { locks_cleared: cleared } });
    }
    return cleared;
  }

  /** @internal The password was right: failures end, the in-flight marks are given back, and the outcome is recorded, in one batch. */
  async settleVerified(attempt: LoginAttempt, type: 'login_success' | 'login_failure' | 'mfa_required', reason: string | undefined, userId: string): Promise<void> {
    try {
      await Promise.all([
        // Only counts that held failures when checked: the usual login has none, and skipping saves two writes.
        ...attempt.scopes.filter((s) => s.kind !== 'ip_blocked' && attempt.failuresSeen.has(s.kind)).map((s) => s.failures.reset(s.failureKey)),
        attempt.releaseInFlight(),
        this.events.record({ type, reason, userId, ...eventContext(attempt) }),
      ]);
    } finally {
      this.attemptEnded();
    }
  }

  /** @internal The credentials were refused: the failure counts (unless a repeat), and may lock. */
  async settleFailed(attempt: LoginAttempt, reason: FailureReason, userId: string | undefined): Promise<void> {
    const counters = this.countersFor(attempt.input.tenant);
    try {
      const event = this.events.record({
        type: 'login_failure',
        reason,
        userId,
        ...eventContext(attempt),
        ...(attempt.repeat ? { details: { repeated_password: true } } : {}),
      });
      if (attempt.repeat) {
        await Promise.all([event, attempt.releaseInFlight()]);
        return;
      }
      // Failures are counted before the in-flight marks are given back, so the sum never dips below the truth.
      const [counted] = await Promise.all([
        Promise.all(attempt.scopes.map(async (scope) => ({ scope, failures: (await scope.failures.consume(scope.failureKey)).consumed }))),
        attempt.fingerprint === undefined ? undefined : counters.samePassword.consume(attempt.fingerprint),
        event,
      ]);
      // Exactly one failure brings a count to its threshold (the count is atomic), so a burst locks once.
      await Promise.all(counted.filter((c) => c.scope.kind !== 'ip_blocked' && c.failures === c.scope.limit).map((c) => this.lock(attempt, c.scope, userId)));
      await attempt.releaseInFlight();
    } finally {
      this.attemptEnded();
    }
  }

  /** @internal The password was never judged (busy, a dependency down): nothing counts. */
  async settleAbandoned(attempt: LoginAttempt): Promise<void> {
    try {
      await attempt.releaseInFlight();
    } finally {
      this.attemptEnded();
    }
  }

  private async lock(attempt: LoginAttempt, scope: Scope, userId: string | undefined): Promise<void> {
    const { tenant, connection, identifier } = attempt.input;
    const settings = tenant.protection.attack;
    const isBruteForce = scope.kind === 'brute_force';
    const blockSeconds = isBruteForce ? settings.brute_force.block_seconds : (settings.backstop.block_seconds ?? settings.brute_force.block_seconds);
    await scope.failures.block(scope.failureKey, blockSeconds);
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
    await this.events.record({ type: 'user_locked', reason: scope.kind, userId, ...eventContext(attempt), details: { threshold: scope.limit, block_seconds: blockSeconds } });
  }

  /** Reserves an in-flight mark and reads the failures: for the IP, the sliding estimate over today and yesterday. */
  private async scopeCheck(scope: Scope, mark: { consumed: number }): Promise<ScopeCheck> {
    const [failures, previousDay] = await Promise.all([
      scope.failures.peek(scope.failureKey),
      scope.previousDayKey === undefined ? null : scope.failures.peek(scope.previousDayKey),
    ]);
    const current = failures?.consumed ?? 0;
    const previous = previousDay?.consumed ?? 0;
    const now = this.clock.now().getTime();
    // Failed logins per IP and day, refilling gradually: yesterday's count weighs as much of it as still lies within 24 hours.
    const estimate = scope.kind === 'ip_blocked' ? slidingEstimate(previous, current, windowPosition(now, DAY_MS).elapsed) : current;
    return { scope, failures: estimate, inFlight: mark.consumed, msBeforeReset: failures?.msBeforeReset ?? 0, previous, current };
  }

  /** @internal */
  inFlightCounter(tenant: Tenant): Counter {
    return this.countersFor(tenant).inFlight;
  }

  private async refuse(attempt: LoginAttempt, locked: ScopeCheck[]): Promise<TooManyAttemptsError> {
    const { tenant, connection, ip } = attempt.input;
    const counters = this.countersFor(tenant);
    const context = eventContext(attempt);
    this.attemptEnded();
    const ipCheck = locked.find((c) => c.scope.kind === 'ip_blocked');
    const refusal = ipCheck ?? locked[0]!;
    const retryAfterMs = ipCheck ? msUntilRoom(ipCheck.previous, ipCheck.current, ipCheck.scope.limit, this.clock.now().getTime(), DAY_MS) : refusal.msBeforeReset;
    if (ipCheck && (await this.firstThrottle(counters, `${tenant.id}:${attempt.ipKey}`, retryAfterMs))) {
      await this.events.record({ type: 'ip_throttled', reason: 'ip_blocked', ...context, details: { per_day: ipCheck.scope.limit } });
    }
    await this.events.record({ type: 'login_blocked', reason: refusal.scope.kind, ...context });
    return new TooManyAttemptsError(ipCheck ? IP_BLOCKED_MESSAGE : USER_BLOCKED_MESSAGE, retryAfterMs / 1000, {
      errorReason: ipCheck ? 'ip_blocked' : 'user_blocked',
      logDetail: `login refused before the password check: ${refusal.scope.kind} (tenant ${tenant.name}, connection ${connection.name}, ip ${ip})`,
    });
  }

  /** One attempt's end frees room for one waiter: waking them all would have each re-read its counters for nothing. */
  private attemptEnded(): void {
    this.waiting.shift()?.wake();
  }

  /**
   * Until an attempt on this node ends, or a short poll (attempts on other
   * nodes, or room freed for another key). Waiters are kept in the order they
   * first waited, so one that polled and found no room keeps its place.
   */
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
      const timer = setTimeout(entry.wake, this.backend.shared ? SHARED_CONTENTION_POLL_MS : CONTENTION_POLL_MS);
      const before = this.waiting.findIndex((other) => other.ticket > ticket);
      this.waiting.splice(before < 0 ? this.waiting.length : before, 0, entry);
    });
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
      // Attempts in flight matter only while they run: in memory when this node is the only one.
      inFlight: this.backend.shared
        ? this.backend.counter({ name: 'fl', limit: 1_000_000, windowSeconds: IN_FLIGHT_WINDOW_SECONDS })
        : memoryCounter({ name: 'fl', limit: 1_000_000, windowSeconds: IN_FLIGHT_WINDOW_SECONDS }),
      ipThrottled: this.backend.counter({ name: 'ipt', limit: 1, windowSeconds: 2 * 86_400 }),
      samePassword: this.backend.counter({ name: 'rp', limit: 1_000_000, windowSeconds: Math.max(1, attack.brute_force.same_password_window_seconds) }),
      rateTenant: rate.tenant ? this.backend.counter({ name: `rt:${tenant.id}`, limit: rate.tenant.requests, windowSeconds: rate.tenant.per_seconds }) : undefined,
      rateClient: new Map(),
    };
    this.countersByTenant.set(tenant.id, counters);
    return counters;
  }
}

/** One password attempt between its checks and its outcome. */
export class LoginAttempt {
  /** The same wrong password as moments ago: checked again, counted nowhere. */
  repeat = false;
  /** Its place among the attempts waiting for room, from its first wait on. */
  ticket: number | undefined;
  /** Scopes that held failures when checked: a success resets those. */
  readonly failuresSeen = new Set<ScopeKind>();
  private inFlightHeld = true;
  private settled = false;

  constructor(
    private readonly protection: AttackProtection,
    readonly input: LoginAttemptInput,
    readonly identifierKey: string,
    readonly ipKey: string,
    readonly fingerprint: string | undefined,
    readonly scopes: readonly Scope[],
  ) {}

  /** The credentials were refused: the failure counts, and may lock. */
  async failed(reason: FailureReason, userId?: string): Promise<void> {
    if (this.settle()) await this.protection.settleFailed(this, reason, userId);
  }

  /**
   * The password was right and tokens will be issued: consecutive-failure
   * counts end here. `reason` flags a breached password that policy lets through.
   */
  async succeeded(userId: string, reason?: 'password_breached'): Promise<void> {
    if (this.settle()) await this.protection.settleVerified(this, 'login_success', reason, userId);
  }

  /** The password was right, but policy refuses the login (blocked user, breached password); the counts still end. */
  async refused(userId: string, reason: 'user_blocked' | 'password_breached' | 'password_expired' | 'password_change_required'): Promise<void> {
    if (this.settle()) await this.protection.settleVerified(this, 'login_failure', reason, userId);
  }

  /** The password was right and a second factor must follow: the counts end, and the event says what is pending. */
  async secondFactorRequired(userId: string, enrollment: boolean): Promise<void> {
    if (this.settle()) await this.protection.settleVerified(this, 'mfa_required', enrollment ? 'mfa_enrollment_required' : undefined, userId);
  }

  /** The check never happened (the server was busy or a dependency failed): nothing counts. */
  async refund(): Promise<void> {
    if (this.settle()) await this.protection.settleAbandoned(this);
  }

  /** @internal Gives back the in-flight marks, once per reservation. */
  async releaseInFlight(): Promise<void> {
    if (!this.inFlightHeld) return;
    this.inFlightHeld = false;
    const counters = this.scopes.length === 0 ? [] : this.scopes;
    await Promise.all(counters.map((scope) => this.inFlightCounter().refund(scope.inFlightKey)));
  }

  /** @internal A new reservation round after waiting. */
  resetInFlight(): void {
    this.inFlightHeld = true;
  }

  private inFlightCounter(): Counter {
    return this.protection.inFlightCounter(this.input.tenant);
  }

  private settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    return true;
  }
}

/** What every event of a login attempt names. */
function eventContext(attempt: LoginAttempt): { tenantId: string; clientId: string; connection: string; identifier: string; ip: string } {
  const { tenant, clientId, connection, identifier, ip } = attempt.input;
  return { tenantId: tenant.id, clientId, connection: connection.name, identifier, ip };
}

const bruteForceKey = (tenantId: string, identifierKey: string, ipKey: string): string => `${tenantId}:${identifierKey}:${ipKey}`;
const backstopKey = (tenantId: string, identifierKey: string): string => `${tenantId}:${identifierKey}`;

/** The connection and the login as typed, normalised as the user store matches it, hashed to bound the key. */
export function identifierKeyOf(connectionId: string, identifier: string): string {
  return createHash('sha256').update(`${connectionId}\0${loginKey(identifier)}`).digest('base64url').slice(0, 32);
}
