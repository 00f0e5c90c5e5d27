/**
 * The tenant's built-in Management API, Auth0's v2 in shape (DESIGN.md §9):
 * the audience `{issuer}api/v2/`, served at /T/api/v2/. Like the MFA API it
 * is never declared in the configuration. Its tokens come from
 * client_credentials for an application holding a client grant for it (all
 * of the grant's scopes when none are asked, as Auth0 does), or from a
 * browser sign-in of one of the tenant's `administrators` with a second
 * factor (oauth/management-audience.ts). No refresh tokens: a lost token is
 * replaced by signing in again.
 */
import type { ApiConfig } from '../config/schema.js';
import { MANAGEMENT_API_SCOPES } from './management-scopes.js';

export { looksLikeManagementApiAudience, MANAGEMENT_API_SCOPES, type ManagementScope } from './management-scopes.js';

/** Auth0's Management API tokens last a day by default. */
export const MANAGEMENT_API_TOKEN_LIFETIME_SECONDS = 86_400;

/** `{issuer}api/v2/`: the issuer ends with a slash, so this is `{public_url}/{tenant}/api/v2/`. */
export function managementApiAudience(issuer: string): string {
  return `${issuer}api/v2/`;
}

/** The Management API as the token service sees any API: RS256, as Auth0's SDKs expect; no refresh tokens. */
export function managementApiConfig(issuer: string): ApiConfig {
  return {
    identifier: managementApiAudience(issuer),
    scopes: [...MANAGEMENT_API_SCOPES],
    token_lifetime: MANAGEMENT_API_TOKEN_LIFETIME_SECONDS,
    allow_offline_access: false,
    signing_alg: 'RS256',
  };
}
