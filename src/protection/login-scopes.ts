/**
 * The limits a login attempt is checked against (attack-protection.ts), each
 * a scope: a failure count under a key, and a count of the attempts in
 * flight on it; and the keys they count under (a login name hashed with its
 * connection, an IP as domain/ip.ts keys it).
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../clock.js';
import { loginKey } from '../domain/login-key.js';
import type { Tenant } from '../domain/tenant.js';
import type { Counter, CounterState } from '../storage/counters.js';
import { windowPosition } from './sliding-window.js';
import type { LoginCounters } from './tenant-counters.js';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/** The event reasons of the limits; `ip_blocked` is the per-day budget, `ip_check_budget` the hourly one. */
export type ScopeKind = 'brute_force' | 'backstop' | 'ip_blocked' | 'ip_check_budget';

/** One limit an attempt is checked against: its failure count and its in-flight count. */
export interface Scope {
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

/** A scope as read for one attempt. */
export interface ScopeCheck {
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

/** Who is trying from where, as the counters key it. */
export interface AttemptKeys {
  tenantId: string;
  /** identifierKeyOf(connection, identifier). */
  identifierKey: string;
  /** ipCounterKey(ip). */
  ipKey: string;
}

/** The scopes the tenant's settings turn on for this attempt; the allowlist bypasses all but the backstop. */
export function scopesFor(tenant: Tenant, counters: LoginCounters, keys: AttemptKeys, allowlisted: boolean, clock: Clock): Scope[] {
  const settings = tenant.protection.attack;
  const scopes: Scope[] = [];
  if (settings.brute_force.enabled && !allowlisted) {
    const key = bruteForceKey(keys);
    scopes.push({
      kind: 'brute_force',
      limit: settings.brute_force.threshold,
      failures: counters.bruteForce,
      failureKey: key,
      inFlightKey: `bf:${key}`,
      locks: true,
      countsRepeats: false,
    });
  }
  if (settings.backstop.enabled) {
    const key = backstopKey(keys);
    scopes.push({
      kind: 'backstop',
      limit: settings.backstop.threshold,
      failures: counters.backstop,
      failureKey: key,
      inFlightKey: `bs:${key}`,
      locks: true,
      countsRepeats: false,
    });
  }
  if (settings.suspicious_ip.enabled && !allowlisted) {
    const now = clock.now().getTime();
    const key = ipScopeKey(keys);
    scopes.push(
      slidingIpScope('ip_blocked', settings.suspicious_ip.per_day, counters.suspiciousIp, key, now, DAY_MS),
      slidingIpScope('ip_check_budget', settings.suspicious_ip.failed_checks_per_hour, counters.ipChecks, key, now, HOUR_MS),
    );
  }
  return scopes;
}

/** A per-IP budget that refills gradually: this window's count plus the last one's, weighted (sliding-window.ts). */
function slidingIpScope(
  kind: 'ip_blocked' | 'ip_check_budget',
  limit: number,
  failures: Counter,
  ipScopeKey: string,
  nowMs: number,
  periodMs: number,
): Scope {
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

/**
 * The scopes one attempt is checked and counted against, and the in-flight
 * marks it holds on them: one per distinct in-flight key (the two per-IP
 * scopes share theirs), reserved together and given back once per
 * reservation.
 */
export class AttemptScopes {
  private held = false;

  constructor(
    private current: readonly Scope[],
    private readonly inFlight: Counter,
  ) {}

  get all(): readonly Scope[] {
    return this.current;
  }

  /** Takes one mark per in-flight key; each resolves to the count in flight there, this attempt included. */
  reserve(): Map<string, Promise<CounterState>> {
    this.held = true;
    return new Map(this.inFlightKeys().map((key) => [key, this.inFlight.consume(key)]));
  }

  /** Gives the marks back, once per reservation. */
  async release(): Promise<void> {
    if (!this.held) return;
    this.held = false;
    await Promise.all(this.inFlightKeys().map((key) => this.inFlight.refund(key)));
  }

  /** A scope no longer applies to this attempt: its in-flight mark is given back, and nothing counts there. */
  async drop(scope: Scope): Promise<void> {
    if (!this.current.includes(scope)) return;
    this.current = this.current.filter((s) => s !== scope);
    if (this.held) await this.inFlight.refund(scope.inFlightKey);
  }

  private inFlightKeys(): string[] {
    return [...new Set(this.current.map((scope) => scope.inFlightKey))];
  }
}

/** The connection and the login as typed, normalised as the user store matches it, hashed to bound the key. */
export function identifierKeyOf(connectionId: string, identifier: string): string {
  return createHash('sha256')
    .update(`${connectionId}\0${loginKey(identifier)}`)
    .digest('base64url')
    .slice(0, 32);
}

/** The name from this IP: the brute-force lock's key. */
export const bruteForceKey = ({ tenantId, identifierKey, ipKey }: AttemptKeys): string => `${tenantId}:${identifierKey}:${ipKey}`;
/** The name from every IP: the backstop's key, and its repeats'. */
export const backstopKey = ({ tenantId, identifierKey }: Omit<AttemptKeys, 'ipKey'>): string => `${tenantId}:${identifierKey}`;
/** The name and an IP where it signed in. */
export const familiarKey = bruteForceKey;
/** The IP across names: its budgets' keys (one per window), its in-flight key and its throttle marker. */
export const ipScopeKey = ({ tenantId, ipKey }: Omit<AttemptKeys, 'identifierKey'>): string => `${tenantId}:${ipKey}`;
