import type { FastifyRequest } from 'fastify';
import type { Catalog, Tenant } from '../domain/tenant.js';
import { NotFoundError } from '../domain/errors.js';

export function tenantOf(request: FastifyRequest, catalog: Catalog): Tenant {
  const name = (request.params as { tenant?: string }).tenant ?? '';
  const tenant = catalog.tenant(name);
  // The route pattern, never the name as sent (issue #11 point 11: descriptions do not echo input).
  if (!tenant)
    throw new NotFoundError(`No tenant of this server has the name given for :tenant in ${request.routeOptions.url ?? 'the path'}.`, {
      logDetail: `unknown tenant ${JSON.stringify(name.slice(0, 64))}`,
    });
  return tenant;
}

/** The `:tenant` path parameter for log lines (route has one), as sent, capped: it may name no tenant. */
export function tenantParam(request: FastifyRequest): string | undefined {
  const name = (request.params as { tenant?: unknown } | undefined)?.tenant;
  return typeof name === 'string' ? name.slice(0, 64) : undefined;
}
