/**
 * Who may use Auth0's authenticators API (issue #11 point 1):
 *
 * - GET /T/mfa/authenticators: the sign-in in progress, by its mfa_token
 *   (listing is how an app picks the factor to challenge; auth0-auth-js's
 *   listAuthenticators sends it), or an access token for the MFA API
 *   (`{issuer}mfa/`) with `read:authenticators`;
 * - DELETE /T/mfa/authenticators/ID: only an access token for the MFA API
 *   with `remove:authenticators`, from a sign-in that showed a second factor
 *   (`amr` contains `mfa`) at most 5 minutes ago (`auth_time`).
 *
 * Anything else is refused as RFC 6750 §3.1 says: 401 `invalid_token` for a
 * token that is not one of these (another audience, an ID or refresh token,
 * expired, revoked, a spent mfa_token, an mfa_token where none is taken),
 * 403 `insufficient_scope` for an MFA-API token that lacks the scope or a
 * recent second factor. A token whose session no longer stands (user blocked
 * or removed, password changed since, connection no longer served:
 * oauth/sessions.ts) is refused.
 */
import { epochSeconds, type Clock } from '../clock.js';
import { MFA_REMOVAL_MAX_AUTH_AGE_SECONDS, type MfaApiScope } from '../domain/mfa-api.js';
import { MfaTokens } from '../mfa/mfa-token.js';
import type { UserRecord, UserStore } from '../storage/stores.js';
import type { AccessTokenVerifier } from '../tokens/access-token-verifier.js';
import type { Tenant } from '../domain/tenant.js';
import { InsufficientScopeError, InvalidTokenError, OAuthError } from '../domain/errors.js';
import { parseScope } from './scopes.js';
import { accessTokenHolderAt, sessionRefusalAt } from './sessions.js';

export interface AuthenticatorsApiDeps {
  verifier: AccessTokenVerifier;
  mfaTokens: MfaTokens;
  users: UserStore;
  clock: Clock;
}

/** The user the request acts for, and the application whose token it carried. */
export interface AuthenticatorsCaller {
  user: UserRecord;
  clientId: string;
}

/** GET /T/mfa/authenticators. */
export async function authorizeListing(bearer: string, tenant: Tenant, deps: AuthenticatorsApiDeps): Promise<AuthenticatorsCaller> {
  if (MfaTokens.looksLikeMfaToken(bearer)) return mfaTokenCaller(bearer, tenant, deps);
  const { user, clientId } = await mfaApiCaller(bearer, tenant, deps, 'read:authenticators');
  return { user, clientId };
}

/** DELETE /T/mfa/authenticators/ID. */
export async function authorizeRemoval(bearer: string, tenant: Tenant, deps: AuthenticatorsApiDeps): Promise<AuthenticatorsCaller> {
  if (MfaTokens.looksLikeMfaToken(bearer)) {
    throw new InvalidTokenError(
      `Removing an authenticator needs an access token for the MFA API (audience ${tenant.endpoints.mfaApi}), not an mfa_token.`,
    );
  }
  const { user, clientId, payload } = await mfaApiCaller(bearer, tenant, deps, 'remove:authenticators');
  // The second factor must have been shown in this sign-in, and recently: a token from a password alone, or an old one, is not enough.
  const amr = Array.isArray(payload.amr) ? payload.amr : [];
  const age = typeof payload.auth_time === 'number' ? epochSeconds(deps.clock.now()) - payload.auth_time : Number.POSITIVE_INFINITY;
  if (!amr.includes('mfa') || age > MFA_REMOVAL_MAX_AUTH_AGE_SECONDS) {
    throw new InsufficientScopeError(
      `Removing an authenticator needs a sign-in with a second factor in the last ${MFA_REMOVAL_MAX_AUTH_AGE_SECONDS / 60} minutes: sign in again (password grant with audience ${tenant.endpoints.mfaApi}, then an MFA grant).`,
      'remove:authenticators',
      {
        logDetail: `authenticator removal refused for user ${user.id}: ${amr.includes('mfa') ? `auth_time ${Number.isFinite(age) ? `${age} s old` : 'missing'}` : 'no mfa in amr'}`,
      },
    );
  }
  return { user, clientId };
}

/** The sign-in in progress: an unspent, unexpired mfa_token of this tenant. */
async function mfaTokenCaller(bearer: string, tenant: Tenant, deps: AuthenticatorsApiDeps): Promise<AuthenticatorsCaller> {
  try {
    const claims = deps.mfaTokens.open(bearer, tenant.id, undefined);
    await deps.mfaTokens.assertUnused(claims);
    return { user: await activeUser(claims.userId, new Date(claims.authTime), tenant, deps), clientId: claims.clientId };
  } catch (err) {
    if (!(err instanceof OAuthError) || err.error === 'invalid_token') throw err;
    throw new InvalidTokenError(err.description, { logDetail: err.logDetail ?? 'authenticators API: mfa_token refused' });
  }
}

async function mfaApiCaller(bearer: string, tenant: Tenant, deps: AuthenticatorsApiDeps, scope: MfaApiScope) {
  const check = await deps.verifier.verify(bearer, tenant, { checkRevocation: true });
  if (!check.valid)
    throw new InvalidTokenError('The access token is invalid, expired or revoked.', { logDetail: `authenticators API: ${check.reason}` });
  const { payload } = check;
  const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  if (!audiences.includes(tenant.endpoints.mfaApi)) {
    throw new InvalidTokenError(
      `The access token is not for the MFA API: get one with audience ${tenant.endpoints.mfaApi} (the password grant, then an MFA grant).`,
      {
        logDetail: `authenticators API: an access token of client ${payload.client_id} for another audience`,
      },
    );
  }
  const holder = await accessTokenHolderAt(deps.users, tenant, payload);
  // A client_credentials token names the client, not a user (and the MFA API never issues one).
  if (holder.kind === 'client') throw new InvalidTokenError('The access token does not belong to a user.');
  if (holder.kind === 'inactive') {
    throw new InvalidTokenError('The user of this token can no longer sign in.', {
      logDetail: `authenticators API: token of user ${payload.sub}: ${holder.reason}`,
    });
  }
  const { user } = holder;
  if (!parseScope(typeof payload.scope === 'string' ? payload.scope : undefined).includes(scope)) {
    throw new InsufficientScopeError(`This request needs the ${scope} scope of the MFA API.`, scope, {
      logDetail: `authenticators API: token of user ${user.id} without ${scope}`,
    });
  }
  return { user, clientId: payload.client_id, payload };
}

/** The user of an mfa_token whose sign-in still stands (oauth/sessions.ts). */
async function activeUser(userId: string, signedInAt: Date, tenant: Tenant, deps: AuthenticatorsApiDeps): Promise<UserRecord> {
  const user = await deps.users.findById(tenant.id, userId);
  const ended = sessionRefusalAt(tenant, user, signedInAt);
  if (ended !== undefined || !user)
    throw new InvalidTokenError('The user of this token can no longer sign in.', {
      logDetail: `authenticators API: user ${userId}: ${ended ?? 'user_gone'}`,
    });
  return user;
}
