import type { FastifyRequest } from 'fastify';
import type { Catalog, Tenant } from '../oauth/catalog.js';
import { NotFoundError } from '../oauth/errors.js';

export function tenantOf(request: FastifyRequest, catalog: Catalog): Tenant {
  const name = (request.params as { tenant?: string }).tenant ?? '';
  const tenant = catalog.tenant(name);
  if (!tenant) throw new NotFoundError(`There is no tenant "${name.slice(0, 64)}" on this server.`);
  return tenant;
}
