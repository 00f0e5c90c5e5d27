/**
 * Acts on a decided `Grant`: signs the access token (RFC 9068) and id_token
 * (OIDC Core §2), then persists the refresh token. Signing comes before the
 * rotation commits, so a request that loses a rotation race leaves nothing
 * behind but discarded signatures.
 */
import { randomUUID } from 'node:crypto';
import type { JWTPayload } from 'jose';
import { epochSeconds, type Clock } from '../clock.js';
import type { Sealer } from '../crypto/secrets.js';
import { USERINFO_TOKEN_ALG, USERINFO_TOKEN_LIFETIME_SECONDS, type Tenant } from '../domain/tenant.js';
import { InvalidGrantError } from '../domain/errors.js';
import type { RefreshTokenStore, UserRecord } from '../storage/stores.js';
import { familyFingerprint, newFamilyId, newRefreshToken } from './refresh-token-format.js';
import type { SigningKeys } from './signing-keys.js';
import { type Grant, sameScopeSet } from '../domain/grant.js';
import type { AuthenticatedClient } from '../domain/client.js';

export interface IssuedTokens {
  accessToken: string;
  expiresIn: number;
  scopes: string[];
  /** The API identifier, for dialects that render scopes as `{identifier}/{scope}`. */
  apiIdentifier: string | undefined;
  refreshToken: string | undefined;
  idToken: string | undefined;
  /** RFC 6749 §5.1: `scope` must be returned when it differs from the request. */
  scopeDiffersFromRequest: boolean;
  /** Extra response members decided by the grant (a fresh recovery code). */
  extra: Record<string, string> | undefined;
}

export interface TokenServiceDeps {
  signingKeys: SigningKeys;
  refreshTokens: RefreshTokenStore;
  sealer: Sealer;
  clock: Clock;
}

export class TokenService {
  constructor(private readonly deps: TokenServiceDeps) {}

  async issue(grant: Grant, tenant: Tenant, client: AuthenticatedClient): Promise<IssuedTokens> {
    const now = this.deps.clock.now();
    const user = grant.subject.kind === 'user' ? grant.subject.user : undefined;
    const wantsIdToken = user !== undefined && grant.scopes.includes('openid');
    const expiresIn = grant.api?.token_lifetime ?? USERINFO_TOKEN_LIFETIME_SECONDS;

    const accessTokenScopes = grant.accessTokenScopes ?? grant.scopes;
    const [accessToken, idToken] = await Promise.all([
      this.signAccessToken(grant, tenant, client, now, expiresIn),
      wantsIdToken ? this.signIdToken(grant, user, tenant, client, now) : undefined,
    ]);
    const refreshToken = await this.persistRefreshToken(grant, tenant, client, now);

    return {
      accessToken,
      expiresIn,
      scopes: accessTokenScopes,
      apiIdentifier: grant.api?.identifier,
      refreshToken,
      idToken,
      scopeDiffersFromRequest: grant.requestedScopes === undefined || !sameScopeSet(accessTokenScopes, grant.requestedScopes),
      extra: grant.responseExtra,
    };
  }

  /** RFC 9068 §2: `typ: at+jwt`, and iss sub aud client_id scope iat exp jti. */
  private async signAccessToken(grant: Grant, tenant: Tenant, client: AuthenticatedClient, now: Date, lifetime: number): Promise<string> {
    const userinfoAudience = grant.scopes.includes('openid') || !grant.api;
    const audience: string[] = [];
    if (grant.api) audience.push(grant.api.identifier);
    if (userinfoAudience && grant.subject.kind === 'user') audience.push(tenant.endpoints.userinfo);
    const alg = grant.api?.signing_alg ?? USERINFO_TOKEN_ALG;
    const key = await this.deps.signingKeys.activeKey(tenant.id, alg);
    const iat = epochSeconds(now);
    const payload: JWTPayload = {
      // A hook's namespaced claims first: nothing it sets can displace the server's own.
      ...grant.customClaims?.accessToken,
      iss: tenant.endpoints.issuer,
      sub: grant.subject.kind === 'user' ? grant.subject.user.id : client.app.clientId,
      aud: audience.length === 1 ? audience[0] : audience,
      client_id: client.app.clientId,
      scope: (grant.accessTokenScopes ?? grant.scopes).join(' '),
      iat,
      exp: iat + lifetime,
      jti: grant.accessTokenJti ?? randomUUID(),
    };
    if (grant.subject.kind === 'user') payload.auth_time = epochSeconds(grant.authTime);
    if (grant.amr) payload.amr = grant.amr;
    return key.sign('at+jwt', payload);
  }

  private async signIdToken(grant: Grant, user: UserRecord, tenant: Tenant, client: AuthenticatedClient, now: Date): Promise<string> {
    const alg = tenant.settings.id_token_signing_alg;
    const key = await this.deps.signingKeys.activeKey(tenant.id, alg);
    const iat = epochSeconds(now);
    const payload: JWTPayload = {
      ...grant.customClaims?.idToken,
      iss: tenant.endpoints.issuer,
      sub: user.id,
      aud: client.app.clientId,
      iat,
      exp: iat + tenant.settings.id_token_lifetime,
      auth_time: epochSeconds(grant.authTime),
      ...(grant.nonce !== undefined ? { nonce: grant.nonce } : {}),
      ...(grant.sessionId !== undefined ? { sid: grant.sessionId } : {}),
      ...(grant.amr ? { amr: grant.amr } : {}),
      ...profileClaims(user, grant.scopes),
    };
    return key.sign('JWT', payload);
  }

  private async persistRefreshToken(grant: Grant, tenant: Tenant, client: AuthenticatedClient, now: Date): Promise<string | undefined> {
    const plan = grant.refresh;
    if (plan.kind === 'none') return undefined;
    if (plan.kind === 'replay') return plan.childToken;
    if (grant.subject.kind !== 'user') return undefined;

    const lifetimes = client.app.settings.refresh_token;
    const seal = (token: string) => (lifetimes.reuse_interval > 0 ? this.deps.sealer.seal(token) : null);
    const idleExpiry = new Date(now.getTime() + lifetimes.idle_lifetime * 1000);

    if (plan.kind === 'new_family') {
      const issued = newRefreshToken(plan.familyId ?? newFamilyId());
      const familyExpiresAt = new Date(now.getTime() + lifetimes.absolute_lifetime * 1000);
      await this.deps.refreshTokens.createFamily({
        id: issued.familyId,
        tenantId: tenant.id,
        clientId: client.app.clientId,
        userId: grant.subject.user.id,
        audience: grant.api?.identifier ?? null,
        scope: grant.scopes.join(' '),
        authTime: grant.authTime,
        currentHash: issued.secretHash,
        currentTokenSealed: seal(issued.token),
        createdAt: now,
        expiresAt: earlier(idleExpiry, familyExpiresAt),
        familyExpiresAt,
        amr: grant.amr ?? null,
      });
      return issued.token;
    }

    // RFC 6749 §6: the new refresh token's scope is the family's; a narrowed scope applies to this access token only.
    const issued = newRefreshToken(plan.family.id);
    const result = await this.deps.refreshTokens.rotate({
      familyId: plan.family.id,
      expectedHash: plan.presentedHash,
      newHash: issued.secretHash,
      newTokenSealed: seal(issued.token),
      expiresAt: earlier(idleExpiry, plan.family.familyExpiresAt),
      now,
      reuseIntervalSeconds: lifetimes.reuse_interval,
    });
    if (result.kind === 'rotated') return issued.token;
    if (result.kind === 'replay') return this.deps.sealer.unseal(result.currentTokenSealed);
    throw new InvalidGrantError('The refresh token is invalid, expired or revoked.', {
      logDetail: `concurrent reuse of a refresh token: family ${familyFingerprint(plan.family.id)} revoked`,
    });
  }
}

/** OIDC Core §5.4: claims by scope. */
export function profileClaims(user: UserRecord, scopes: string[]): Record<string, unknown> {
  const claims: Record<string, unknown> = {};
  if (scopes.includes('profile')) {
    claims.name = user.name ?? user.username;
    if (user.givenName !== null) claims.given_name = user.givenName;
    if (user.familyName !== null) claims.family_name = user.familyName;
    claims.nickname = user.username.split('@')[0];
    claims.preferred_username = user.username;
    claims.updated_at = epochSeconds(user.updatedAt);
    if (user.groups !== null) claims.groups = user.groups;
  }
  if (scopes.includes('email') && user.email !== null) {
    claims.email = user.email;
    claims.email_verified = user.emailVerified;
  }
  return claims;
}

const earlier = (a: Date, b: Date): Date => (a < b ? a : b);
