/**
 * RFC 6749 §6 with rotation (OAuth 2.0 Security BCP §4.14): every use
 * returns a new refresh token; a used one presented again revokes its
 * whole family, except inside the application's reuse interval, where the
 * same child is handed back (an idempotent retry after a lost response).
 */
import { sha256Base64Url } from '../../crypto/secrets.js';
import { InvalidGrantError } from '../errors.js';
import { assertScopeSyntax, narrowScopes, parseScope } from '../scopes.js';
import type { RequestParameters } from '../token-request.js';
import type { Grant, GrantContext, GrantHandler } from './grant-handler.js';

export interface RefreshTokenRequest {
  refreshToken: string;
  scopes: string[] | undefined;
}

const INVALID = 'The refresh token is invalid, expired or revoked.';

export const refreshTokenGrant: GrantHandler<RefreshTokenRequest> = {
  grantTypes: ['refresh_token'],

  parse(params: RequestParameters): RefreshTokenRequest {
    const scope = params.get('scope');
    if (scope !== undefined) assertScopeSyntax(scope);
    return { refreshToken: params.require('refresh_token'), scopes: scope === undefined ? undefined : parseScope(scope) };
  },

  async handle(request: RefreshTokenRequest, ctx: GrantContext): Promise<Grant> {
    const { tenant, client, clock } = ctx;
    const now = clock.now();
    const token = await ctx.refreshTokens.findByHash(sha256Base64Url(request.refreshToken));
    if (!token || token.tenantId !== tenant.id) throw new InvalidGrantError(INVALID, { logDetail: 'unknown refresh token' });
    // RFC 6749 §6: bound to the client it was issued to.
    if (token.clientId !== client.app.clientId) throw new InvalidGrantError(INVALID, { logDetail: `refresh token of ${token.clientId} presented by ${client.app.clientId}` });
    if (token.revokedAt) throw new InvalidGrantError(INVALID, { logDetail: `revoked refresh token (family ${token.familyId})` });
    if (token.expiresAt <= now || token.familyExpiresAt <= now) throw new InvalidGrantError(INVALID, { logDetail: 'expired refresh token' });

    const scopes = narrowScopes(parseScope(token.scope), request.scopes);
    const api = token.audience === null ? undefined : tenant.apis.get(token.audience);
    if (token.audience !== null && !api) throw new InvalidGrantError(INVALID, { logDetail: `the token's API ${token.audience} no longer exists` });
    const user = await ctx.users.findById(tenant.id, token.userId);
    if (!user) throw new InvalidGrantError(INVALID, { logDetail: `user ${token.userId} no longer exists` });
    if (user.blocked) throw new InvalidGrantError('The user is blocked.', { errorReason: 'user_blocked', logDetail: `blocked user ${user.id}` });

    const base = { grantType: 'refresh_token', subject: { kind: 'user' as const, user }, api, scopes, requestedScopes: request.scopes, authTime: token.authTime };
    if (token.usedAt) {
      const reuseInterval = client.app.settings.refresh_token.reuse_interval;
      if (token.childTokenSealed && now.getTime() - token.usedAt.getTime() <= reuseInterval * 1000) {
        return { ...base, refresh: { kind: 'replay', childToken: ctx.sealer.decrypt(token.childTokenSealed) } };
      }
      await ctx.refreshTokens.revokeFamily(token.familyId, now);
      throw new InvalidGrantError(INVALID, { logDetail: `refresh token reuse detected: family ${token.familyId} revoked` });
    }
    return { ...base, refresh: { kind: 'rotate', parent: token } };
  },
};
