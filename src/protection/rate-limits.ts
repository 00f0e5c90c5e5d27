/**
 * The token endpoint's rate limits (Auth0's per-tenant and per-application
 * limits): every token request counts, whatever its grant, in a fixed
 * window; one over the limit is refused with 429 and a Retry-After until the
 * window ends. They have nothing to do with logins: the lockout policy is
 * attack-protection.ts.
 */
import { TooManyAttemptsError } from '../domain/errors.js';
import type { Tenant } from '../domain/tenant.js';
import type { SecurityEvents } from '../observability/security-events.js';
import type { Counter, CounterBackend } from '../storage/counters.js';
import { PerTenant, rateLimitCounters, type RateLimitCounters } from './tenant-counters.js';

export class RateLimits {
  private readonly counters: PerTenant<RateLimitCounters>;

  constructor(
    backend: CounterBackend,
    private readonly events: SecurityEvents,
  ) {
    this.counters = new PerTenant((tenant) => rateLimitCounters(backend, tenant));
  }

  /** The whole tenant's limit: checked before client authentication. */
  async checkTenant(tenant: Tenant): Promise<void> {
    const limit = tenant.protection.rateLimits.tenant;
    const counter = this.counters.of(tenant).tenant;
    if (!limit || !counter) return;
    await this.enforce(counter, tenant.id, tenant, undefined, limit.requests);
  }

  /**
   * The application's own limit, else the tenant's per-client one: checked
   * after authentication, so only the client itself spends its quota.
   */
  async checkClient(tenant: Tenant, clientId: string): Promise<void> {
    const app = tenant.applications.get(clientId);
    const limit = app?.settings.rate_limit ?? tenant.protection.rateLimits.client;
    if (!limit) return;
    await this.enforce(this.counters.of(tenant).client(clientId, limit), 'all', tenant, clientId, limit.requests);
  }

  private async enforce(counter: Counter, key: string, tenant: Tenant, clientId: string | undefined, limit: number): Promise<void> {
    const result = await counter.consume(key);
    if (result.allowed) return;
    const scope = clientId === undefined ? 'tenant' : 'client';
    // One event per window: the first refusal, not every one after it.
    if (result.consumed === limit + 1) {
      await this.events.record({ type: 'rate_limited', reason: scope, tenantId: tenant.id, clientId, details: { limit } });
    }
    const owner = scope === 'tenant' ? 'tenant' : 'application';
    const clientPart = clientId === undefined ? '' : `, client ${clientId}`;
    const message = `Too many token requests for this ${owner}; retry after the time in Retry-After.`;
    throw new TooManyAttemptsError(message, result.msBeforeReset / 1000, {
      errorReason: 'rate_limited',
      logDetail: `token endpoint rate limit of the ${scope} reached (${limit} requests; tenant ${tenant.name}${clientPart})`,
    });
  }
}
