/**
 * Auth0's `users` endpoints (Management API v2, DESIGN.md §9): list and
 * search (`q`, `connection`, paging), `users-by-email`, get, create, update
 * and delete. The rules live in oauth/management/users.ts; this file holds
 * the wire. `userEndpoints` also gathers the user-related groups beside it:
 * blocks, authentication methods, refresh tokens and logs.
 */
import { z } from 'zod';
import { defineEndpoint, type ManagementEndpoint } from './endpoint.js';
import { logEndpoints } from './logs.js';
import { listReply, listSchema, offsetOf, pageOf, paginationQuery } from './schemas/common.js';
import { userSecurityEndpoints } from './user-security.js';
import { createUserBody, updateUserBody, userIdOf, userIdParams, userSchema, wireUser, type UserEndpointsDeps } from './user-schemas.js';

export type { UserEndpointsDeps };

const listQuery = paginationQuery.extend({
  q: z
    .string()
    .max(1024)
    .optional()
    .describe(
      'Search: `email:"a@b.c"`, `username:alice`, `name:jo*`, `email:*@example.com`, `name:*ann*`, or plain text (the start of the email, username or name). Case-insensitive.',
    ),
  connection: z.string().max(128).optional().describe('Only the users of this connection.'),
});

const byEmailQuery = z.object({ email: z.string().min(1).max(320).describe('The address, in any case.') });

export function userEndpoints(deps: UserEndpointsDeps): ManagementEndpoint[] {
  return [...userCrudEndpoints(deps), ...userSecurityEndpoints(deps), ...logEndpoints(deps)];
}

function userCrudEndpoints({ users }: UserEndpointsDeps): ManagementEndpoint[] {
  return [
    defineEndpoint({
      method: 'GET',
      path: '/users',
      operationId: 'get_users',
      tag: 'users',
      summary: "List or search the tenant's users",
      scopes: ['read:users'],
      query: listQuery,
      responses: { 200: { description: 'The users, by connection then username', schema: listSchema('users', userSchema) } },
      handle: async ({ tenant, query }) => {
        const page = pageOf(query);
        const { users: found, total } = await users.list(tenant, { q: query.q, connection: query.connection, ...offsetOf(page) });
        return { status: 200, body: listReply('users', found.map(wireUser), page, total) };
      },
    }),
    defineEndpoint({
      method: 'GET',
      path: '/users-by-email',
      operationId: 'get_users_by_email',
      tag: 'users',
      summary: 'Find the users with an email address, in every connection',
      scopes: ['read:users'],
      query: byEmailQuery,
      responses: { 200: { description: 'The users with that address', schema: z.array(userSchema) } },
      handle: async ({ tenant, query }) => ({ status: 200, body: (await users.byEmail(tenant, query.email)).map(wireUser) }),
    }),
    defineEndpoint({
      method: 'GET',
      path: '/users/{id}',
      operationId: 'get_users_by_id',
      tag: 'users',
      summary: 'Get a user',
      scopes: ['read:users'],
      params: userIdParams,
      responses: { 200: { description: 'The user', schema: userSchema }, 404: { description: 'No such user in this tenant' } },
      handle: async ({ tenant, params }) => ({ status: 200, body: wireUser(await users.get(tenant, userIdOf(params.id))) }),
    }),
    defineEndpoint({
      method: 'POST',
      path: '/users',
      operationId: 'post_users',
      tag: 'users',
      summary: 'Create a user in a database connection',
      scopes: ['create:users'],
      body: createUserBody,
      responses: {
        201: { description: 'The user', schema: userSchema },
        400: { description: 'A bad body, an unknown connection, or a password the policy refuses' },
        409: { description: 'The username or email is taken in that connection' },
      },
      handle: async ({ tenant, body }) => {
        const created = await users.create(tenant, {
          connection: body.connection,
          email: body.email,
          username: body.username,
          password: body.password,
          name: body.name,
          givenName: body.given_name,
          familyName: body.family_name,
          emailVerified: body.email_verified,
          blocked: body.blocked,
          userMetadata: body.user_metadata,
          appMetadata: body.app_metadata,
        });
        return { status: 201, body: wireUser(created), target: created.user.id };
      },
    }),
    defineEndpoint({
      method: 'PATCH',
      path: '/users/{id}',
      operationId: 'patch_users_by_id',
      tag: 'users',
      summary: 'Update a user: profile, email, metadata, password, block',
      scopes: ['update:users'],
      params: userIdParams,
      body: updateUserBody,
      responses: {
        200: { description: 'The user as it is now', schema: userSchema },
        400: { description: 'A bad body, or a password the policy refuses' },
        404: { description: 'No such user in this tenant' },
        409: { description: 'The new email is taken in the connection' },
      },
      handle: async ({ tenant, params, body }) => {
        const updated = await users.update(tenant, userIdOf(params.id), {
          connection: body.connection,
          password: body.password,
          blocked: body.blocked,
          email: body.email,
          emailVerified: body.email_verified,
          name: body.name,
          givenName: body.given_name,
          familyName: body.family_name,
          userMetadata: body.user_metadata,
          appMetadata: body.app_metadata,
        });
        return { status: 200, body: wireUser(updated) };
      },
    }),
    defineEndpoint({
      method: 'DELETE',
      path: '/users/{id}',
      operationId: 'delete_users_by_id',
      tag: 'users',
      summary: 'Delete a user, ending their sessions and removing their factors first',
      scopes: ['delete:users'],
      params: userIdParams,
      responses: { 204: { description: 'Deleted' }, 404: { description: 'No such user in this tenant' } },
      handle: async ({ tenant, params }) => {
        await users.delete(tenant, userIdOf(params.id));
        return { status: 204 };
      },
    }),
  ];
}
