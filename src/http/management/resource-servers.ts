/**
 * `resource-servers` (DESIGN.md §9): Auth0's `/resource-servers` list, get
 * (by id or identifier, as Auth0 accepts both), create, update and delete,
 * translated to oauth/management/resource-servers.ts. The built-in
 * Management API is listed with `is_system: true` and is read-only.
 */
import { z } from 'zod';
import { SIGNING_ALGS } from '../../config/schema.js';
import type { ManagementResourceServers, ResourceServer, ResourceServerFields } from '../../oauth/management/resource-servers.js';
import { defineEndpoint, type ManagementEndpoint } from './endpoint.js';
import { listReply, listSchema, offsetOf, pageOf, paginationQuery } from './schemas/common.js';
import { displayName } from './schemas/fields.js';

const scopeSchema = z.object({ value: z.string(), description: z.string().optional() });

export const resourceServerSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    identifier: z.string(),
    scopes: z.array(scopeSchema),
    signing_alg: z.enum(SIGNING_ALGS),
    token_lifetime: z.number().int(),
    allow_offline_access: z.boolean(),
    skip_consent_for_verifiable_first_party_clients: z.boolean(),
    is_system: z.boolean(),
  })
  .meta({ id: 'ResourceServer' });

const name = displayName;

/** Auth0's fields Latchkey implements; any other is refused by name. The rest of the rules are the file's (config/schema.ts). */
const fields = {
  name: name.optional(),
  scopes: z
    .array(z.strictObject({ value: z.string().min(1).max(280), description: z.string().max(500).optional() }))
    .max(1000)
    .optional(),
  signing_alg: z.enum(SIGNING_ALGS).optional(),
  token_lifetime: z.number().int().optional(),
  allow_offline_access: z.boolean().optional(),
  skip_consent_for_verifiable_first_party_clients: z
    .literal(true)
    .optional()
    .describe('Latchkey serves first-party applications only and shows no consent screen.'),
};

const createBody = z.strictObject({ identifier: z.string().min(1).max(512), ...fields });
const updateBody = z.strictObject(fields);

const listQuery = paginationQuery.extend({
  identifiers: z
    .union([z.string().max(512), z.array(z.string().max(512)).max(10)])
    .optional()
    .describe('Only the APIs of these identifiers (repeat for several, at most 10).'),
});

/** An id, or an identifier (URL-encoded in the path). */
const idParams = z.object({ id: z.string().min(1).max(512) });

const errors = {
  403: { description: 'The built-in Management API cannot be changed (`operation_not_supported`)' },
  404: { description: 'No such resource server in this tenant (`inexistent_resource_server`)' },
  409: { description: 'The configuration file declares it (`managed_by_config`)' },
};

export function resourceServerEndpoints(apis: ManagementResourceServers): ManagementEndpoint[] {
  return [
    defineEndpoint({
      method: 'GET',
      path: '/resource-servers',
      operationId: 'get_resource-servers',
      tag: 'resource-servers',
      summary: "List the tenant's APIs: the built-in Management API, then the others by identifier",
      scopes: ['read:resource_servers'],
      query: listQuery,
      responses: { 200: { description: 'The APIs', schema: listSchema('resource_servers', resourceServerSchema) } },
      handle: async ({ tenant, query }) => {
        const all = apis.list(tenant, query.identifiers === undefined ? undefined : [query.identifiers].flat()).map(describeResourceServer);
        const page = pageOf(query);
        const { offset, limit } = offsetOf(page);
        return { status: 200, body: listReply('resource_servers', all.slice(offset, offset + limit), page, all.length) };
      },
    }),
    defineEndpoint({
      method: 'GET',
      path: '/resource-servers/{id}',
      operationId: 'get_resource-servers_by_id',
      tag: 'resource-servers',
      summary: 'Get an API by its id or its identifier',
      scopes: ['read:resource_servers'],
      params: idParams,
      responses: { 200: { description: 'The API', schema: resourceServerSchema }, 404: errors[404] },
      handle: async ({ tenant, params }) => ({ status: 200, body: describeResourceServer(apis.get(tenant, params.id)) }),
    }),
    defineEndpoint({
      method: 'POST',
      path: '/resource-servers',
      operationId: 'post_resource-servers',
      tag: 'resource-servers',
      summary: 'Create an API: tokens for it from the next request',
      scopes: ['create:resource_servers'],
      body: createBody,
      responses: {
        201: { description: 'The API', schema: resourceServerSchema },
        409: { description: 'The identifier is taken, or reserved by a built-in API (`resource_server_conflict`)' },
      },
      handle: async ({ tenant, body }) => {
        const { identifier, skip_consent_for_verifiable_first_party_clients: _skip, ...rest } = body;
        const api = await apis.create(tenant, identifier, rest satisfies ResourceServerFields);
        return { status: 201, body: describeResourceServer(api), target: api.id };
      },
    }),
    defineEndpoint({
      method: 'PATCH',
      path: '/resource-servers/{id}',
      operationId: 'patch_resource-servers_by_id',
      tag: 'resource-servers',
      summary: 'Update an API created through this API (only the fields sent change; never the identifier)',
      scopes: ['update:resource_servers'],
      params: idParams,
      body: updateBody,
      responses: { 200: { description: 'The API', schema: resourceServerSchema }, ...errors },
      handle: async ({ tenant, params, body }) => {
        const { skip_consent_for_verifiable_first_party_clients: _skip, ...rest } = body;
        return { status: 200, body: describeResourceServer(await apis.update(tenant, params.id, rest)) };
      },
    }),
    defineEndpoint({
      method: 'DELETE',
      path: '/resource-servers/{id}',
      operationId: 'delete_resource-servers_by_id',
      tag: 'resource-servers',
      summary: 'Delete an API created through this API, and the client grants for it',
      scopes: ['delete:resource_servers'],
      params: idParams,
      responses: { 204: { description: 'Deleted' }, ...errors },
      handle: async ({ tenant, params }) => {
        await apis.delete(tenant, params.id);
        return { status: 204 };
      },
    }),
  ];
}

export function describeResourceServer(api: ResourceServer): z.output<typeof resourceServerSchema> {
  const { settings, profile } = api;
  return {
    id: api.id,
    name: profile.name ?? settings.identifier,
    identifier: settings.identifier,
    scopes: settings.scopes.map((value) => {
      const description = profile.scopeDescriptions?.[value];
      return description === undefined ? { value } : { value, description };
    }),
    signing_alg: settings.signing_alg,
    token_lifetime: settings.token_lifetime,
    allow_offline_access: settings.allow_offline_access,
    skip_consent_for_verifiable_first_party_clients: true,
    is_system: api.isSystem,
  };
}
