/**
 * RFC 6749 §4.1.3 with PKCE (RFC 7636 §4.6): the code from the hosted
 * sign-in, redeemed once by the client it was issued to, at the
 * redirect_uri it was issued for, with the verifier of its challenge. A
 * code presented again revokes what its first redemption issued (RFC 6749
 * §4.1.2: the refresh-token family and the access token), since either the
 * code or the first response leaked.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../../clock.js';
import { constantTimeEqual, sha256Base64Url } from '../../crypto/secrets.js';
import { InvalidGrantError, InvalidRequestError } from '../../domain/errors.js';
import { AUTHORIZATION_CODE_GRANT, type GrantTypeName } from '../../domain/grant-types.js';
import type { SecurityEvents } from '../../observability/security-events.js';
import type { AuthorizationCodeStore, IssuedForCode } from '../../storage/browser-stores.js';
import type { AccessTokenDenylist, RefreshTokenStore, UserStore } from '../../storage/stores.js';
import { newFamilyId } from '../../tokens/refresh-token-format.js';
import { grantOfCode, type CodeGrant } from '../browser/authorization-codes.js';
import type { RequestParameters } from '../request-parameters.js';
import { userOfSignInInProgress } from '../sessions.js';
import type { GrantContext, GrantDecision, GrantHandler } from './grant-handler.js';

export interface AuthorizationCodeRequest {
  code: string;
  redirectUri: string;
  codeVerifier: string;
}

export interface AuthorizationCodeGrantDeps {
  authorizationCodes: AuthorizationCodeStore;
  refreshTokens: Pick<RefreshTokenStore, 'revokeFamily'>;
  accessTokenDenylist: AccessTokenDenylist;
  users: Pick<UserStore, 'findById'>;
  securityEvents: Pick<SecurityEvents, 'record'>;
  clock: Clock;
}

/** RFC 7636 §4.1: 43 to 128 unreserved characters. */
const CODE_VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;
/** The longest an access token may live (config/schema.ts): a replay's denylist entry outlives the token it revokes. */
const LONGEST_ACCESS_TOKEN_SECONDS = 2_592_000;
const INVALID_CODE = 'The authorization code is invalid, expired or already used.';

export function createAuthorizationCodeGrant(deps: AuthorizationCodeGrantDeps): GrantHandler<AuthorizationCodeRequest> {
  return new AuthorizationCodeGrant(deps);
}

class AuthorizationCodeGrant implements GrantHandler<AuthorizationCodeRequest> {
  readonly grantTypes: readonly GrantTypeName[] = [AUTHORIZATION_CODE_GRANT];

  constructor(private readonly deps: AuthorizationCodeGrantDeps) {}

  parse(params: RequestParameters): AuthorizationCodeRequest {
    const codeVerifier = params.get('code_verifier');
    // RFC 9700 §2.1.1: every code was issued with a challenge, so a redemption without its verifier cannot succeed.
    if (codeVerifier === undefined) throw new InvalidRequestError('code_verifier is required (PKCE).');
    if (!CODE_VERIFIER.test(codeVerifier))
      throw new InvalidRequestError('code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~.');
    return { code: params.require('code'), redirectUri: params.require('redirect_uri'), codeVerifier };
  }

  async handle(request: AuthorizationCodeRequest, ctx: GrantContext): Promise<GrantDecision> {
    const { tenant, client } = ctx;
    // What this redemption will issue is chosen now and recorded with it, so a replay can revoke exactly that.
    const issued: IssuedForCode = {
      refreshFamilyId: newFamilyId(),
      accessTokenJti: randomUUID(),
      accessTokenExpiresAt: new Date(ctx.now.getTime() + LONGEST_ACCESS_TOKEN_SECONDS * 1000),
    };
    const redemption = await this.deps.authorizationCodes.redeem(sha256Base64Url(request.code), issued, ctx.now);
    if (redemption.kind === 'unknown') throw new InvalidGrantError(INVALID_CODE, { logDetail: 'unknown authorization code' });
    const { code } = redemption;
    if (code.tenantId !== tenant.id) throw new InvalidGrantError(INVALID_CODE, { logDetail: 'an authorization code of another tenant' });
    if (redemption.kind === 'replayed') {
      await this.revokeIssued(redemption.issued, ctx);
      throw new InvalidGrantError(INVALID_CODE, {
        logDetail: `authorization code presented again (client ${client.app.clientId}); what it issued is revoked`,
      });
    }
    if (code.clientId !== client.app.clientId) {
      throw new InvalidGrantError(INVALID_CODE, {
        logDetail: `authorization code of client ${code.clientId} presented by ${client.app.clientId}`,
      });
    }
    if (code.expiresAt <= ctx.now) throw new InvalidGrantError(INVALID_CODE, { logDetail: 'expired authorization code' });
    // RFC 6749 §4.1.3: the same redirect_uri as the authorization request, compared exactly.
    if (request.redirectUri !== code.redirectUri) {
      throw new InvalidGrantError('The redirect_uri does not match the one of the authorization request.', {
        logDetail: 'redirect_uri differs from the authorization request',
      });
    }
    if (!constantTimeEqual(sha256Base64Url(request.codeVerifier), code.codeChallenge)) {
      throw new InvalidGrantError('The code_verifier does not match the code_challenge.', { logDetail: 'PKCE verification failed' });
    }
    const carried = JSON.parse(code.grant) as CodeGrant;
    const user = await userOfSignInInProgress(this.deps.users, tenant, carried, 'authorization code');
    return { grant: grantOfCode(carried, user, tenant.apis, issued) };
  }

  private async revokeIssued(issued: IssuedForCode, ctx: GrantContext): Promise<void> {
    const { tenant, client } = ctx;
    if (issued.refreshFamilyId !== null) await this.deps.refreshTokens.revokeFamily(issued.refreshFamilyId, ctx.now);
    await this.deps.accessTokenDenylist.add(tenant.id, issued.accessTokenJti, issued.accessTokenExpiresAt);
    await this.deps.securityEvents.record({
      type: 'authorization_code_replayed',
      tenantId: tenant.id,
      clientId: client.app.clientId,
      ip: ctx.endUserIp(),
    });
  }
}
