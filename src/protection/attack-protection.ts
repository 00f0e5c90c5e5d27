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
 * Two counts per scope (login-scopes.ts): failures (what locks), and
 * attempts in flight (reserved atomically before the password is hashed,
 * given back when the attempt ends). An attempt goes ahead only while
 * failures plus attempts in flight stay within the limit, so a parallel
 * burst cannot slip past it; beyond it, attempts wait for those in flight
 * instead of being refused (admission.ts). A success resets the per-name
 * failures. Unknown identifiers are counted exactly like known ones.
 *
 * This module is the policy: it decides, counts and locks. A grant sees only
 * the LoginAttempt it is given, and settles it once.
 */
import type { Clock } from '../clock.js';
import type { KeyedFingerprint } from '../crypto/secrets.js';
import { TooManyAttemptsError } from '../domain/errors.js';
import { ipCounterKey } from '../domain/ip.js';
import { loginKey } from '../domain/login-key.js';
import type { Tenant } from '../domain/tenant.js';
import type { SecurityEvents } from '../observability/security-events.js';
import type { CounterBackend, CounterState } from '../storage/counters.js';
import type { AttackLockStore, ConnectionRecord } from '../storage/stores.js';
import { Admission, MAX_WAIT_MS, type Waiter } from './admission.js';
import { LoginAttempt, type FailureReason, type VerifiedOutcome } from './login-attempt.js';
import {
  AttemptScopes,
  backstopKey,
  bruteForceKey,
  familiarKey,
  identifierKeyOf,
  ipScopeKey,
  scopesFor,
  type AttemptKeys,
  type Scope,
  type ScopeCheck,
  type ScopeKind,
} from './login-scopes.js';
import { REFUSAL_ORDER, refusalWording } from './refusals.js';
import { msUntilRoom, slidingEstimate, windowPosition } from './sliding-window.js';
import { FAMILIAR_IP_SECONDS, loginCounters, PerTenant, type LoginCounters } from './tenant-counters.js';

export interface LoginAttemptInput {
  tenant: Tenant;
  connection: ConnectionRecord;
  clientId: string;
  identifier: string;
  password: string;
  /** Canonical end-user IP (protection/end-user-ip.ts). */
  ip: string;
}

/** What the policy knows of one attempt between its checks and its outcome; never seen outside this module. */
interface PendingLogin extends AttemptKeys {
  readonly input: LoginAttemptInput;
  readonly counters: LoginCounters;
  /** The keyed fingerprint of the password tried, while the same-password window is on. */
  readonly fingerprint: string | undefined;
  readonly scopes: AttemptScopes;
  /** The same wrong password as moments ago: checked again, counted only towards the IP's check budget. */
  repeat: boolean;
  /** The name's backstop was in force, and this IP, where the name signed in before, passed it. */
  passedBackstop: boolean;
  /** Scopes that held failures when checked: a success resets those. */
  readonly failuresSeen: Set<ScopeKind>;
}

export class AttackProtection {
  private readonly counters: PerTenant<LoginCounters>;
  private readonly admission: Admission;
  private readonly sharedCounters: boolean;

  constructor(
    backend: CounterBackend,
    private readonly locks: AttackLockStore,
    private readonly events: SecurityEvents,
    private readonly fingerprints: KeyedFingerprint,
    private readonly clock: Clock,
  ) {
    this.counters = new PerTenant((tenant) => loginCounters(backend, tenant));
    this.admission = new Admission(backend.shared);
    this.sharedCounters = backend.shared;
  }

  /**
   * Checks and reserves before the password is checked. Throws 429 when the
   * identifier (from this IP or everywhere) is locked or the IP throttled.
   */
  async beginLogin(input: LoginAttemptInput): Promise<LoginAttempt> {
    const login = this.pendingLogin(input);
    const waiter = this.admission.arrive();
    for (;;) {
      const checked = await this.checkScopes(login);
      if (checked === undefined) {
        await this.waitOrGiveUp(login, waiter);
        continue;
      }
      const { seenBefore } = checked;
      let { checks } = checked;
      let locked = checks.filter((c) => c.failures + 1 > c.scope.limit);
      const backstop = locked.find((c) => c.scope.kind === 'backstop');
      // Only a backstop in force costs the extra read: the name's owner, from where they signed in before, passes it.
      if (backstop && (await this.isFamiliar(login))) {
        await login.scopes.drop(backstop.scope);
        login.passedBackstop = true;
        checks = checks.filter((c) => c !== backstop);
        locked = locked.filter((c) => c !== backstop);
      }
      if (locked.length > 0) {
        await login.scopes.release();
        throw await this.refuse(login, locked);
      }
      if (checks.every((c) => c.failures + c.inFlight <= c.scope.limit)) {
        for (const check of checks) if (check.failures > 0) login.failuresSeen.add(check.scope.kind);
        // The same wrong password moments ago: checked again (the password may have changed since), and counted only
        // towards the IP's budget of password checks.
        login.repeat = seenBefore !== null;
        return new LoginAttempt({
          failed: (reason, userId) => this.settleFailed(login, reason, userId),
          verified: (outcome, reason, userId) => this.settleVerified(login, outcome, reason, userId),
          abandoned: () => this.settleAbandoned(login),
        });
      }
      await this.waitOrGiveUp(login, waiter);
    }
  }

  /**
   * Clears every lock of these identifiers (per-IP and backstop), e.g. on
   * `latchkey users unblock` or a password change. Returns how many locks
   * were in force.
   */
  async unblock(
    tenant: Tenant,
    connection: ConnectionRecord,
    identifiers: string[],
    reason: 'operator' | 'password_changed',
    userId?: string,
  ): Promise<number> {
    const counters = this.counters.of(tenant);
    let cleared = 0;
    for (const identifierKey of new Set(identifiers.map((i) => identifierKeyOf(connection.id, i)))) {
      const name = { tenantId: tenant.id, identifierKey };
      const locks = await this.locks.listForIdentifier(tenant.id, connection.id, identifierKey, this.clock.now());
      for (const lock of locks) {
        if (lock.ip !== null) await counters.bruteForce.reset(bruteForceKey({ ...name, ipKey: lock.ip }));
      }
      // The backstop and its doubling: the next backstop block, if any, starts short again.
      await counters.backstop.reset(backstopKey(name));
      await counters.backstopRepeats.reset(backstopKey(name));
      await this.locks.removeForIdentifier(tenant.id, connection.id, identifierKey);
      cleared += locks.length;
    }
    if (cleared > 0 || reason === 'operator') {
      await this.events.record({
        type: 'user_unblocked',
        reason,
        tenantId: tenant.id,
        connection: connection.name,
        userId,
        identifier: identifiers[0],
        details: { locks_cleared: cleared },
      });
    }
    return cleared;
  }

  private pendingLogin(input: LoginAttemptInput): PendingLogin {
    const { tenant, connection, ip } = input;
    const counters = this.counters.of(tenant);
    const keys: AttemptKeys = {
      tenantId: tenant.id,
      identifierKey: identifierKeyOf(connection.id, input.identifier),
      ipKey: ipCounterKey(ip),
    };
    const fingerprint =
      tenant.protection.attack.brute_force.same_password_window_seconds > 0
        ? `${tenant.id}:${this.fingerprints.of(tenant.id, connection.id, loginKey(input.identifier), input.password)}`
        : undefined;
    const allowlisted = tenant.protection.allowlist.has(ip);
    const scopes = new AttemptScopes(scopesFor(tenant, counters, keys, allowlisted, this.clock), counters.inFlight);
    return { ...keys, input, counters, fingerprint, scopes, repeat: false, passedBackstop: false, failuresSeen: new Set() };
  }

  /** Others in flight could still use up what is left: wait for them rather than refuse a login that may be right. */
  private async waitOrGiveUp(login: PendingLogin, waiter: Waiter): Promise<void> {
    await login.scopes.release();
    if (waiter.outOfTime()) {
      throw new TooManyAttemptsError('Too many sign-in attempts for this account are in progress at once; retry shortly.', 1, {
        errorReason: 'concurrent_attempts',
        logDetail:
          `login attempts for one login name kept the protection counters full for ${MAX_WAIT_MS} ms ` +
          `(tenant ${login.input.tenant.name}, ip ${login.input.ip})`,
      });
    }
    await waiter.wait();
  }

  /**
   * Reserves the in-flight marks and reads the failures. Undefined when the
   * attempts in flight alone already fill a limit: then nothing need be read.
   * In memory (one node) the marks come first, so waiting costs no database
   * reads; shared counters are read in the same round trip as the marks.
   */
  private async checkScopes(login: PendingLogin): Promise<{ checks: ScopeCheck[]; seenBefore: CounterState | null } | undefined> {
    const { fingerprint, counters } = login;
    const scopes = login.scopes.all;
    const readSeen = (): Promise<CounterState | null> =>
      fingerprint === undefined ? Promise.resolve(null) : counters.samePassword.peek(fingerprint);
    const marks = login.scopes.reserve();
    const markOf = (scope: Scope): Promise<CounterState> => {
      const mark = marks.get(scope.inFlightKey);
      if (mark === undefined) throw new Error(`no in-flight mark was reserved for ${scope.kind}`);
      return mark;
    };
    if (this.sharedCounters) {
      const [seenBefore, ...checks] = await Promise.all([
        readSeen(),
        ...scopes.map(async (scope) => this.scopeCheck(scope, await markOf(scope))),
      ]);
      // A lock is final whatever is in flight: waiters polling in a crowd (several nodes) would otherwise keep
      // each other's marks over the limit and never see it.
      const locked = checks.some((c) => c.failures + 1 > c.scope.limit);
      return !locked && checks.some((c) => c.inFlight > c.scope.limit) ? undefined : { checks, seenBefore };
    }
    const reserved = await Promise.all(scopes.map(async (scope) => ({ scope, mark: await markOf(scope) })));
    if (reserved.some(({ scope, mark }) => mark.consumed > scope.limit)) return undefined;
    // The reads are issued together: one transaction on the database.
    const [seenBefore, ...checks] = await Promise.all([readSeen(), ...reserved.map(({ scope, mark }) => this.scopeCheck(scope, mark))]);
    return { checks, seenBefore };
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
    const estimate =
      scope.sliding === undefined ? current : slidingEstimate(previous, current, windowPosition(now, scope.sliding.periodMs).elapsed);
    return { scope, failures: estimate, inFlight: mark.consumed, msBeforeReset: failures?.msBeforeReset ?? 0, previous, current };
  }

  private async isFamiliar(login: PendingLogin): Promise<boolean> {
    return (await login.counters.familiarIps.peek(familiarKey(login))) !== null;
  }

  private async refuse(login: PendingLogin, locked: ScopeCheck[]): Promise<TooManyAttemptsError> {
    const { tenant, connection, ip } = login.input;
    const context = eventContext(login);
    this.admission.attemptEnded();
    const refusal = REFUSAL_ORDER.map((kind) => locked.find((c) => c.scope.kind === kind)).find((c) => c !== undefined) ?? locked[0];
    if (refusal === undefined) throw new Error('a refusal needs at least one locked scope');
    const { scope } = refusal;
    const retryAfterMs = scope.sliding
      ? msUntilRoom(refusal.previous, refusal.current, scope.limit, this.clock.now().getTime(), scope.sliding.periodMs)
      : refusal.msBeforeReset;
    const throttleKey = `${ipScopeKey(login)}${scope.kind === 'ip_blocked' ? '' : `:${scope.kind}`}`;
    if (scope.sliding && (await this.firstThrottle(login.counters, throttleKey, retryAfterMs))) {
      const limit: Record<string, number> =
        scope.kind === 'ip_blocked' ? { per_day: scope.limit } : { failed_checks_per_hour: scope.limit };
      await this.events.record({ type: 'ip_throttled', reason: scope.kind, ...context, details: limit });
    }
    await this.events.record({ type: 'login_blocked', reason: scope.kind, ...context });
    const { message, errorReason } = refusalWording(scope.kind, retryAfterMs);
    return new TooManyAttemptsError(message, retryAfterMs / 1000, {
      errorReason,
      logDetail: `login refused before the password check: ${scope.kind} (tenant ${tenant.name}, connection ${connection.name}, ip ${ip})`,
    });
  }

  /**
   * Whether this is the first ip_blocked refusal of the IP's current
   * throttle: one ip_throttled event per throttle, not one per refusal. A
   * marker, atomic under a parallel burst, lasting until the IP has room
   * again; a later throttle logs again.
   */
  private async firstThrottle(counters: LoginCounters, key: string, retryAfterMs: number): Promise<boolean> {
    const marker = await counters.ipThrottled.consume(key);
    if (marker.consumed !== 1) return false;
    await counters.ipThrottled.block(key, Math.max(1, Math.ceil(retryAfterMs / 1000)));
    return true;
  }

  /** The password was right: failures end, the in-flight marks are given back, and the outcome is recorded, in one batch. */
  private async settleVerified(login: PendingLogin, type: VerifiedOutcome, reason: string | undefined, userId: string): Promise<void> {
    const { tenant } = login.input;
    // A sign-in (or a right password awaiting its second factor) makes this IP familiar to the name for the
    // backstop: the one write this adds to a successful login. The per-IP counts are windows, not consecutive
    // failures: a success leaves them.
    const signedIn = type !== 'login_failure' && tenant.protection.attack.backstop.enabled;
    try {
      await Promise.all([
        // Only counts that held failures when checked: the usual login has none, and skipping saves two writes.
        ...login.scopes.all.filter((s) => s.locks && login.failuresSeen.has(s.kind)).map((s) => s.failures.reset(s.failureKey)),
        signedIn ? login.counters.familiarIps.set(familiarKey(login), 1, FAMILIAR_IP_SECONDS) : undefined,
        login.scopes.release(),
        this.events.record({
          type,
          reason,
          userId,
          ...eventContext(login),
          ...(login.passedBackstop ? { details: { backstop_in_force: true } } : {}),
        }),
      ]);
    } finally {
      this.admission.attemptEnded();
    }
  }

  /** The credentials were refused: the failure counts (unless a repeat), and may lock. */
  private async settleFailed(login: PendingLogin, reason: FailureReason, userId: string | undefined): Promise<void> {
    try {
      const event = this.events.record({
        type: 'login_failure',
        reason,
        userId,
        ...eventContext(login),
        ...(login.repeat ? { details: { repeated_password: true } } : {}),
      });
      // A repeat was checked again (the password may have changed since) but counts only towards the IP's budget of
      // password checks: it cost a hash all the same.
      const counting = login.repeat ? login.scopes.all.filter((scope) => scope.countsRepeats) : login.scopes.all;
      // Failures are counted before the in-flight marks are given back, so the sum never dips below the truth.
      const [counted] = await Promise.all([
        Promise.all(counting.map(async (scope) => ({ scope, failures: (await scope.failures.consume(scope.failureKey)).consumed }))),
        login.repeat || login.fingerprint === undefined ? undefined : login.counters.samePassword.consume(login.fingerprint),
        event,
      ]);
      // Exactly one failure brings a count to its threshold (the count is atomic), so a burst locks once.
      await Promise.all(counted.filter((c) => c.scope.locks && c.failures === c.scope.limit).map((c) => this.lock(login, c.scope, userId)));
      await login.scopes.release();
    } finally {
      this.admission.attemptEnded();
    }
  }

  /** The password was never judged (busy, a dependency down): nothing counts. */
  private async settleAbandoned(login: PendingLogin): Promise<void> {
    try {
      await login.scopes.release();
    } finally {
      this.admission.attemptEnded();
    }
  }

  private async lock(login: PendingLogin, scope: Scope, userId: string | undefined): Promise<void> {
    const { tenant, connection, identifier } = login.input;
    const isBruteForce = scope.kind === 'brute_force';
    const backstop = isBruteForce ? undefined : await this.nextBackstopBlock(login);
    const blockSeconds = backstop?.seconds ?? tenant.protection.attack.brute_force.block_seconds;
    await scope.failures.block(scope.failureKey, blockSeconds);
    const now = this.clock.now();
    await this.locks.record({
      tenantId: tenant.id,
      connectionId: connection.id,
      identifierKey: login.identifierKey,
      identifier,
      ip: isBruteForce ? login.ipKey : null,
      lockedAt: now,
      expiresAt: new Date(now.getTime() + blockSeconds * 1000),
    });
    await this.events.record({
      type: 'user_locked',
      reason: scope.kind,
      userId,
      ...eventContext(login),
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
  private async nextBackstopBlock(login: PendingLogin): Promise<{ seconds: number; repeat: number }> {
    const { block_seconds: first, max_block_seconds: cap } = login.input.tenant.protection.attack.backstop;
    const repeats = login.counters.backstopRepeats;
    const key = backstopKey(login);
    const repeat = ((await repeats.peek(key))?.consumed ?? 0) + 1;
    const seconds = Math.min(first * 2 ** Math.min(repeat - 1, 32), cap);
    await repeats.set(key, repeat, seconds + cap);
    return { seconds, repeat };
  }
}

/** What every event of a login attempt names. */
function eventContext(login: PendingLogin): { tenantId: string; clientId: string; connection: string; identifier: string; ip: string } {
  const { tenant, clientId, connection, identifier, ip } = login.input;
  return { tenantId: tenant.id, clientId, connection: connection.name, identifier, ip };
}
