/**
 * The token endpoint as a list of named steps (RFC 6749 §3.2), the same for
 * the Auth0, Entra and PingFederate paths:
 * supportedGrantType → clientAuthentication → allowedGrantType → grant
 * (parse, decide) → post-login hooks (adjust or refuse) → token service
 * (sign, store).
 */
import type { Clock } from '../clock.js';
import type { Sealer } from '../crypto/secrets.js';
import type { CredentialSource } from '../identity/credential-source.js';
import type { RefreshTokenStore, UserStore } from '../storage/stores.js';
import type { Logger } from 'pino';
import type { PostLoginHooks } from './post-login.js';
import type { MfaService } from '../mfa/mfa-service.js';
import type { MfaTokens } from '../mfa/mfa-token.js';
import type { AttackProtection } from '../protection/attack-protection.js';
import type { RateLimits } from '../protection/rate-limits.js';
import type { SecurityEvents } from '../observability/security-events.js';
import { endUserIp, type RequestOrigin } from '../protection/end-user-ip.js';
import type { IssuedTokens, TokenService } from '../tokens/token-service.js';
import type { Tenant } from '../domain/tenant.js';
import type { ClientAuthenticator } from './client-auth/authenticate.js';
import { presentedClientAuth } from './client-auth/presented.js';
import { InvalidRequestError, UnauthorizedClientError, UnsupportedGrantTypeError } from '../domain/errors.js';
import { isGrantTypeName } from '../domain/grant-types.js';
import { grantRegistry } from './grants/registry.js';
import type { RequestParameters } from './request-parameters.js';
import type { AuthenticatedClient } from '../domain/client.js';

export interface TokenEndpointDeps {
  clientAuthenticator: ClientAuthenticator;
  clock: Clock;
  users: UserStore;
  refreshTokens: RefreshTokenStore;
  credentialSources: ReadonlyMap<string, CredentialSource>;
  sealer: Sealer;
  tokenService: TokenService;
  attackProtection: AttackProtection;
  rateLimits: RateLimits;
  mfa: MfaService;
  mfaTokens: MfaTokens;
  securityEvents: SecurityEvents;
  postLogin: PostLoginHooks;
  logger: Logger;
}

export interface TokenEndpointRequest {
  tenant: Tenant;
  /** The URL this request was sent to: a valid `aud` for client assertions. */
  endpointUrl: string;
  authorization: string | undefined;
  params: RequestParameters;
  origin: RequestOrigin;
}

export interface TokenEndpointResult {
  grantType: string;
  client: AuthenticatedClient;
  tokens: IssuedTokens;
}

/** Set as soon as known, so the HTTP layer can label metrics and logs even on failure. */
export interface TokenEndpointProgress {
  grantType?: string;
  clientId?: string;
}

export class TokenEndpoint {
  constructor(private readonly deps: TokenEndpointDeps) {}

  async handle(request: TokenEndpointRequest, progress: TokenEndpointProgress = {}): Promise<TokenEndpointResult> {
    const { tenant, params } = request;

    const grantType = params.get('grant_type');
    if (grantType === undefined) throw new InvalidRequestError('The parameter "grant_type" is required.');
    const handler = isGrantTypeName(grantType) ? grantRegistry.get(grantType) : undefined;
    if (handler === undefined || !isGrantTypeName(grantType)) {
      throw new UnsupportedGrantTypeError('The grant_type is not one this server supports; discovery lists them in grant_types_supported.', { logDetail: `unsupported grant_type ${JSON.stringify(grantType.slice(0, 100))}` });
    }
    progress.grantType = grantType;

    const presented = presentedClientAuth(request.authorization, params);
    // Parameter errors are answered before any credential is checked or counted.
    const decide = handler.prepare(params, grantType);
    await this.deps.rateLimits.checkTenant(tenant);
    const client = await this.deps.clientAuthenticator.authenticate(presented, tenant, request.endpointUrl);
    progress.clientId = client.app.clientId;
    await this.deps.rateLimits.checkClient(tenant, client.app.clientId);

    if (!client.app.settings.grant_types.includes(grantType)) {
      throw new UnauthorizedClientError(`The application is not allowed to use the ${grantType} grant; add it to the application's grant_types.`);
    }

    let resolvedIp: string | undefined;
    const resolveEndUserIp = (): string => {
      if (resolvedIp === undefined) {
        const origin = endUserIp(request.origin, tenant, client);
        if (origin.ignoredForward) this.warnIgnoredForward(tenant.name, client.app.clientId, origin.ignoredForward);
        resolvedIp = origin.ip;
      }
      return resolvedIp;
    };

    const grant = await decide({
      tenant,
      client,
      endUserIp: resolveEndUserIp,
      attackProtection: this.deps.attackProtection,
      mfa: this.deps.mfa,
      mfaTokens: this.deps.mfaTokens,
      securityEvents: this.deps.securityEvents,
      clock: this.deps.clock,
      users: this.deps.users,
      refreshTokens: this.deps.refreshTokens,
      credentialSources: this.deps.credentialSources,
      sealer: this.deps.sealer,
    });
    const final = await this.deps.postLogin.apply(grant, tenant, client, resolveEndUserIp);
    const tokens = await this.deps.tokenService.issue(final, tenant, client);
    return { grantType, client, tokens };
  }

  private readonly lastForwardWarning = new Map<string, number>();

  /** Once a minute per client: a misconfigured backend sends the header on every request. */
  private warnIgnoredForward(tenantName: string, clientId: string, reason: string): void {
    const key = `${tenantName}\0${clientId}`;
    const now = this.deps.clock.now().getTime();
    if ((this.lastForwardWarning.get(key) ?? -Infinity) > now - 60_000) return;
    if (this.lastForwardWarning.size > 10_000) this.lastForwardWarning.clear();
    this.lastForwardWarning.set(key, now);
    this.deps.logger.warn(
      { tenant: tenantName, client_id: clientId, reason },
      reason === 'public_client'
        ? 'ignored a forwarded end-user IP from a public client: anyone can send it; the TCP peer counts instead'
        : 'ignored a forwarded end-user IP from a client without trust_forwarded_for: true; set it on that application if its backend forwards real end-user IPs',
    );
  }
}
