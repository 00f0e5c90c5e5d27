/**
 * The tenant's built-in MFA API, in Auth0's shape: the audience
 * `{issuer}mfa/`, whose access tokens let a user manage their own factors at
 * /T/mfa/authenticators. It is never declared in the configuration (a
 * declared API with this identifier is a configuration error) and a token
 * for it always takes a second factor: the password grant answers
 * `mfa_required` for it whatever the application's or tenant's `mfa`
 * policy, and an MFA grant then issues it with `amr` containing `mfa`.
 * client_credentials never gets it: there is no user to manage.
 */
import type { ApiConfig } from '../config/schema.js';

/** Auth0's scopes of the MFA API. `enroll` is granted as Auth0 does; enrolment itself takes the mfa_token (DESIGN.md §2). */
export const MFA_API_SCOPES = ['enroll', 'read:authenticators', 'remove:authenticators'] as const;
export type MfaApiScope = (typeof MFA_API_SCOPES)[number];

/** Short-lived: a token that can remove factors should not outlive the sign-in that earned it by much. */
export const MFA_API_TOKEN_LIFETIME_SECONDS = 600;

/** Removing a factor needs a second factor shown at most this long ago (the token's `auth_time`). */
export const MFA_REMOVAL_MAX_AUTH_AGE_SECONDS = 300;

/** `{issuer}mfa/`: the issuer ends with a slash, so this is `{public_url}/{tenant}/mfa/`. */
export function mfaApiAudience(issuer: string): string {
  return `${issuer}mfa/`;
}

/** The MFA API as the token service sees any API: RS256 (Auth0's SDKs), no refresh tokens. */
export function mfaApiConfig(issuer: string): ApiConfig {
  return {
    identifier: mfaApiAudience(issuer),
    scopes: [...MFA_API_SCOPES],
    token_lifetime: MFA_API_TOKEN_LIFETIME_SECONDS,
    allow_offline_access: false,
    signing_alg: 'RS256',
  };
}
