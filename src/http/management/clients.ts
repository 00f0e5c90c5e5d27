/**
 * `clients` (DESIGN.md §9): Auth0's `/clients` list, get, create, update,
 * delete and `/clients/{id}/rotate-secret`, translated to the rules in
 * oauth/management/clients.ts. A client's secret appears only in the answer
 * that drew it (create, rotate, or a change that made it confidential).
 */
import { z } from 'zod';
import { CLIENT_AUTH_METHODS } from '../../config/schema.js';
import { GRANT_TYPES } from '../../domain/grant-types.js';
import type { Tenant } from '../../domain/tenant.js';
import type { ClientFields, ManagementClients } from '../../oauth/management/clients.js';
import { APP_TYPES, type ApplicationRecord, type AppType } from '../../storage/stores.js';
import { defineEndpoint, type ManagementEndpoint } from './endpoint.js';
import { listReply, listSchema, offsetOf, pageOf, paginationQuery, queryBoolean } from './schemas/common.js';
import { displayName, fieldsQuery, projectFields } from './schemas/fields.js';

/** What `fields`/`include_fields` leave of a client: any of its members (schemas/fields.ts). */
const selectedClientFields = () => clientSchema.partial();

const API_AUTH_METHODS = ['none', 'client_secret_post', 'client_secret_basic'] as const;

export const clientSchema = z
  .object({
    tenant: z.string(),
    client_id: z.string(),
    name: z.string(),
    description: z.string().optional(),
    app_type: z.enum(APP_TYPES),
    is_first_party: z.boolean(),
    oidc_conformant: z.boolean(),
    global: z.boolean(),
    callbacks: z.array(z.string()),
    allowed_logout_urls: z.array(z.string()),
    grant_types: z.array(z.string()),
    token_endpoint_auth_method: z.enum(CLIENT_AUTH_METHODS),
    is_token_endpoint_ip_header_trusted: z.boolean(),
    jwt_configuration: z.object({ alg: z.string(), lifetime_in_seconds: z.number().int() }),
    refresh_token: z.object({
      rotation_type: z.literal('rotating'),
      expiration_type: z.literal('expiring'),
      leeway: z.number().int(),
      token_lifetime: z.number().int(),
      idle_token_lifetime: z.number().int(),
      infinite_token_lifetime: z.boolean(),
      infinite_idle_token_lifetime: z.boolean(),
    }),
    client_secret: z
      .string()
      .optional()
      .describe('Only in the answer that drew it: create, rotate-secret, or an update that made the client confidential.'),
  })
  .meta({ id: 'Client' });

const name = displayName;

/** Auth0's client fields Latchkey implements; any other is refused by name, never silently dropped. */
const clientFields = {
  description: z.string().max(140).optional(),
  app_type: z.enum(APP_TYPES).optional(),
  callbacks: z.array(z.string().max(2000)).max(100).optional(),
  allowed_logout_urls: z.array(z.string().max(2000)).max(100).optional(),
  grant_types: z.array(z.enum(GRANT_TYPES)).max(GRANT_TYPES.length).optional(),
  token_endpoint_auth_method: z.enum(API_AUTH_METHODS).optional(),
  is_token_endpoint_ip_header_trusted: z.boolean().optional(),
  is_first_party: z.literal(true).optional().describe('Latchkey serves first-party applications only.'),
  oidc_conformant: z.literal(true).optional().describe('Latchkey is OIDC-conformant only.'),
};

const createBody = z.strictObject({ name, ...clientFields });
const updateBody = z.strictObject({ name: name.optional(), ...clientFields });

const listQuery = paginationQuery.extend({
  ...fieldsQuery.shape,
  app_type: z.string().max(200).optional().describe('Only clients of these application types (comma-separated).'),
  is_first_party: queryBoolean.optional().describe('Latchkey serves first-party clients only: `false` lists none.'),
  is_global: queryBoolean.optional().describe('Latchkey has no global client: `true` lists none.'),
});

const idParams = z.object({ id: z.string().min(1).max(128) });

const errors = {
  404: { description: 'No such client in this tenant (`inexistent_client`)' },
  409: { description: 'The configuration file declares the client (`managed_by_config`)' },
};

export function clientEndpoints(clients: ManagementClients): ManagementEndpoint[] {
  return [
    defineEndpoint({
      method: 'GET',
      path: '/clients',
      operationId: 'get_clients',
      tag: 'clients',
      summary: "List the tenant's applications: those the file declares and those created through this API",
      scopes: ['read:clients'],
      query: listQuery,
      responses: { 200: { description: 'The clients, by client_id', schema: listSchema('clients', selectedClientFields()) } },
      handle: async ({ tenant, query }) => {
        const appTypes = query.app_type?.split(',').map((t) => t.trim());
        const all = clients
          .list(tenant)
          .map((app) => describeClient(tenant, app))
          .filter(
            (c) => (appTypes === undefined || appTypes.includes(c.app_type)) && query.is_first_party !== false && query.is_global !== true,
          );
        const page = pageOf(query);
        const { offset, limit } = offsetOf(page);
        const items = all.slice(offset, offset + limit).map((c) => projectFields(c, query));
        return { status: 200, body: listReply('clients', items, page, all.length) };
      },
    }),
    defineEndpoint({
      method: 'GET',
      path: '/clients/{id}',
      operationId: 'get_clients_by_id',
      tag: 'clients',
      summary: 'Get a client (never its secret)',
      scopes: ['read:clients'],
      params: idParams,
      query: fieldsQuery,
      responses: { 200: { description: 'The client', schema: selectedClientFields() }, 404: errors[404] },
      handle: async ({ tenant, params, query }) => ({
        status: 200,
        body: projectFields(describeClient(tenant, clients.get(tenant, params.id)), query),
      }),
    }),
    defineEndpoint({
      method: 'POST',
      path: '/clients',
      operationId: 'post_clients',
      tag: 'clients',
      summary: 'Create a client; the answer holds its client_secret, shown this once',
      scopes: ['create:clients'],
      body: createBody,
      responses: { 201: { description: 'The client, with its secret (confidential clients)', schema: clientSchema } },
      handle: async ({ tenant, body }) => {
        const { app, secret } = await clients.create(tenant, fieldsOf(body) as ClientFields & { name: string });
        return { status: 201, body: describeClient(tenant, app, secret), target: app.clientId };
      },
    }),
    defineEndpoint({
      method: 'PATCH',
      path: '/clients/{id}',
      operationId: 'patch_clients_by_id',
      tag: 'clients',
      summary: 'Update a client created through this API (only the fields sent change)',
      scopes: ['update:clients'],
      params: idParams,
      body: updateBody,
      responses: { 200: { description: 'The client', schema: clientSchema }, ...errors },
      handle: async ({ tenant, params, body }) => {
        const { app, secret } = await clients.update(tenant, params.id, fieldsOf(body));
        return { status: 200, body: describeClient(tenant, app, secret) };
      },
    }),
    defineEndpoint({
      method: 'DELETE',
      path: '/clients/{id}',
      operationId: 'delete_clients_by_id',
      tag: 'clients',
      summary: 'Delete a client created through this API: its client grants go, its refresh tokens are revoked, its tokens refused',
      scopes: ['delete:clients'],
      params: idParams,
      responses: { 204: { description: 'Deleted' }, ...errors },
      handle: async ({ tenant, params }) => {
        await clients.delete(tenant, params.id);
        return { status: 204 };
      },
    }),
    defineEndpoint({
      method: 'POST',
      path: '/clients/{id}/rotate-secret',
      operationId: 'post_rotate_secret',
      tag: 'clients',
      summary: 'Draw a new client secret, shown this once; the old one stops working at once',
      scopes: ['update:clients'],
      params: idParams,
      responses: {
        200: { description: 'The client with its new secret', schema: clientSchema },
        400: { description: 'A public client has no secret' },
        ...errors,
      },
      handle: async ({ tenant, params }) => {
        const { app, secret } = await clients.rotateSecret(tenant, params.id);
        return { status: 200, body: describeClient(tenant, app, secret) };
      },
    }),
  ];
}

/** The body's fields the rules take; `is_first_party` and `oidc_conformant` can only say what is already so. */
function fieldsOf(body: z.output<typeof updateBody>): ClientFields {
  const { is_first_party: _firstParty, oidc_conformant: _conformant, ...fields } = body;
  return fields;
}

/** Auth0's client object, field by field: the stored hash, like the secret, is never in it. */
export function describeClient(tenant: Tenant, app: ApplicationRecord, secret?: string): z.output<typeof clientSchema> {
  const { settings } = app;
  return {
    tenant: tenant.name,
    client_id: app.clientId,
    name: settings.name ?? app.clientId,
    ...(app.profile?.description === undefined ? {} : { description: app.profile.description }),
    app_type: app.profile?.appType ?? impliedAppType(app),
    is_first_party: true,
    oidc_conformant: true,
    global: false,
    callbacks: [...settings.callbacks],
    allowed_logout_urls: [...settings.allowed_logout_urls],
    grant_types: [...settings.grant_types],
    token_endpoint_auth_method: settings.token_endpoint_auth_method,
    is_token_endpoint_ip_header_trusted: settings.trust_forwarded_for,
    jwt_configuration: { alg: tenant.settings.id_token_signing_alg, lifetime_in_seconds: tenant.settings.id_token_lifetime },
    refresh_token: {
      rotation_type: 'rotating',
      expiration_type: 'expiring',
      leeway: settings.refresh_token.reuse_interval,
      token_lifetime: settings.refresh_token.absolute_lifetime,
      idle_token_lifetime: settings.refresh_token.idle_lifetime,
      infinite_token_lifetime: false,
      infinite_idle_token_lifetime: false,
    },
    ...(secret === undefined ? {} : { client_secret: secret }),
  };
}

/** Auth0's application type for one the file declares (the file has no such key): read from how it authenticates and signs in. */
function impliedAppType(app: ApplicationRecord): AppType {
  const { token_endpoint_auth_method: method, grant_types: grants, callbacks } = app.settings;
  if (method === 'none') return callbacks.length > 0 && callbacks.every((c) => c.startsWith('https:')) ? 'spa' : 'native';
  if (grants.length > 0 && grants.every((g) => g === 'client_credentials')) return 'non_interactive';
  return 'regular_web';
}
