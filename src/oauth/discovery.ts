/**
 * OpenID Connect Discovery 1.0 §3 / RFC 8414 §2 metadata for one tenant.
 */
import { SIGNING_ALGS } from '../config/schema.js';
import { GRANT_TYPES } from '../domain/grant-types.js';
import type { Tenant } from '../domain/tenant.js';
import { endSessionEndpoint } from './browser/logout.js';
import { OIDC_SCOPES } from './scopes.js';
import { DEVICE_AUTHORIZATION_PATH } from './device/device-authorization.js';

export function discoveryDocument(tenant: Tenant): Record<string, unknown> {
  const e = tenant.endpoints;
  const apiScopes = [...tenant.apis.values()].flatMap((api) => api.scopes);
  return {
    issuer: e.issuer,
    authorization_endpoint: e.authorization,
    token_endpoint: e.token,
    userinfo_endpoint: e.userinfo,
    jwks_uri: e.jwks,
    revocation_endpoint: e.revocation,
    introspection_endpoint: e.introspection,
    // OpenID Connect RP-Initiated Logout 1.0 §2.1 (issue #14 point 6): GET /T/logout, the first path of DESIGN.md §7.
    end_session_endpoint: endSessionEndpoint(tenant),
    // RFC 8628 §4: the Auth0 path; the grant's URN is in grant_types_supported (GRANT_TYPES), never the `device_code` alias.
    device_authorization_endpoint: `${e.issuer}${DEVICE_AUTHORIZATION_PATH}`,
    grant_types_supported: [...GRANT_TYPES],
    // DESIGN.md §7: the code flow with PKCE S256 only, and the issuer in every answer (RFC 9207).
    response_types_supported: ['code'],
    response_modes_supported: ['query', 'form_post'],
    code_challenge_methods_supported: ['S256'],
    authorization_response_iss_parameter_supported: true,
    subject_types_supported: ['public'],
    // Every algorithm any API signs access tokens with: express-oauth2-jwt-bearer checks access tokens against this list.
    id_token_signing_alg_values_supported: tenant.signingAlgs,
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
    token_endpoint_auth_signing_alg_values_supported: [
      'RS256',
      'RS384',
      'RS512',
      'PS256',
      'PS384',
      'PS512',
      'ES256',
      'ES384',
      'ES512',
      'EdDSA',
    ],
    revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    scopes_supported: [...new Set([...OIDC_SCOPES, ...apiScopes])],
    claims_supported: [
      'sub',
      'iss',
      'aud',
      'exp',
      'iat',
      'auth_time',
      'amr',
      'nonce',
      'sid',
      'name',
      'given_name',
      'family_name',
      'nickname',
      'preferred_username',
      'updated_at',
      'email',
      'email_verified',
      'groups',
    ],
    access_token_signing_alg_values_supported: [...new Set(SIGNING_ALGS.filter((a) => tenant.signingAlgs.includes(a)))],
    request_parameter_supported: false,
    claims_parameter_supported: false,
  };
}
