/**
 * RFC 6749 §6 with rotation (OAuth 2.0 Security BCP §4.14): every use
 * returns a new refresh token; a rotated one presented again revokes its
 * whole family, except inside the application's reuse interval, where the
 * token that replaced it is handed back (an idempotent retry after a lost
 * response).
 */
import { constantTimeEqual, type Sealer } from '../../crypto/secrets.js';
import { sessionRefusal } from '../../identity/user-sessions.js';
import { isRetryInsideReuseInterval, type RefreshTokenStore } from '../../storage/stores.js';
import { familyFingerprint, parseRefreshToken } from '../../tokens/refresh-token-format.js';
import { servedConnectionOf } from '../../domain/tenant.js';
import { InvalidGrantError } from '../../domain/errors.js';
import { narrowScopes, optionalScopes, parseScope, unprefixRefreshScopes } from '../scopes.js';
import type { RequestParameters } from '../request-parameters.js';
import type { GrantContext, GrantDecision, GrantHandler } from './grant-handler.js';
import type { Grant } from '../../domain/grant.js';
import { REFRESH_TOKEN_GRANT, type GrantTypeName } from '../../domain/grant-types.js';

export interface RefreshTokenRequest {
  refreshToken: string;
  scopes: string[] | undefined;
}

const INVALID = 'The refresh token is invalid, expired or revoked.';
const USER_CANNOT_SIGN_IN = 'The user can no longer sign in.';

export interface RefreshTokenGrantDeps {
  refreshTokens: RefreshTokenStore;
  /** Opens the token that replaced a rotated one, handed back inside the reuse interval. */
  sealer: Sealer;
}

export function createRefreshTokenGrant(deps: RefreshTokenGrantDeps): GrantHandler<RefreshTokenRequest> {
  return new RefreshTokenGrant(deps);
}

class RefreshTokenGrant implements GrantHandler<RefreshTokenRequest> {
  readonly grantTypes: readonly GrantTypeName[] = [REFRESH_TOKEN_GRANT];

  constructor(private readonly deps: RefreshTokenGrantDeps) {}

  parse(params: RequestParameters): RefreshTokenRequest {
    const scopes = optionalScopes(params);
    return { refreshToken: params.require('refresh_token'), scopes };
  }

  async handle(request: RefreshTokenRequest, ctx: GrantContext): Promise<GrantDecision> {
    const { tenant, client, now } = ctx;
    const { refreshTokens } = this.deps;
    const presented = parseRefreshToken(request.refreshToken);
    // The family and its user in one read: every refresh needs both (issue #13: fewer statements per refresh).
    const found = presented && (await refreshTokens.findFamilyWithOwner(presented.familyId));
    if (!presented || !found || found.family.tenantId !== tenant.id)
      throw new InvalidGrantError(INVALID, { logDetail: 'unknown refresh token' });
    const { family, owner } = found;
    // RFC 6749 §6: bound to the client it was issued to.
    if (family.clientId !== client.app.clientId)
      throw new InvalidGrantError(INVALID, { logDetail: `refresh token of ${family.clientId} presented by ${client.app.clientId}` });
    if (family.revokedAt) {
      // A block revokes the user's families; while it lasts the client is still told why, as before the revocation.
      if (owner?.blocked)
        throw new InvalidGrantError('The user is blocked.', { errorReason: 'user_blocked', logDetail: `blocked user ${owner.id}` });
      throw new InvalidGrantError(INVALID, { logDetail: `revoked refresh token family ${familyFingerprint(family.id)}` });
    }
    if (family.expiresAt <= now || family.familyExpiresAt <= now)
      throw new InvalidGrantError(INVALID, { logDetail: `expired refresh token family ${familyFingerprint(family.id)}` });

    const isCurrent = constantTimeEqual(presented.secretHash, family.currentHash);
    const isRetry =
      !isCurrent && isRetryInsideReuseInterval(family, presented.secretHash, now, client.app.settings.refresh_token.reuse_interval);
    if (!isCurrent && !isRetry) {
      await refreshTokens.revokeFamily(family.id, now);
      throw new InvalidGrantError(INVALID, { logDetail: `refresh token reuse detected: family ${familyFingerprint(family.id)} revoked` });
    }

    const api = family.audience === null ? undefined : tenant.apis.get(family.audience);
    if (family.audience !== null && !api)
      throw new InvalidGrantError(INVALID, { logDetail: `the token's API ${family.audience} no longer exists` });
    const original = parseScope(family.scope);
    const scopes = narrowScopes(original, request.scopes && unprefixRefreshScopes(request.scopes, api, original));
    const user = owner;
    if (!user) throw new InvalidGrantError(INVALID, { logDetail: `user ${family.userId} no longer exists` });
    // DESIGN.md §2: a connection the file no longer declares keeps its users' data, but they cannot sign in or refresh.
    if (!servedConnectionOf(tenant, user))
      throw new InvalidGrantError(USER_CANNOT_SIGN_IN, {
        logDetail: `user ${user.id}: their connection is no longer in the configuration file`,
      });
    if (user.blocked)
      throw new InvalidGrantError('The user is blocked.', { errorReason: 'user_blocked', logDetail: `blocked user ${user.id}` });
    // Defense in depth (RFC 9700 §4.14.2): a password change or a block revokes every family, but one signed in
    // before it is refused even if that revocation was missed (a crash between the writes), and revoked now for good.
    const ended = sessionRefusal(user, family.authTime);
    if (ended !== undefined) {
      await refreshTokens.revokeFamily(family.id, now);
      throw new InvalidGrantError(INVALID, {
        logDetail: `refresh token family ${familyFingerprint(family.id)} of user ${user.id} ended: ${ended}`,
      });
    }

    const grant: Grant = {
      grantType: 'refresh_token',
      subject: { kind: 'user', user },
      api,
      scopes,
      requestedScopes: request.scopes,
      authTime: family.authTime,
      // The family remembers how its login was made, so refreshed tokens keep saying so.
      ...(family.amr === null ? {} : { amr: family.amr }),
      refresh: isRetry
        ? { kind: 'replay', childToken: this.deps.sealer.unseal(family.currentTokenSealed as string) }
        : { kind: 'rotate', family, presentedHash: presented.secretHash },
    };
    return { grant };
  }
}
