/**
 * Wire names of the grants this server implements (DESIGN.md §3), in one
 * place: the config schema validates `grant_types` against this list,
 * discovery publishes it, and each grant module claims its names from it.
 */
export const PASSWORD_GRANT = 'password';
/** Auth0's password grant with a `realm` naming the connection. */
export const PASSWORD_REALM_GRANT = 'http://auth0.com/oauth/grant-type/password-realm';
export const REFRESH_TOKEN_GRANT = 'refresh_token';
export const CLIENT_CREDENTIALS_GRANT = 'client_credentials';
export const MFA_OTP_GRANT = 'http://auth0.com/oauth/grant-type/mfa-otp';
export const MFA_OOB_GRANT = 'http://auth0.com/oauth/grant-type/mfa-oob';
export const MFA_RECOVERY_CODE_GRANT = 'http://auth0.com/oauth/grant-type/mfa-recovery-code';
/** RFC 6749 §4.1.3, from the hosted sign-in (DESIGN.md §7). */
export const AUTHORIZATION_CODE_GRANT = 'authorization_code';
/** RFC 8628 §3.4. */
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
/** MSAL posts the bare `device_code` to whatever token endpoint discovery names: an alias of DEVICE_CODE_GRANT on every path. */
export const DEVICE_CODE_GRANT_ALIAS = 'device_code';

export const GRANT_TYPES = [
  PASSWORD_GRANT,
  PASSWORD_REALM_GRANT,
  REFRESH_TOKEN_GRANT,
  CLIENT_CREDENTIALS_GRANT,
  MFA_OTP_GRANT,
  MFA_OOB_GRANT,
  MFA_RECOVERY_CODE_GRANT,
  AUTHORIZATION_CODE_GRANT,
  DEVICE_CODE_GRANT,
] as const;

export type GrantTypeName = (typeof GRANT_TYPES)[number];
