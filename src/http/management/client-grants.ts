/**
 * `client-grants` (DESIGN.md §9): Auth0's `/client-grants` list (filters
 * `audience`, `client_id`), create, update (scope) and delete, translated to
 * oauth/management/client-grants.ts. Lists page by `page`/`per_page`, or by
 * checkpoint (`from`/`take`, answering `next`) as Auth0's SDK pages them.
 */
import { z } from 'zod';
import { badRequest } from '../../domain/management-errors.js';
import { compareKeys, grantKey, type ManagementClientGrants } from '../../oauth/management/client-grants.js';
import type { ClientGrantRecord } from '../../storage/stores.js';
import { defineEndpoint, type ManagementEndpoint } from './endpoint.js';
import { DEFAULT_PER_PAGE, listReply, listSchema, offsetOf, pageOf, paginationQuery } from './schemas/common.js';

export const clientGrantSchema = z
  .object({
    id: z.string(),
    client_id: z.string(),
    audience: z.string(),
    scope: z.array(z.string()),
    allow_any_organization: z.boolean(),
    is_system: z.boolean(),
    subject_type: z.literal('client'),
  })
  .meta({ id: 'ClientGrant' });

const scope = z.array(z.string().min(1).max(280)).max(500);

const createBody = z.strictObject({
  client_id: z.string().min(1).max(128),
  audience: z.string().min(1).max(512),
  scope: scope.default([]),
  subject_type: z.literal('client').optional().describe('Latchkey grants applications (client_credentials) only.'),
});
const updateBody = z.strictObject({ scope });

const listQuery = paginationQuery.extend({
  audience: z.string().max(512).optional().describe('Only grants for this API identifier.'),
  client_id: z.string().max(128).optional().describe('Only grants of this client.'),
  from: z.string().max(2000).optional().describe('Checkpoint paging: the `next` of the previous answer.'),
});

const idParams = z.object({ id: z.string().min(1).max(128) });

const errors = {
  404: { description: 'No such client grant in this tenant' },
  409: { description: 'The configuration file declares the grant (`managed_by_config`)' },
};

export function clientGrantEndpoints(grants: ManagementClientGrants): ManagementEndpoint[] {
  return [
    defineEndpoint({
      method: 'GET',
      path: '/client-grants',
      operationId: 'get_client-grants',
      tag: 'client-grants',
      summary: "List the tenant's client grants, by client_id then audience",
      scopes: ['read:client_grants'],
      query: listQuery,
      responses: {
        200: {
          description: 'The grants: the bare array, the totals envelope, or a checkpoint page `{client_grants, next}`',
          schema: z.union([listSchema('client_grants', clientGrantSchema), checkpointSchema]),
        },
      },
      handle: async ({ tenant, query }) => {
        const all = grants.list(tenant, { audience: query.audience, clientId: query.client_id }).map(describeClientGrant);
        // Auth0's SDK pages client grants by checkpoint: `take` (and `from`) without `per_page`.
        if (query.from !== undefined || (query.take !== undefined && query.per_page === undefined)) {
          return { status: 200, body: checkpointPage(all, query.from, query.take ?? DEFAULT_PER_PAGE, query.include_totals) };
        }
        const page = pageOf(query);
        const { offset, limit } = offsetOf(page);
        return { status: 200, body: listReply('client_grants', all.slice(offset, offset + limit), page, all.length) };
      },
    }),
    defineEndpoint({
      method: 'POST',
      path: '/client-grants',
      operationId: 'post_client-grants',
      tag: 'client-grants',
      summary: 'Let a client call an API with client_credentials, with these of its scopes',
      scopes: ['create:client_grants'],
      body: createBody,
      responses: {
        201: { description: 'The grant', schema: clientGrantSchema },
        400: { description: 'A scope the API does not define' },
        404: { description: 'No such client (`inexistent_client`) or API (`inexistent_resource_server`) in this tenant' },
        409: { description: 'A grant for this client and API exists (`client_grant_conflict`)' },
      },
      handle: async ({ tenant, body }) => {
        const grant = await grants.create(tenant, { clientId: body.client_id, audience: body.audience, scope: body.scope });
        return { status: 201, body: describeClientGrant(grant), target: grant.id };
      },
    }),
    defineEndpoint({
      method: 'PATCH',
      path: '/client-grants/{id}',
      operationId: 'patch_client-grants_by_id',
      tag: 'client-grants',
      summary: "Replace a grant's scopes (a grant created through this API)",
      scopes: ['update:client_grants'],
      params: idParams,
      body: updateBody,
      responses: {
        200: { description: 'The grant', schema: clientGrantSchema },
        400: { description: 'A scope the API does not define' },
        ...errors,
      },
      handle: async ({ tenant, params, body }) => ({
        status: 200,
        body: describeClientGrant(await grants.update(tenant, params.id, body.scope)),
      }),
    }),
    defineEndpoint({
      method: 'DELETE',
      path: '/client-grants/{id}',
      operationId: 'delete_client-grants_by_id',
      tag: 'client-grants',
      summary: 'Delete a grant created through this API: client_credentials for that API is refused from now on',
      scopes: ['delete:client_grants'],
      params: idParams,
      responses: { 204: { description: 'Deleted' }, ...errors },
      handle: async ({ tenant, params }) => {
        await grants.delete(tenant, params.id);
        return { status: 204 };
      },
    }),
  ];
}

type ClientGrantBody = z.output<typeof clientGrantSchema>;

const checkpointSchema = z.object({ client_grants: z.array(clientGrantSchema), next: z.string().optional() });

export function describeClientGrant(grant: ClientGrantRecord): ClientGrantBody {
  return {
    id: grant.id,
    client_id: grant.clientId,
    audience: grant.audience,
    scope: [...grant.scope],
    allow_any_organization: false,
    is_system: false,
    subject_type: 'client',
  };
}

/**
 * Checkpoint paging: `next` names the last grant's place in the order (its
 * client_id and audience), so a page never repeats or skips a grant when
 * others are created or deleted in between.
 */
function checkpointPage(all: ClientGrantBody[], from: string | undefined, take: number, envelope: boolean): unknown {
  const after = from === undefined ? undefined : checkpointOf(from);
  const rest = after === undefined ? all : all.filter((g) => compareKeys(grantKey(keyed(g)), after) > 0);
  const items = rest.slice(0, take);
  const last = items.at(-1);
  if (!envelope) return items;
  return {
    client_grants: items,
    ...(rest.length > take && last ? { next: Buffer.from(JSON.stringify(grantKey(keyed(last)))).toString('base64url') } : {}),
  };
}

function keyed(grant: ClientGrantBody): { clientId: string; audience: string } {
  return { clientId: grant.client_id, audience: grant.audience };
}

function checkpointOf(from: string): [string, string] {
  try {
    const key = JSON.parse(Buffer.from(from, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(key) && key.length === 2) {
      const [clientId, audience] = key as unknown[];
      if (typeof clientId === 'string' && typeof audience === 'string') return [clientId, audience];
    }
  } catch {
    // refused below
  }
  throw badRequest("Query validation error: 'from' is not a checkpoint this API answered on property from.", 'invalid_query_string');
}
