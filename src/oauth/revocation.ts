/**
 * RFC 7009 revocation. A refresh token revokes its whole family; an access
 * token is denylisted until it expires. Unknown or invalid tokens get 200
 * too (RFC 7009 §2.2): the answer never tells whether a token existed.
 */
import type { Clock } from '../clock.js';
import { constantTimeEqual } from '../crypto/secrets.js';
import { parseRefreshToken } from '../tokens/refresh-token-format.js';
import type { AccessTokenDenylist, RefreshTokenStore } from '../storage/stores.js';
import type { AccessTokenVerifier } from '../tokens/access-token-verifier.js';
import type { Tenant } from '../domain/tenant.js';
import { UnsupportedTokenTypeError } from '../domain/errors.js';
import type { ClientAuthenticator } from './client-auth/authenticate.js';
import { presentedClientAuth } from './client-auth/presented.js';
import type { RequestParameters } from './request-parameters.js';

export interface RevocationDeps {
  clientAuthenticator: ClientAuthenticator;
  refreshTokens: RefreshTokenStore;
  denylist: AccessTokenDenylist;
  verifier: AccessTokenVerifier;
  clock: Clock;
}

export interface RevocationRequest {
  tenant: Tenant;
  /** The Authorization header, if any: client_secret_basic. */
  authorization: string | undefined;
  params: RequestParameters;
}

export type RevocationOutcome = 'refresh_family_revoked' | 'access_token_revoked' | 'not_found' | 'other_client';

/** What happened, for the log only: the client is answered 200 whatever it is. */
export interface RevocationResult {
  clientId: string;
  outcome: RevocationOutcome;
}

export class RevocationEndpoint {
  constructor(private readonly deps: RevocationDeps) {}

  /** RFC 7009 §2.1: the client authenticates as at the token endpoint, and may revoke only its own tokens. */
  async handle({ tenant, authorization, params }: RevocationRequest): Promise<RevocationResult> {
    const presented = presentedClientAuth(authorization, params);
    const client = await this.deps.clientAuthenticator.authenticate(presented, tenant, tenant.endpoints.revocation);
    const clientId = client.app.clientId;
    const token = params.require('token');
    const hint = params.get('token_type_hint');
    if (hint !== undefined && hint !== 'refresh_token' && hint !== 'access_token') {
      throw new UnsupportedTokenTypeError('token_type_hint must be refresh_token or access_token.');
    }
    return { clientId, outcome: await this.revoke(token, tenant, clientId) };
  }

  private async revoke(token: string, tenant: Tenant, clientId: string): Promise<RevocationOutcome> {
    const now = this.deps.clock.now();
    // Refresh tokens and JWTs cannot be mistaken for each other, so the hint is not needed to tell them apart.
    const refresh = parseRefreshToken(token);
    if (refresh) {
      const family = await this.deps.refreshTokens.findFamily(refresh.familyId);
      if (!family || family.tenantId !== tenant.id) return 'not_found';
      if (family.clientId !== clientId) return 'other_client';
      // Only a genuine token (the current one, or the one it just replaced) revokes the family: the id alone must not.
      const genuine =
        constantTimeEqual(refresh.secretHash, family.currentHash) ||
        (family.previousHash !== null && constantTimeEqual(refresh.secretHash, family.previousHash));
      if (!genuine) return 'not_found';
      await this.deps.refreshTokens.revokeFamily(family.id, now);
      return 'refresh_family_revoked';
    }
    const check = await this.deps.verifier.verify(token, tenant, { checkRevocation: false });
    if (!check.valid) return 'not_found';
    if (check.payload.client_id !== clientId) return 'other_client';
    await this.deps.denylist.add(tenant.id, check.payload.jti, new Date(check.payload.exp * 1000));
    return 'access_token_revoked';
  }
}
