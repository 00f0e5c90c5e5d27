/**
 * The Management API's scope names and audience shape (domain/management-api.ts),
 * apart so the configuration schema can check client grants without an import cycle.
 */

/** Auth0's scope names for the endpoints Latchkey serves (DESIGN.md §9). */
export const MANAGEMENT_API_SCOPES = [
  'read:users',
  'create:users',
  'update:users',
  'delete:users',
  'read:clients',
  'create:clients',
  'update:clients',
  'delete:clients',
  'read:client_grants',
  'create:client_grants',
  'update:client_grants',
  'delete:client_grants',
  'read:resource_servers',
  'create:resource_servers',
  'update:resource_servers',
  'delete:resource_servers',
  'read:connections',
  'read:logs',
  'create:user_tickets',
  'read:signing_keys',
  'create:signing_keys',
] as const;
export type ManagementScope = (typeof MANAGEMENT_API_SCOPES)[number];

/** The identifier's shape without the public URL, for the schema's checks made before public_url is known. */
export function looksLikeManagementApiAudience(identifier: string): boolean {
  return identifier.endsWith('/api/v2/');
}
