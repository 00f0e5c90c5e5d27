/**
 * Who may hold a user token for the Management API (DESIGN.md §9): only a
 * user the tenant lists in `administrators`, only from a browser sign-in
 * (the authorization code flow, never a password sent by an application)
 * and always with a second factor (oauth/mfa-gate.ts mfaPolicyOf).
 * Applications get their tokens by client_credentials and a client grant
 * (oauth/grants/client-credentials.ts).
 */
import type { ApiConfig } from '../config/schema.js';
import { AUTHORIZATION_CODE_GRANT } from '../domain/grant-types.js';
import { AccessDeniedError } from '../domain/errors.js';
import type { Grant } from '../domain/grant.js';
import type { Tenant } from '../domain/tenant.js';
import type { UserRecord } from '../storage/stores.js';

const BROWSER_ONLY =
  'Tokens for the Management API are given to users only through a browser sign-in (the authorization code flow, with a second factor); applications use client_credentials with a client grant.';

/**
 * The password grant at the token endpoint, and the device flow's
 * authorization request: refused before any password is checked (so the
 * answer says nothing about the credentials) or any code is handed out.
 */
export function refuseManagementApiOutsideBrowser(tenant: Tenant, api: ApiConfig | undefined, grantType: string): void {
  if (api?.identifier === tenant.endpoints.managementApi && grantType !== AUTHORIZATION_CODE_GRANT) {
    throw new AccessDeniedError(BROWSER_ONLY, { logDetail: `a ${grantType} request for the Management API` });
  }
}

/** Every user grant for the Management API, at the page and at the token endpoint (a backstop for the one above). */
export function assertManagementApiUser(grant: Grant, tenant: Tenant): void {
  if (grant.api?.identifier !== tenant.endpoints.managementApi || grant.subject.kind !== 'user') return;
  const { user } = grant.subject;
  if (grant.grantType !== AUTHORIZATION_CODE_GRANT) {
    throw new AccessDeniedError(BROWSER_ONLY, { logDetail: `a ${grant.grantType} grant for the Management API, user ${user.id}` });
  }
  if (!isAdministrator(tenant, user)) {
    throw new AccessDeniedError("Only the tenant's administrators may use the Management API.", {
      logDetail: `user ${user.id} is not in tenants[${tenant.name}].administrators`,
    });
  }
}

/**
 * Listed by username, or by an email the user has verified: an address
 * typed at sign-up and never confirmed proves nothing (DESIGN.md §8).
 */
export function isAdministrator(tenant: Pick<Tenant, 'settings'>, user: Pick<UserRecord, 'username' | 'email' | 'emailVerified'>): boolean {
  const listed = new Set((tenant.settings.administrators ?? []).map((a) => a.toLowerCase()));
  if (listed.has(user.username.toLowerCase())) return true;
  return user.email !== null && user.emailVerified && listed.has(user.email.toLowerCase());
}
