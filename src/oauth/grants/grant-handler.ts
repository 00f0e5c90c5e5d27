/**
 * One interface for every grant (STYLE.md §1): `parse` turns parameters into
 * a typed request without I/O, `handle` decides and returns a `Grant` value
 * (domain/grant.ts).
 */
import type { Clock } from '../../clock.js';
import type { Sealer } from '../../crypto/secrets.js';
import type { CredentialSource } from '../../identity/credential-source.js';
import type { MfaService } from '../../mfa/mfa-service.js';
import type { MfaTokens } from '../../mfa/mfa-token.js';
import type { AttackProtection } from '../../protection/attack-protection.js';
import type { SecurityEvents } from '../../observability/security-events.js';
import type { Grant } from '../../domain/grant.js';
import type { GrantTypeName } from '../../domain/grant-types.js';
import type { RefreshTokenStore, UserStore } from '../../storage/stores.js';
import type { Tenant } from '../../domain/tenant.js';
import type { RequestParameters } from '../request-parameters.js';
import type { AuthenticatedClient } from '../../domain/client.js';

export interface GrantContext {
  tenant: Tenant;
  client: AuthenticatedClient;
  clock: Clock;
  users: UserStore;
  refreshTokens: RefreshTokenStore;
  credentialSources: ReadonlyMap<string, CredentialSource>;
  /** Seals refresh tokens kept for the reuse interval. */
  sealer: Sealer;
  /** Canonical end-user IP (protection/end-user-ip.ts), worked out on first call: only password checks need it. */
  endUserIp(): string;
  attackProtection: AttackProtection;
  mfa: MfaService;
  mfaTokens: MfaTokens;
  securityEvents: SecurityEvents;
}

export interface GrantHandler<Request> {
  /** Wire names this module answers to (Auth0 URIs included), from domain/grant-types.ts. */
  readonly grantTypes: readonly GrantTypeName[];
  parse(params: RequestParameters, grantType: GrantTypeName): Request;
  handle(request: Request, ctx: GrantContext): Promise<Grant>;
}

/** Lets the registry hold handlers of different request types. */
export interface AnyGrantHandler {
  readonly grantTypes: readonly GrantTypeName[];
  /** Parses now (throwing on bad parameters); the returned step decides later. */
  prepare(params: RequestParameters, grantType: GrantTypeName): (ctx: GrantContext) => Promise<Grant>;
}

export function erase<R>(handler: GrantHandler<R>): AnyGrantHandler {
  return {
    grantTypes: handler.grantTypes,
    prepare(params, grantType) {
      const request = handler.parse(params, grantType);
      return (ctx) => handler.handle(request, ctx);
    },
  };
}
