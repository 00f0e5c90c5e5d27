/**
 * Brute-force protection for the password-checking grants (RFC 6749
 * §4.3.2), modelled on Auth0's attack protection with Entra ID's smart
 * counting:
 *
 * - per identifier and end-user IP: after `threshold` consecutive failures
 *   the pair is locked (429 `too_many_attempts`, `user_blocked`), even with
 *   the right password, until an operator unblocks, the password changes or
 *   `block_seconds` pass;
 * - per identifier across all IPs: a backstop (NIST SP 800-63B §5.2.2: at
 *   most 100 consecutive failures), which the allowlist does not bypass. It
 *   pauses sign-ins from new places only: IPs where the name signed in within
 *   the last 30 days still get through (so 100 guesses cannot lock the owner
 *   out), and its block starts short and doubles with each repeat, up to a
 *   cap (Entra ID's smart lockout; issue #11 point 6);
 * - per end-user IP across identifiers: failed logins per day, refilling
 *   gradually (a sliding window), then `ip_blocked`;
 * - per end-user IP: failed password checks per hour, repeats included, so
 *   one IP cannot keep argon2 busy by repeating one wrong password (issue #11
 *   point 4), then `ip_blocked` too;
 * - the same wrong password repeated counts once towards everything else
 *   (compared by a keyed fingerprint kept for a short window, never the
 *   password).
 *
 * Two counts per scope: failures (what locks), and attempts in flight
 * (reserved atomically before the password is hashed, given back when the
 * attempt ends). An attempt goes ahead only while failures plus attempts in
 * flight stay within the limit, so a parallel burst cannot slip past it;
 * beyond it, attempts wait for those in flight instead of being refused, so
 * legitimate parallel logins of one account are not mistaken for an attack.
 * A success resets the per-name failures. Unknown identifiers are counted
 * exactly like known ones.
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { KeyedFingerprint } from '../crypto/secrets.js';
import type { Tenant } from '../domain/tenant.js';
import { TooManyAttemptsError, type ErrorReason } from '../domain/errors.js';
import type { AttackLockStore, ConnectionRecord } from '../storage/stores.js';
import type { Counter, CounterBackend, CounterState } from '../storage/counters.js';
import { memoryCounter } from '../storage/limiter-counter.js';
import { ipCounterKey } from '../domain/ip.js';
import { msUntilRoom, slidingEstimate, windowPosition } from './sliding-window.js';
import type { SecurityEvents } from '../observability/security-events.js';
import { loginKey } from '../domain/login-key.js';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/** How long a successful sign-in keeps its IP familiar to the login name, exempt from the backstop. */
const FAMILIAR_IP_SECONDS = 30 * 86_400;
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
const IP_CHECKS_MESSAGE = 'Too many failed password checks from this IP address in the last hour; try again later.';
/** The same words for every login name, known or not: they must not tell whether the account exists. */
function backstopMessage(retryAfterMs: number): string {
  return `Sign-ins to this account from new locations are paused for ${roughDuration(retryAfterMs)} after many failed attempts from many places; locations where it signed in before still work. Try again later or contact the administrator.`;
}

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
  /** Backstop blocks of a login name so far, for the doubling; forgotten a max_block_seconds after the last ends. */
  backstopRepeats: Counter;
  /** Login name + IP pairs that signed in within FAMILIAR_IP_SECONDS: exempt from the backstop. */
  familiarIps: Counter;
  suspiciousIp: Counter;
  ipChecks: Counter;
  inFlight: Counter;
  ipThrottled: Counter;
  samePassword: Counter;
  rateTenant: Counter | undefined;
  rateClient: Map<string, Counter>;
}

/** The event reasons of the limits; `ip_blocked` is the per-day budget, `ip_check_budget` the hourly one. */
type ScopeKind = 'brute_force' | 'backstop' | 'ip_blocked' | 'ip_check_budget';

/** One limit an attempt is checked against: its failure count and its in-flight count. */
interface Scope {
  kind: ScopeKind;
  limit: number;
  failures: Counter;
  /** Where a failure is counted (for a sliding window: the current one). */
  failureKey: string;
  /** A sliding window's previous window, weighed into the estimate, and the windows' length. */
  sliding?: { previousKey: string; periodMs: number };
  /** Shared by the two per-IP scopes: each attempt is one in flight from its IP. */
  inFlightKey: string;
  /** Whether reaching the limit writes a lock (per name) rather than throttling while the window refills (per IP). */
  locks: boolean;
  /** Whether the same wrong password repeated counts every time (the IP's check budget) or once (everything else). */
  countsRepeats: boolean;
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
      scopes.push({ kind: 'brute_force', limit: settings.brute_force.threshold, failures: counters.bruteForce, failureKey: key, inFlightKey: `bf:${key}`, locks: true, countsRepeats: false });
    }
    if (settings.backstop.enabled) {
      const key = backstopKey(tenant.id, identifierKey);
      scopes.push({ kind: 'backstop', limit: settings.backstop.threshold, failures: counters.backstop, failureKey: key, inFlightKey: `bs:${key}`, locks: true, countsRepeats: false });
    }
    if (settings.suspicious_ip.enabled && !allowlisted) {
      const now = this.clock.now().getTime();
      const key = `${tenant.id}:${ipKey}`;
      scopes.push(
        slidingIpScope('ip_blocked', settings.suspicious_ip.per_day, counters.suspiciousIp, key, now, DAY_MS),
        slidingIpScope('ip_check_budget', settings.suspicious_ip.failed_checks_per_hour, counters.ipChecks, key, now, HOUR_MS),
      );
    }
    const attempt = new LoginAttempt(this, input, identifierKey, ipKey, fingerprint, scopes);

    const deadline = Date.now() + CONTENTION_WAIT_MS;
    for (;;) {
      const readSeen = (): Promise<CounterState | null> => (fingerprint === undefined ? Promise.resolve(null) : counters.samePassword.peek(fingerprint));
      const checked = await this.checkScopes(attempt.scopes, counters.inFlight, readSeen);
      if (checked === undefined) {
        await this.waitOrGiveUp(attempt, deadline);
        continue;
      }
      const { seenBefore } = checked;
      let { checks } = checked;
      let locked = checks.filter((c) => c.failures + 1 > c.scope.limit);
      const backstop = locked.find((c) => c.scope.kind === 'backstop');
      // Only a backstop in force costs the extra read: the name's owner, from where they signed in before, passes it.
      if (backstop && (await this.isFamiliar(counters, tenant.id, identifierKey, ipKey))) {
        await attempt.exemptFromBackstop();
        checks = checks.filter((c) => c !== backstop);
        locked = locked.filter((c) => c !== backstop);
      }
      if (locked.length > 0) {
        await attempt.releaseInFlight();
        throw await this.refuse(attempt, locked);
      }
      if (checks.every((c) => c.failures + c.inFlight <= c.scope.limit)) {
        for (const check of checks) if (check.failures > 0) attempt.failuresSeen.add(check.scope.kind);
        // The same wrong password moments ago: checked again (the password may have changed since), and counted only
        // towards the IP's budget of password checks.
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
    // One mark per in-flight key (the two per-IP scopes share theirs), each reserved once.
    const marks = new Map(inFlightKeysOf(scopes).map((key) => [key, inFlight.consume(key)]));
    const markOf = (scope: Scope): Promise<CounterState> => marks.get(scope.inFlightKey)!;
    if (this.backend.shared) {
      const [seenBefore, ...checks] = await Promise.all([readSeen(), ...scopes.map(async (scope) => this.scopeCheck(scope, await markOf(scope)))]);
      // A lock is final whatever is in flight: waiters polling in a crowd (several nodes) would otherwise keep
      // each other's marks over the limit and never see it.
      const locked = checks.some((c) => c.failures + 1 > c.scope.limit);
      return !locked && checks.some((c) => c.inFlight > c.scope.limit) ? undefined : { checks, seenBefore };
    }
    const reserved = await Promise.all(scopes.map(markOf));
    if (reserved.some((mark, i) => mark.consumed > scopes[i]!.limit)) return undefined;
    // The reads are issued together: one transaction on the database.
    const [seenBefore, ...checks] = await Promise.all([readSeen(), ...scopes.map((scope, i) => this.scopeCheck(scope, reserved[i]!))]);
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
      // The backstop and its doubling: the next backstop block, if any, starts short again.
      await counters.backstop.reset(backstopKey(tenant.id, identifierKey));
      await counters.backstopRepeats.reset(backstopKey(tenant.id, identifierKey));
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
    const { tenant } = attempt.input;
    // A sign-in (or a right password awaiting its second factor) makes this IP familiar to the name for the
    // backstop: the one write this adds to a successful login. The per-IP counts are windows, not consecutive
    // failures: a success leaves them.
    const signedIn = type !== 'login_failure' && tenant.protection.attack.backstop.enabled;
    try {
      await Promise.all([
        // Only counts that held failures when checked: the usual login has none, and skipping saves two writes.
        ...attempt.scopes.filter((s) => s.locks && attempt.failuresSeen.has(s.kind)).map((s) => s.failures.reset(s.failureKey)),
        signedIn ? this.countersFor(tenant).familiarIps.set(familiarKey(tenant.id, attempt.identifierKey, attempt.ipKey), 1, FAMILIAR_IP_SECONDS) : undefined,
        attempt.releaseInFlight(),
        this.events.record({ type, reason, userId, ...eventContext(attempt), ...(attempt.passedBackstop ? { details: { backstop_in_force: true } } : {}) }),
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
      // A repeat was checked again (the password may have changed since) but counts only towards the IP's budget of
      // password checks: it cost a hash all the same.
      const counting = attempt.repeat ? attempt.scopes.filter((scope) => scope.countsRepeats) : attempt.scopes;
      // Failures are counted before the in-flight marks are given back, so the sum never dips below the truth.
      const [counted] = await Promise.all([
        Promise.all(counting.map(async (scope) => ({ scope, failures: (await scope.failures.consume(scope.failureKey)).consumed }))),
        attempt.repeat || attempt.fingerprint === undefined ? undefined : counters.samePassword.consume(attempt.fingerprint),
        event,
      ]);
      // Exactly one failure brings a count to its threshold (the count is atomic), so a burst locks once.
      await Promise.all(counted.filter((c) => c.scope.locks && c.failures === c.scope.limit).map((c) => this.lock(attempt, c.scope, userId)));
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
    const backstop = isBruteForce ? undefined : await this.nextBackstopBlock(tenant, attempt.identifierKey);
    const blockSeconds = backstop?.seconds ?? settings.brute_force.block_seconds;
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
    await this.events.record({
      type: 'user_locked',
      reason: scope.kind,
      userId,
      ...eventContext(attempt),
      details: { threshold: scope.limit, block_seconds: blockSeconds, ...(backstop ? { repeat: backstop.repeat } : {}) },
    });
  }

  /**
   * How long this backstop block lasts: `block_seconds` the first time,
   * doubling with each repeat up to `max_block_seconds`. The repeat count is
   * kept until a `max_block_seconds` after this block ends (so a name attacked
   * again the next day starts where it left off, and one left alone for a day
   * starts short again); unblock and a password change forget it at once.
   * Read then written, not atomic: only the one failure that reaches the
   * threshold gets here, so two blocks of one name never race.
   */
  private async nextBackstopBlock(tenant: Tenant, identifierKey: string): Promise<{ seconds: number; repeat: number }> {
    const { block_seconds: first, max_block_seconds: cap } = tenant.protection.attack.backstop;
    const repeats = this.countersFor(tenant).backstopRepeats;
    const key = backstopKey(tenant.id, identifierKey);
    const repeat = ((await repeats.peek(key))?.consumed ?? 0) + 1;
    const seconds = Math.min(first * 2 ** Math.min(repeat - 1, 32), cap);
    await repeats.set(key, repeat, seconds + cap);
    return { seconds, repeat };
  }

  private async isFamiliar(counters: TenantCounters, tenantId: string, identifierKey: string, ipKey: string): Promise<boolean> {
    return (await counters.familiarIps.peek(familiarKey(tenantId, identifierKey, ipKey))) !== null;
  }

  /** Reads the failures beside the attempt's in-flight mark: for the IP, the sliding estimate over this window and the last. */
  private async scopeCheck(scope: Scope, mark: { consumed: number }): Promise<ScopeCheck> {
    const [failures, previousWindow] = await Promise.all([
      scope.failures.peek(scope.failureKey),
      scope.sliding === undefined ? null : scope.failures.peek(scope.sliding.previousKey),
    ]);
    const current = failures?.consumed ?? 0;
    const previous = previousWindow?.consumed ?? 0;
    const now = this.clock.now().getTime();
    // Per IP, refilling gradually: the last window's count weighs as much of it as still lies within one period.
    const estimate = scope.sliding === undefined ? current : slidingEstimate(previous, current, windowPosition(now, scope.sliding.periodMs).elapsed);
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
    // The IP's limits first (they hold whatever name is tried), then the lock of this name from this IP, then the backstop.
    const refusal = REFUSAL_ORDER.map((kind) => locked.find((c) => c.scope.kind === kind)).find((c) => c !== undefined) ?? locked[0]!;
    const { scope } = refusal;
    const retryAfterMs = scope.sliding ? msUntilRoom(refusal.previous, refusal.current, scope.limit, this.clock.now().getTime(), scope.sliding.periodMs) : refusal.msBeforeReset;
    if (scope.sliding && (await this.firstThrottle(counters, `${tenant.id}:${attempt.ipKey}${scope.kind === 'ip_blocked' ? '' : `:${scope.kind}`}`, retryAfterMs))) {
      const limit: Record<string, number> = scope.kind === 'ip_blocked' ? { per_day: scope.limit } : { failed_checks_per_hour: scope.limit };
      await this.events.record({ type: 'ip_throttled', reason: scope.kind, ...context, details: limit });
    }
    await this.events.record({ type: 'login_blocked', reason: scope.kind, ...context });
    const { message, errorReason } = refusalWording(scope.kind, retryAfterMs);
    return new TooManyAttemptsError(message, retryAfterMs / 1000, {
      errorReason,
      logDetail: `login refused before the password check: ${scope.kind} (tenant ${tenant.name}, connection ${connection.name}, ip ${ip})`,
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
      // Failures towards the backstop are remembered as long as the per-IP lock's (30 days by default); a block is
      // set on the key with its own, shorter, duration.
      backstop: this.backend.counter({ name: 'bs', limit: attack.backstop.threshold, windowSeconds: attack.brute_force.block_seconds }),
      backstopRepeats: this.backend.counter({ name: 'bsr', limit: 1_000_000, windowSeconds: attack.backstop.max_block_seconds }),
      familiarIps: this.backend.counter({ name: 'fam', limit: 1_000_000, windowSeconds: FAMILIAR_IP_SECONDS }),
      // Keyed per day (per hour); each key lives two, so the previous window's count is still there to weigh.
      suspiciousIp: this.backend.counter({ name: 'ip', limit: attack.suspicious_ip.per_day, windowSeconds: 2 * 86_400 }),
      ipChecks: this.backend.counter({ name: 'ic', limit: attack.suspicious_ip.failed_checks_per_hour, windowSeconds: 2 * 3600 }),
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
  /** The same wrong password as moments ago: checked again, counted only towards the IP's check budget. */
  repeat = false;
  /** The name's backstop was in force, and this IP, where the name signed in before, passed it. */
  passedBackstop = false;
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
    private checkedScopes: readonly Scope[],
  ) {}

  /** The limits this attempt is checked and counted against. */
  get scopes(): readonly Scope[] {
    return this.checkedScopes;
  }

  /** @internal The backstop no longer applies to this attempt: its in-flight mark is given back, and nothing counts there. */
  async exemptFromBackstop(): Promise<void> {
    const backstop = this.checkedScopes.find((scope) => scope.kind === 'backstop');
    if (!backstop) return;
    this.checkedScopes = this.checkedScopes.filter((scope) => scope !== backstop);
    this.passedBackstop = true;
    if (this.inFlightHeld) await this.inFlightCounter().refund(backstop.inFlightKey);
  }

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
    await Promise.all(inFlightKeysOf(this.checkedScopes).map((key) => this.inFlightCounter().refund(key)));
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
const familiarKey = bruteForceKey;

/** The in-flight marks an attempt holds: one per distinct key. */
function inFlightKeysOf(scopes: readonly Scope[]): string[] {
  return [...new Set(scopes.map((scope) => scope.inFlightKey))];
}

/** A per-IP budget that refills gradually: this window's count plus the last one's, weighted (sliding-window.ts). */
function slidingIpScope(kind: 'ip_blocked' | 'ip_check_budget', limit: number, failures: Counter, ipScopeKey: string, nowMs: number, periodMs: number): Scope {
  const { index } = windowPosition(nowMs, periodMs);
  return {
    kind,
    limit,
    failures,
    failureKey: `${ipScopeKey}:${index}`,
    sliding: { previousKey: `${ipScopeKey}:${index - 1}`, periodMs },
    inFlightKey: `ip:${ipScopeKey}`,
    locks: false,
    countsRepeats: kind === 'ip_check_budget',
  };
}

/** Which refusal is told when several limits hold at once. */
const REFUSAL_ORDER: readonly ScopeKind[] = ['ip_blocked', 'ip_check_budget', 'brute_force', 'backstop'];

function refusalWording(kind: ScopeKind, retryAfterMs: number): { message: string; errorReason: ErrorReason } {
  switch (kind) {
    case 'ip_blocked':
      return { message: IP_BLOCKED_MESSAGE, errorReason: 'ip_blocked' };
    case 'ip_check_budget':
      return { message: IP_CHECKS_MESSAGE, errorReason: 'ip_blocked' };
    case 'brute_force':
      return { message: USER_BLOCKED_MESSAGE, errorReason: 'user_blocked' };
    case 'backstop':
      return { message: backstopMessage(retryAfterMs), errorReason: 'new_locations_paused' };
  }
}

/** "15 minutes", "2 hours": the wait, rounded up, for a sentence. */
function roughDuration(ms: number): string {
  const minutes = Math.max(1, Math.ceil(ms / 60_000));
  if (minutes < 120) return `${minutes} minute${minutes === 1 ? '' : 's'}`;
  return `${Math.ceil(minutes / 60)} hours`;
}

/** The connection and the login as typed, normalised as the user store matches it, hashed to bound the key. */
export function identifierKeyOf(connectionId: string, identifier: string): string {
  return createHash('sha256').update(`${connectionId}\0${loginKey(identifier)}`).digest('base64url').slice(0, 32);
}
