/**
 * `GET /connections`, `GET /connections/{id}` (DESIGN.md §9, read only):
 * the tenant's connections in Auth0's shape. A database connection is
 * strategy `auth0`, a custom credential validator is also `auth0` with
 * `enabledDatabaseCustomization` (Auth0's custom database), an LDAP or
 * Active Directory connection is `ad` (Auth0's AD/LDAP connector).
 */
import { z } from 'zod';
import { notFound } from '../../domain/management-errors.js';
import type { Tenant } from '../../domain/tenant.js';
import type { ConnectionRecord } from '../../storage/stores.js';
import { defineEndpoint, type ManagementEndpoint } from './endpoint.js';
import { listReply, listSchema, offsetOf, pageOf, paginationQuery } from './schemas/common.js';

const STRATEGIES = ['auth0', 'ad'] as const;

export const connectionSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    strategy: z.enum(STRATEGIES),
    realms: z.array(z.string()),
    enabled_clients: z.array(z.string()),
    is_domain_connection: z.boolean(),
    options: z.object({
      disable_signup: z.boolean().optional(),
      enabledDatabaseCustomization: z.boolean().optional(),
      passwordPolicy: z.string().optional(),
      password_complexity_options: z.object({ min_length: z.number().int() }).optional(),
    }),
  })
  .meta({ id: 'Connection' });

const listQuery = paginationQuery.extend({
  strategy: z
    .union([z.enum(STRATEGIES), z.array(z.enum(STRATEGIES))])
    .optional()
    .describe('Only connections of this strategy (repeat for several).'),
  name: z.string().max(128).optional().describe('Only the connection of this name.'),
});

const idParams = z.object({ id: z.string().min(1).max(128) });

export function connectionEndpoints(): ManagementEndpoint[] {
  return [
    defineEndpoint({
      method: 'GET',
      path: '/connections',
      operationId: 'get_connections',
      tag: 'connections',
      summary: "List the tenant's connections",
      scopes: ['read:connections'],
      query: listQuery,
      responses: { 200: { description: 'The connections, by name', schema: listSchema('connections', connectionSchema) } },
      handle: async ({ tenant, query }) => {
        const strategies = query.strategy === undefined ? undefined : [query.strategy].flat();
        const all = [...tenant.connections.values()]
          .map((c) => describeConnection(tenant, c))
          .filter(
            (c) => (strategies === undefined || strategies.includes(c.strategy)) && (query.name === undefined || c.name === query.name),
          )
          .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        const page = pageOf(query);
        const { offset, limit } = offsetOf(page);
        return { status: 200, body: listReply('connections', all.slice(offset, offset + limit), page, all.length) };
      },
    }),
    defineEndpoint({
      method: 'GET',
      path: '/connections/{id}',
      operationId: 'get_connections_by_id',
      tag: 'connections',
      summary: 'Get a connection',
      scopes: ['read:connections'],
      params: idParams,
      responses: {
        200: { description: 'The connection', schema: connectionSchema },
        404: { description: 'No such connection in this tenant' },
      },
      handle: async ({ tenant, params }) => {
        const connection = [...tenant.connections.values()].find((c) => c.id === params.id);
        if (!connection) throw notFound('inexistent_connection', 'The connection does not exist.');
        return { status: 200, body: describeConnection(tenant, connection) };
      },
    }),
  ];
}

export function describeConnection(tenant: Tenant, connection: ConnectionRecord): z.output<typeof connectionSchema> {
  const enabledClients = [...tenant.applications.values()]
    .filter((app) => app.settings.connections === undefined || app.settings.connections.includes(connection.name))
    .map((app) => app.clientId)
    .sort();
  return {
    id: connection.id,
    name: connection.name,
    strategy: connection.type === 'ldap' ? 'ad' : 'auth0',
    realms: [connection.name],
    enabled_clients: enabledClients,
    is_domain_connection: false,
    options: {
      ...(connection.type === 'database' ? { disable_signup: connection.disableSignup !== false } : {}),
      ...(connection.type === 'http' ? { enabledDatabaseCustomization: true } : {}),
      ...(connection.type === 'ldap' ? {} : { password_complexity_options: { min_length: connection.passwordPolicy.min_length } }),
    },
  };
}
