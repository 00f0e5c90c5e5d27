/**
 * The Management API's logs (DESIGN.md §9): the tenant's security events
 * (observability/security-events.ts), newest first, paged; one user's for
 * `GET /users/{id}/logs`. http/management/logs.ts gives them Auth0's shape
 * and event type codes.
 */
import type { Tenant } from '../../domain/tenant.js';
import type { SecurityEventStore, StoredSecurityEvent } from '../../storage/stores.js';

export interface LogPage {
  events: StoredSecurityEvent[];
  total: number;
}

export interface LogFilter {
  userId?: string | undefined;
  types?: string[] | undefined;
  clientId?: string | undefined;
  ip?: string | undefined;
}

export class ManagementLogs {
  constructor(private readonly events: Pick<SecurityEventStore, 'query' | 'count'>) {}

  async list(tenant: Tenant, filter: LogFilter, page: { offset: number; limit: number }): Promise<LogPage> {
    const where = { tenantId: tenant.id, ...filter };
    const [events, total] = await Promise.all([this.events.query({ ...where, ...page }), this.events.count(where)]);
    return { events, total };
  }
}
