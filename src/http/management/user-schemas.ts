/**
 * Auth0's user object and the bodies of `POST /users` and `PATCH
 * /users/{id}` (Management API v2), as zod schemas that validate requests
 * and describe them in the OpenAPI document. Unknown body properties are
 * refused, as Auth0 refuses them ("Additional properties not allowed").
 */
import { z } from 'zod';
import type { ManagementLogs } from '../../oauth/management/logs.js';
import type { UserSecurity } from '../../oauth/management/user-security.js';
import type { ManagedUser, UserManagement } from '../../oauth/management/users.js';

/** The services of the user endpoints (users.ts and the groups beside it). */
export interface UserEndpointsDeps {
  users: UserManagement;
  security: UserSecurity;
  logs: ManagementLogs;
}

/** Auth0 caps names and addresses; long values are refused rather than stored cut. */
const text = (max: number) => z.string().min(1).max(max);
const metadata = z.record(z.string(), z.unknown());

export const identitySchema = z
  .object({
    connection: z.string(),
    provider: z.enum(['auth0', 'ad']),
    user_id: z.string(),
    isSocial: z.boolean(),
  })
  .meta({ id: 'UserIdentity' });

export const userSchema = z
  .object({
    user_id: z.string().describe("The user's id: the `sub` of their tokens."),
    email: z.string().optional(),
    email_verified: z.boolean(),
    username: z.string(),
    name: z.string().optional(),
    given_name: z.string().optional(),
    family_name: z.string().optional(),
    blocked: z.boolean(),
    created_at: z.string(),
    updated_at: z.string(),
    last_login: z.string().optional(),
    last_password_reset: z.string().optional(),
    logins_count: z.number().int(),
    identities: z.array(identitySchema),
    user_metadata: metadata,
    app_metadata: metadata,
  })
  .meta({ id: 'User' });
export type WireUser = z.output<typeof userSchema>;

export const createUserBody = z
  .object({
    connection: text(128).describe('The database connection the user signs in with.'),
    email: z.email().max(320).optional(),
    username: text(128).optional().describe('The login name; the email when absent.'),
    password: z.string().min(1).max(1024).optional().describe("Checked against the connection's password policy."),
    name: text(300).optional(),
    given_name: text(150).optional(),
    family_name: text(150).optional(),
    email_verified: z.boolean().optional(),
    verify_email: z.boolean().optional().describe('Accepted for compatibility; no verification email is sent.'),
    blocked: z.boolean().optional(),
    user_metadata: metadata.optional(),
    app_metadata: metadata.optional(),
  })
  .strict()
  .meta({ id: 'UserCreate' });

export const updateUserBody = z
  .object({
    connection: text(128).optional().describe('With `password`: the connection whose password changes (the user’s own).'),
    password: z.string().min(1).max(1024).optional(),
    blocked: z.boolean().optional(),
    email: z.email().max(320).optional(),
    email_verified: z.boolean().optional(),
    name: text(300).optional(),
    given_name: text(150).optional(),
    family_name: text(150).optional(),
    verify_email: z.boolean().optional().describe('Accepted for compatibility; no verification email is sent.'),
    user_metadata: metadata.optional().describe('Merged at the top level: a key set to null is removed.'),
    app_metadata: metadata.optional().describe('Merged at the top level: a key set to null is removed.'),
  })
  .strict()
  .refine((body) => Object.keys(body).length > 0, { message: 'Too few properties defined (0), must be at least 1.' })
  .meta({ id: 'UserUpdate' });

/** A path's user id: Fastify has decoded the percent-encoding (`auth0%7C…`). */
export const userIdParams = z.object({ id: z.string().min(1).max(256) });

export { userIdOf } from '../../domain/user-id.js';

export function wireUser({ user, connection }: ManagedUser): WireUser {
  const optional = <K extends string>(key: K, value: string | null): Partial<Record<K, string>> =>
    (value === null ? {} : { [key]: value }) as Partial<Record<K, string>>;
  return {
    user_id: user.id,
    ...optional('email', user.email),
    email_verified: user.emailVerified,
    username: user.username,
    ...optional('name', user.name),
    ...optional('given_name', user.givenName),
    ...optional('family_name', user.familyName),
    blocked: user.blocked,
    created_at: user.createdAt.toISOString(),
    updated_at: user.updatedAt.toISOString(),
    ...optional('last_login', user.lastLoginAt?.toISOString() ?? null),
    ...optional('last_password_reset', user.passwordChangedAt?.toISOString() ?? null),
    logins_count: user.loginsCount,
    identities: [
      {
        // A connection the file no longer declares keeps its users; they are shown under its id.
        connection: connection?.name ?? user.connectionId,
        provider: connection?.type === 'ldap' ? 'ad' : 'auth0',
        user_id: user.id,
        isSocial: false,
      },
    ],
    user_metadata: user.userMetadata,
    app_metadata: user.appMetadata,
  };
}
