/**
 * One interface for every grant (STYLE.md §1): `parse` turns parameters into
 * a typed request without I/O, `handle` decides and returns a `Grant` value.
 * Nothing is signed or stored until the token service acts on that value,
 * so a refused request leaves nothing behind.
 */
import type { Clock } from '../../clock.js';
import type { ApiConfig } from '../../config/schema.js';
import type { Encrypter } from '../../crypto/secrets.js';
import type { CredentialSource } from '../../identity/credential-source.js';
import type { MfaService } from '../../mfa/mfa-service.js';
import type { MfaTokens } from '../../mfa/mfa-token.js';
import type { AttackProtection } from '../../protection/attack-protection.js';
import type { SecurityEvents } from '../../protection/security-events.js';
import type { RefreshTokenFamily, RefreshTokenStore, UserRecord, UserStore } from '../../storage/stores.js';
import type { Tenant } from '../catalog.js';
import type { AuthenticatedClient } from '../client-auth/authenticate.js';
import type { RequestParameters } from '../token-request.js';

export type GrantSubject = { kind: 'user'; user: UserRecord } | { kind: 'client' };

export type RefreshPlan =
  | { kind: 'none' }
  | { kind: 'new_family' }
  | { kind: 'rotate'; family: RefreshTokenFamily; presentedHash: string }
  /** The token was rotated moments ago inside the reuse interval: return the token that replaced it. */
  | { kind: 'replay'; childToken: string };

export interface Grant {
  grantType: string;
  subject: GrantSubject;
  api: ApiConfig | undefined;
  scopes: string[];
  /** What the client asked for, to decide whether the response must show `scope`. */
  requestedScopes: string[] | undefined;
  authTime: Date;
  refresh: RefreshPlan;
  /** RFC 8176 methods, for the id_token's and access token's `amr` when more than the password was used. */
  amr?: string[];
  /** Extra members of the token response (the mfa-recovery-code grant's next `recovery_code`). */
  responseExtra?: Record<string, string>;
  /** Set by post-login hooks: the access token's scope when a hook changed it (the refresh token keeps `scopes`; hooks run again at each refresh). */
  accessTokenScopes?: string[];
  /** Set by post-login hooks: namespaced claims added next to the server's own. */
  customClaims?: { accessToken: Record<string, unknown>; idToken: Record<string, unknown> };
}

export interface GrantContext {
  tenant: Tenant;
  client: AuthenticatedClient;
  clock: Clock;
  users: UserStore;
  refreshTokens: RefreshTokenStore;
  credentialSources: ReadonlyMap<string, CredentialSource>;
  /** Seals refresh tokens kept for the reuse interval. */
  sealer: Encrypter;
  /** Canonical end-user IP (protection/end-user-ip.ts), worked out on first call: only password checks need it. */
  endUserIp(): string;
  attackProtection: AttackProtection;
  mfa: MfaService;
  mfaTokens: MfaTokens;
  securityEvents: SecurityEvents;
}

export interface GrantHandler<Request> {
  /** Wire names this module answers to (Auth0 URIs included). */
  readonly grantTypes: readonly string[];
  parse(params: RequestParameters, grantType: string): Request;
  handle(request: Request, ctx: GrantContext): Promise<Grant>;
}

/** Lets the registry hold handlers of different request types. */
export interface AnyGrantHandler {
  readonly grantTypes: readonly string[];
  /** Parses now (throwing on bad parameters); the returned step decides later. */
  prepare(params: RequestParameters, grantType: string): (ctx: GrantContext) => Promise<Grant>;
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
