/**
 * OIDC Core §5.3 userinfo, protected by a Bearer token (RFC 6750). The
 * token's user must still be active: not blocked or deleted, and neither a
 * password change nor a block since the token's sign-in
 * (identity/user-sessions.ts).
 */
import type { UserStore } from '../storage/stores.js';
import type { AccessTokenVerifier } from '../tokens/access-token-verifier.js';
import { profileClaims } from '../tokens/token-service.js';
import type { Tenant } from '../domain/tenant.js';
import { InsufficientScopeError, InvalidTokenError } from '../domain/errors.js';
import { parseScope } from './scopes.js';
import { accessTokenHolderAt } from './sessions.js';

export interface UserinfoDeps {
  verifier: AccessTokenVerifier;
  users: Pick<UserStore, 'findById'>;
}

export interface UserinfoRequest {
  tenant: Tenant;
  /** The Bearer token as the request carried it (RFC 6750 §2: header or form body; http/bearer.ts reads it). */
  accessToken: string;
}

export class UserinfoEndpoint {
  constructor(private readonly deps: UserinfoDeps) {}

  async handle({ tenant, accessToken }: UserinfoRequest): Promise<Record<string, unknown>> {
    const check = await this.deps.verifier.verify(accessToken, tenant, { checkRevocation: true });
    if (!check.valid) {
      throw new InvalidTokenError('The access token is invalid, expired or revoked.', { logDetail: `userinfo: ${check.reason}` });
    }
    const audience = Array.isArray(check.payload.aud) ? check.payload.aud : [check.payload.aud];
    if (!audience.includes(tenant.endpoints.userinfo)) {
      throw new InvalidTokenError('The access token is not valid for userinfo; request the openid scope.');
    }
    const scopes = parseScope(typeof check.payload.scope === 'string' ? check.payload.scope : undefined);
    if (!scopes.includes('openid')) throw new InsufficientScopeError('userinfo requires the openid scope.', 'openid');
    const holder = await accessTokenHolderAt(this.deps.users, tenant, check.payload);
    if (holder.kind !== 'user') {
      throw new InvalidTokenError('The access token is invalid, expired or revoked.', {
        logDetail: `userinfo: ${holder.kind === 'inactive' ? holder.reason : 'a client token'}`,
      });
    }
    const { user } = holder;
    return { sub: user.id, ...profileClaims(user, scopes) };
  }
}
