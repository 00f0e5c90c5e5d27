/**
 * RFC 7662 introspection. A client may introspect tokens issued to it; an
 * application with `resource_server: true` may introspect any access token
 * whose audience is its `default_audience`. Anything else is simply
 * `active: false`, which reveals nothing.
 *
 * §2.2: "active" means the token is usable now, so a user's token is
 * inactive once the user is blocked or deleted, or when it comes from a
 * sign-in before the user's last password change or last block, or the
 * user's connection is no longer served (oauth/sessions.ts).
 */
import { epochSeconds, type Clock } from '../clock.js';
import { constantTimeEqual } from '../crypto/secrets.js';
import { parseRefreshToken } from '../tokens/refresh-token-format.js';
import type { RefreshTokenStore, UserStore } from '../storage/stores.js';
import type { AccessTokenVerifier } from '../tokens/access-token-verifier.js';
import type { Tenant } from '../domain/tenant.js';
import { InvalidClientError } from '../domain/errors.js';
import type { AuthenticatedClient } from '../domain/client.js';
import type { ClientAuthenticator } from './client-auth/authenticate.js';
import { presentedClientAuth } from './client-auth/presented.js';
import { accessTokenHolderAt, sessionRefusalAt } from './sessions.js';
import type { RequestParameters } from './request-parameters.js';

export interface IntrospectionDeps {
  clientAuthenticator: ClientAuthenticator;
  refreshTokens: RefreshTokenStore;
  users: Pick<UserStore, 'findById'>;
  verifier: AccessTokenVerifier;
  clock: Clock;
}

export interface IntrospectionRequest {
  tenant: Tenant;
  /** The Authorization header, if any: client_secret_basic. */
  authorization: string | undefined;
  params: RequestParameters;
}

/** RFC 7662 §2.2: `active`, and the token's claims when it is. */
export type IntrospectionResponse = Record<string, unknown>;

const INACTIVE = { active: false } as const;

export class IntrospectionEndpoint {
  constructor(private readonly deps: IntrospectionDeps) {}

  async handle({ tenant, authorization, params }: IntrospectionRequest): Promise<IntrospectionResponse> {
    const presented = presentedClientAuth(authorization, params);
    const client = await this.deps.clientAuthenticator.authenticate(presented, tenant, tenant.endpoints.introspection);
    // RFC 7662 §2.1: the caller must be authorised; a public client may not probe tokens.
    if (client.method === 'none') throw new InvalidClientError('Introspection requires a confidential client.');
    const token = params.require('token');
    const now = this.deps.clock.now();
    const refresh = parseRefreshToken(token);
    if (refresh) {
      const family = await this.deps.refreshTokens.findFamily(refresh.familyId);
      if (!family || family.tenantId !== tenant.id || family.clientId !== client.app.clientId) return INACTIVE;
      // Only the family's current token is active; a rotated one is spent.
      if (!constantTimeEqual(refresh.secretHash, family.currentHash) || family.revokedAt || family.expiresAt <= now) return INACTIVE;
      // The refresh grant's own rule (grants/refresh-token.ts): what it would refuse is not active.
      const user = await this.deps.users.findById(tenant.id, family.userId);
      if (sessionRefusalAt(tenant, user, family.authTime) !== undefined) return INACTIVE;
      return {
        active: true,
        token_type: 'refresh_token',
        client_id: family.clientId,
        sub: family.userId,
        scope: family.scope,
        ...(family.audience === null ? {} : { aud: family.audience }),
        iss: tenant.endpoints.issuer,
        iat: epochSeconds(family.rotatedAt ?? family.createdAt),
        exp: epochSeconds(family.expiresAt),
      };
    }
    return this.introspectAccessToken(token, tenant, client);
  }

  private async introspectAccessToken(token: string, tenant: Tenant, client: AuthenticatedClient): Promise<IntrospectionResponse> {
    const check = await this.deps.verifier.verify(token, tenant, { checkRevocation: true });
    if (!check.valid) return INACTIVE;
    const { payload } = check;
    const audience = Array.isArray(payload.aud) ? payload.aud : payload.aud === undefined ? [] : [payload.aud];
    const resourceAudience = client.app.settings.resource_server ? client.app.settings.default_audience : undefined;
    const allowed = payload.client_id === client.app.clientId || (resourceAudience !== undefined && audience.includes(resourceAudience));
    if (!allowed) return INACTIVE;
    if ((await accessTokenHolderAt(this.deps.users, tenant, payload)).kind === 'inactive') return INACTIVE;
    return { active: true, token_type: 'Bearer', ...payload };
  }
}
