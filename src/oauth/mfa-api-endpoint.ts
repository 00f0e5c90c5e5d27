/**
 * Auth0's MFA API for the password flow (DESIGN.md §2, §3), as typed
 * requests in and typed results out; http/routes/mfa.ts only translates.
 *
 * - associate: an mfa_token (the sign-in in progress) starts an enrolment;
 *   client credentials are optional, and checked when sent;
 * - challenge: client authentication and an mfa_token ask for a code;
 * - authenticators: list with an mfa_token or an MFA-API access token,
 *   remove with an MFA-API access token from a recent second factor (who may
 *   do what: oauth/mfa-authenticators.ts).
 *
 * A sign-in that no longer stands (the user blocked or removed, the password
 * changed since, the connection no longer served) is refused everywhere.
 */
import type { Clock } from '../clock.js';
import { NotFoundError } from '../domain/errors.js';
import type { Tenant } from '../domain/tenant.js';
import type { MfaOverview, MfaService, OobEnrollment, OtpEnrollment } from '../mfa/mfa-service.js';
import type { MfaTokenClaims, MfaTokens } from '../mfa/mfa-token.js';
import type { RequestOrigin } from '../protection/end-user-ip.js';
import type { UserRecord, UserStore } from '../storage/stores.js';
import type { AccessTokenVerifier } from '../tokens/access-token-verifier.js';
import type { ClientAuthenticator } from './client-auth/authenticate.js';
import { presentedClientAuth } from './client-auth/presented.js';
import { authorizeListing, authorizeRemoval } from './mfa-authenticators.js';
import type { RequestParameters } from './request-parameters.js';
import { userOfSignInInProgress } from './sessions.js';

export interface MfaApiDeps {
  clientAuthenticator: ClientAuthenticator;
  mfa: MfaService;
  mfaTokens: MfaTokens;
  verifier: AccessTokenVerifier;
  users: UserStore;
  clock: Clock;
}

/** POST /T/mfa/associate. The Authorization header carries the mfa_token, so client credentials can only be in the body. */
export interface AssociateRequest {
  tenant: Tenant;
  mfaToken: string;
  params: RequestParameters;
}

/** POST /T/mfa/challenge: client authentication as at the token endpoint, and the mfa_token in the body. */
export interface ChallengeRequest {
  tenant: Tenant;
  /** The Authorization header, if any: only Basic client credentials are read from it. */
  authorization: string | undefined;
  params: RequestParameters;
}

/** GET /T/mfa/authenticators: the Bearer token, an mfa_token or an MFA-API access token. */
export interface ListAuthenticatorsRequest {
  tenant: Tenant;
  bearer: string;
}

/** DELETE /T/mfa/authenticators/:id: the Bearer token must be an MFA-API access token. */
export interface RemoveAuthenticatorRequest {
  tenant: Tenant;
  bearer: string;
  authenticatorId: string;
  /** For the security event and the notice to the user. */
  origin: RequestOrigin;
}

export class MfaApiEndpoint {
  constructor(private readonly deps: MfaApiDeps) {}

  async associate({ tenant, mfaToken, params }: AssociateRequest): Promise<OtpEnrollment | OobEnrollment> {
    // Auth0 accepts the mfa_token alone here (its documented request is `{"authenticator_types":["otp"]}`,
    // and auth0-auth-js sends nothing more): the token is bound to its client. Credentials sent are checked.
    const presented = presentedClientAuth(undefined, params);
    const clientId =
      presented.method === 'missing'
        ? undefined
        : (await this.deps.clientAuthenticator.authenticate(presented, tenant, `${tenant.endpoints.issuer}mfa/associate`)).app.clientId;
    const claims = await this.signInInProgress(tenant, mfaToken, clientId);
    const user = await this.userOf(tenant, claims);
    return this.deps.mfa.associate(tenant, claims, user, {
      types: params.list('authenticator_types') ?? [],
      channels: params.list('oob_channels'),
      email: params.get('email'),
    });
  }

  async challenge({ tenant, authorization, params }: ChallengeRequest): Promise<Record<string, string>> {
    const presented = presentedClientAuth(authorization, params);
    const client = await this.deps.clientAuthenticator.authenticate(presented, tenant, `${tenant.endpoints.issuer}mfa/challenge`);
    const claims = await this.signInInProgress(tenant, params.require('mfa_token'), client.app.clientId);
    await this.userOf(tenant, claims);
    return this.deps.mfa.challenge(tenant, claims, params.get('challenge_type') ?? 'otp', params.get('authenticator_id'));
  }

  async listAuthenticators({ tenant, bearer }: ListAuthenticatorsRequest): Promise<MfaOverview> {
    const { user } = await authorizeListing(bearer, tenant, this.deps);
    return this.deps.mfa.overview(tenant.id, user.id);
  }

  async removeAuthenticator({ tenant, bearer, authenticatorId, origin }: RemoveAuthenticatorRequest): Promise<void> {
    const { user, clientId } = await authorizeRemoval(bearer, tenant, this.deps);
    if (!(await this.deps.mfa.remove(tenant, user, authenticatorId, { clientId, ip: origin.networkIp() }))) {
      throw new NotFoundError('The user has no authenticator with this id.');
    }
  }

  /** The sign-in in progress: an unspent mfa_token of this tenant (and of this client, when one authenticated). */
  private async signInInProgress(tenant: Tenant, mfaToken: string | undefined, clientId: string | undefined): Promise<MfaTokenClaims> {
    const claims = this.deps.mfaTokens.open(mfaToken, tenant.id, clientId);
    await this.deps.mfaTokens.assertUnused(claims);
    return claims;
  }

  private userOf(tenant: Tenant, claims: MfaTokenClaims): Promise<UserRecord> {
    return userOfSignInInProgress(this.deps.users, tenant, claims, 'MFA request');
  }
}
