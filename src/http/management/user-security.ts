/**
 * Auth0's `user-blocks`, `users/{id}/authentication-methods`,
 * `users/{id}/authenticators` and `users/{id}/refresh-tokens` (Management
 * API v2, DESIGN.md §9). The rules live in oauth/management/user-security.ts.
 */
import { z } from 'zod';
import type { AuthenticationMethods, LoginBlock } from '../../oauth/management/user-security.js';
import type { RefreshTokenFamily } from '../../storage/stores.js';
import { defineEndpoint, type ManagementEndpoint } from './endpoint.js';
import { listReply, listSchema, MAX_PER_PAGE, offsetOf, pageOf, paginationQuery } from './schemas/common.js';
import { userIdOf, userIdParams, type UserEndpointsDeps } from './user-schemas.js';

const blocksSchema = z
  .object({
    blocked_for: z.array(z.object({ identifier: z.string(), ip: z.string().optional(), connection: z.string() })),
  })
  .meta({ id: 'UserBlocks' });

const identifierQuery = z.object({
  identifier: z.string().min(1).max(320).describe('A username or email, in any connection of the tenant.'),
});

const authenticationMethodSchema = z
  .object({
    id: z.string(),
    type: z.enum(['totp', 'email', 'recovery-code']),
    confirmed: z.boolean(),
    email: z.string().optional(),
    created_at: z.string(),
    enrolled_at: z.string().optional(),
  })
  .meta({ id: 'UserAuthenticationMethod' });

const refreshTokenSchema = z
  .object({
    id: z.string(),
    user_id: z.string(),
    client_id: z.string(),
    created_at: z.string(),
    idle_expires_at: z.string(),
    expires_at: z.string(),
    last_exchanged_at: z.string().optional(),
    session_id: z.null(),
    rotating: z.boolean(),
    resource_servers: z.array(z.object({ audience: z.string(), scopes: z.string() })),
  })
  .meta({ id: 'RefreshToken' });

const refreshTokensQuery = z.object({
  from: z
    .string()
    .regex(/^\d{1,7}$/)
    .optional()
    .describe('The `next` of the previous page.'),
  take: z.coerce.number().int().min(1).max(MAX_PER_PAGE).default(50),
});

export function userSecurityEndpoints({ users, security }: UserEndpointsDeps): ManagementEndpoint[] {
  const blocksReply = (blocks: LoginBlock[]) => ({ status: 200, body: { blocked_for: blocks } });
  return [
    defineEndpoint({
      method: 'GET',
      path: '/user-blocks',
      operationId: 'get_user_blocks',
      tag: 'user-blocks',
      summary: 'The brute-force locks in force on a login name',
      scopes: ['read:users'],
      query: identifierQuery,
      responses: { 200: { description: 'The locks, per end-user IP (no `ip`: every IP)', schema: blocksSchema } },
      handle: async ({ tenant, query }) => blocksReply(await security.blocksOfIdentifier(tenant, query.identifier)),
    }),
    defineEndpoint({
      method: 'DELETE',
      path: '/user-blocks',
      operationId: 'delete_user_blocks',
      tag: 'user-blocks',
      summary: 'Lift every lock of a login name, from every IP',
      scopes: ['update:users'],
      query: identifierQuery,
      responses: { 204: { description: 'No lock is left' } },
      handle: async ({ tenant, query }) => {
        await security.unblockIdentifier(tenant, query.identifier);
        return { status: 204 };
      },
    }),
    defineEndpoint({
      method: 'GET',
      path: '/user-blocks/{id}',
      operationId: 'get_user_blocks_by_id',
      tag: 'user-blocks',
      summary: "The brute-force locks in force on a user's username and email",
      scopes: ['read:users'],
      params: userIdParams,
      responses: { 200: { description: 'The locks', schema: blocksSchema }, 404: { description: 'No such user in this tenant' } },
      handle: async ({ tenant, params }) => blocksReply(await security.blocksOfUser(tenant, await users.get(tenant, userIdOf(params.id)))),
    }),
    defineEndpoint({
      method: 'DELETE',
      path: '/user-blocks/{id}',
      operationId: 'delete_user_blocks_by_id',
      tag: 'user-blocks',
      summary: "Lift every lock of a user's username and email",
      scopes: ['update:users'],
      params: userIdParams,
      responses: { 204: { description: 'No lock is left' }, 404: { description: 'No such user in this tenant' } },
      handle: async ({ tenant, params }) => {
        await security.unblockUser(tenant, await users.get(tenant, userIdOf(params.id)));
        return { status: 204 };
      },
    }),
    defineEndpoint({
      method: 'GET',
      path: '/users/{id}/authentication-methods',
      operationId: 'get_authentication_methods',
      tag: 'users',
      summary: "A user's second factors and recovery code",
      scopes: ['read:users'],
      params: userIdParams,
      query: paginationQuery,
      responses: {
        200: { description: 'The factors, oldest first', schema: listSchema('authenticators', authenticationMethodSchema) },
        404: { description: 'No such user in this tenant' },
      },
      handle: async ({ tenant, params, query }) => {
        const methods = wireMethods(await security.authenticationMethods(tenant, await users.get(tenant, userIdOf(params.id))));
        const page = pageOf(query);
        const { offset, limit } = offsetOf(page);
        return { status: 200, body: listReply('authenticators', methods.slice(offset, offset + limit), page, methods.length) };
      },
    }),
    defineEndpoint({
      method: 'DELETE',
      path: '/users/{id}/authenticators',
      operationId: 'delete_authenticators',
      tag: 'users',
      summary: 'Remove every second factor and the recovery code of a user',
      scopes: ['update:users'],
      params: userIdParams,
      responses: { 204: { description: 'Removed; the user enrolls again when policy asks' }, 404: { description: 'No such user' } },
      handle: async ({ tenant, params }) => {
        await security.removeAuthenticators(tenant, await users.get(tenant, userIdOf(params.id)));
        return { status: 204 };
      },
    }),
    defineEndpoint({
      method: 'GET',
      path: '/users/{id}/refresh-tokens',
      operationId: 'get_refresh_tokens_for_user',
      tag: 'users',
      summary: "A user's refresh tokens that still work (one per family)",
      scopes: ['read:users'],
      params: userIdParams,
      query: refreshTokensQuery,
      responses: {
        200: {
          description: 'Oldest first; `next` names the following page',
          schema: z.object({ tokens: z.array(refreshTokenSchema), next: z.string().optional() }),
        },
        404: { description: 'No such user in this tenant' },
      },
      handle: async ({ tenant, params, query }) => {
        const offset = query.from === undefined ? 0 : Number(query.from);
        // One more than asked for tells whether a next page exists.
        const families = await security.refreshTokens(tenant, await users.get(tenant, userIdOf(params.id)), {
          offset,
          limit: query.take + 1,
        });
        const tokens = families.slice(0, query.take).map(wireRefreshToken);
        return { status: 200, body: { tokens, ...(families.length > query.take ? { next: String(offset + query.take) } : {}) } };
      },
    }),
    defineEndpoint({
      method: 'DELETE',
      path: '/users/{id}/refresh-tokens',
      operationId: 'delete_refresh_tokens_for_user',
      tag: 'users',
      summary: 'Revoke every refresh token of a user',
      scopes: ['update:users'],
      params: userIdParams,
      responses: { 204: { description: 'Revoked' }, 404: { description: 'No such user in this tenant' } },
      handle: async ({ tenant, params }) => {
        await security.revokeRefreshTokens(tenant, await users.get(tenant, userIdOf(params.id)));
        return { status: 204 };
      },
    }),
  ];
}

function wireMethods({ factors, hasRecoveryCode }: AuthenticationMethods): Array<z.output<typeof authenticationMethodSchema>> {
  const methods: Array<z.output<typeof authenticationMethodSchema>> = factors.map((factor) => ({
    id: factor.id, // already Auth0's form: `totp|dev_…`, `email|dev_…`
    type: factor.type === 'otp' ? 'totp' : 'email',
    confirmed: true,
    ...(factor.email === null ? {} : { email: factor.email }),
    created_at: factor.createdAt.toISOString(),
    enrolled_at: factor.createdAt.toISOString(),
  }));
  const first = factors[0];
  if (hasRecoveryCode && first)
    methods.push({
      id: `recovery-code|${first.userId}`,
      type: 'recovery-code',
      confirmed: true,
      created_at: first.createdAt.toISOString(),
    });
  return methods;
}

function wireRefreshToken(family: RefreshTokenFamily): z.output<typeof refreshTokenSchema> {
  return {
    id: family.id,
    user_id: family.userId,
    client_id: family.clientId,
    created_at: family.createdAt.toISOString(),
    idle_expires_at: family.expiresAt.toISOString(),
    expires_at: family.familyExpiresAt.toISOString(),
    ...(family.rotatedAt === null ? {} : { last_exchanged_at: family.rotatedAt.toISOString() }),
    session_id: null,
    rotating: true,
    resource_servers: family.audience === null ? [] : [{ audience: family.audience, scopes: family.scope }],
  };
}
