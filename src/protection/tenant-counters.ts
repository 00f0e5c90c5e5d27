/**
 * Counter wiring: which counters a tenant's attack protection and rate
 * limits use, created from its settings on first use and kept for the life
 * of the process. The counters live in the backend the composition root
 * chose (storage/counters.ts), except the in-flight marks of a single node.
 */
import type { RateLimitConfig } from '../config/schema.js';
import type { Tenant } from '../domain/tenant.js';
import type { Counter, CounterBackend } from '../storage/counters.js';
import { memoryCounter } from '../storage/limiter-counter.js';

/** How long a successful sign-in keeps its IP familiar to the login name, exempt from the backstop. */
export const FAMILIAR_IP_SECONDS = 30 * 86_400;
/** An attempt's in-flight mark expires after this, should its node die before giving it back. */
const IN_FLIGHT_WINDOW_SECONDS = 60;
/** For counts that only mark or remember (they are compared by the policy, never refused by the counter). */
const UNLIMITED = 1_000_000;

/** One value per tenant, made on first use. */
export class PerTenant<T> {
  private readonly byTenant = new Map<string, T>();

  constructor(private readonly create: (tenant: Tenant) => T) {}

  of(tenant: Tenant): T {
    let value = this.byTenant.get(tenant.id);
    if (value === undefined) {
      value = this.create(tenant);
      this.byTenant.set(tenant.id, value);
    }
    return value;
  }
}

/** The counters of the login lockout policy (attack-protection.ts). */
export interface LoginCounters {
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
}

export function loginCounters(backend: CounterBackend, tenant: Tenant): LoginCounters {
  const attack = tenant.protection.attack;
  return {
    bruteForce: backend.counter({ name: 'bf', limit: attack.brute_force.threshold, windowSeconds: attack.brute_force.block_seconds }),
    // Failures towards the backstop are remembered as long as the per-IP lock's (30 days by default); a block is
    // set on the key with its own, shorter, duration.
    backstop: backend.counter({ name: 'bs', limit: attack.backstop.threshold, windowSeconds: attack.brute_force.block_seconds }),
    backstopRepeats: backend.counter({ name: 'bsr', limit: UNLIMITED, windowSeconds: attack.backstop.max_block_seconds }),
    familiarIps: backend.counter({ name: 'fam', limit: UNLIMITED, windowSeconds: FAMILIAR_IP_SECONDS }),
    // Keyed per day (per hour); each key lives two, so the previous window's count is still there to weigh.
    suspiciousIp: backend.counter({ name: 'ip', limit: attack.suspicious_ip.per_day, windowSeconds: 2 * 86_400 }),
    ipChecks: backend.counter({ name: 'ic', limit: attack.suspicious_ip.failed_checks_per_hour, windowSeconds: 2 * 3600 }),
    // Attempts in flight matter only while they run: in memory when this node is the only one.
    inFlight: backend.shared
      ? backend.counter({ name: 'fl', limit: UNLIMITED, windowSeconds: IN_FLIGHT_WINDOW_SECONDS })
      : memoryCounter({ name: 'fl', limit: UNLIMITED, windowSeconds: IN_FLIGHT_WINDOW_SECONDS }),
    ipThrottled: backend.counter({ name: 'ipt', limit: 1, windowSeconds: 2 * 86_400 }),
    samePassword: backend.counter({
      name: 'rp',
      limit: UNLIMITED,
      windowSeconds: Math.max(1, attack.brute_force.same_password_window_seconds),
    }),
  };
}

/** The counters of the token endpoint's rate limits (rate-limits.ts). */
export interface RateLimitCounters {
  /** Undefined when the tenant sets no limit of its own. */
  tenant: Counter | undefined;
  /** The application's counter, made on its first request with the limit then in force. */
  client(clientId: string, limit: RateLimitConfig): Counter;
}

export function rateLimitCounters(backend: CounterBackend, tenant: Tenant): RateLimitCounters {
  const rate = tenant.protection.rateLimits;
  const byClient = new Map<string, Counter>();
  return {
    tenant: rate.tenant
      ? backend.counter({ name: `rt:${tenant.id}`, limit: rate.tenant.requests, windowSeconds: rate.tenant.per_seconds })
      : undefined,
    client(clientId, limit) {
      let counter = byClient.get(clientId);
      if (!counter) {
        counter = backend.counter({ name: `rc:${tenant.id}:${clientId}`, limit: limit.requests, windowSeconds: limit.per_seconds });
        byClient.set(clientId, counter);
      }
      return counter;
    },
  };
}
