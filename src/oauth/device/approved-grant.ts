/**
 * What an approved device code carries: the grant decided on the
 * verification page (MFA step and post-login hooks done), in the shape an
 * authorization code carries it (browser/authorization-codes.ts), so one
 * function (grantOfCode) makes either whole again at redemption, with the
 * user read again.
 */
import type { Grant } from '../../domain/grant.js';
import type { CodeGrant } from '../browser/authorization-codes.js';

export function carriedGrantOf(grant: Grant): CodeGrant {
  if (grant.subject.kind !== 'user') throw new TypeError('a device is approved for a user');
  return {
    userId: grant.subject.user.id,
    grantType: grant.grantType,
    audience: grant.api?.identifier ?? null,
    scopes: grant.scopes,
    requestedScopes: grant.requestedScopes ?? null,
    authTime: grant.authTime.getTime(),
    amr: grant.amr ?? null,
    refresh: grant.refresh.kind === 'new_family',
    nonce: null,
    accessTokenScopes: grant.accessTokenScopes ?? null,
    customClaims: grant.customClaims ?? null,
  };
}
