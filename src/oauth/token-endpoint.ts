/**
 * The token endpoint (RFC 6749 §3.2) as a checklist of named steps, the same
 * for the Auth0, Entra and PingFederate paths (node-oidc-provider's token.js
 * is the model): supportedGrantType → parse → client authentication →
 * allowedGrantType → the grant decides → MFA gate (oauth/mfa-gate.ts) →
 * post-login hooks (adjust or refuse) → token service (sign, store).
 */
import type { Clock } from '../clock.js';
import type { Logger } from 'pino';
import type { PostLoginHooks } from './post-login.js';
import type { RateLimits } from '../protection/rate-limits.js';
import { endUserIp, type RequestOrigin } from '../protection/end-user-ip.js';
import type { IssuedTokens, TokenService } from '../tokens/token-service.js';
import type { Tenant } from '../domain/tenant.js';
import type { ClientAuthenticator } from './client-auth/authenticate.js';
import { presentedClientAuth } from './client-auth/presented.js';
import { InvalidRequestError, UnauthorizedClientError, UnsupportedGrantTypeError } from '../domain/errors.js';
import type { GrantTypeName } from '../domain/grant-types.js';
import type { GrantContext } from './grants/grant-handler.js';
import type { GrantRegistry, RegisteredGrant } from './grants/registry.js';
import type { MfaGate } from './mfa-gate.js';
import type { RequestParameters } from './request-parameters.js';
import type { AuthenticatedClient } from '../domain/client.js';

export interface TokenEndpointDeps {
  clientAuthenticator: ClientAuthenticator;
  /** The grants, built with the services they use (grants/registry.ts). */
  grants: GrantRegistry;
  mfaGate: MfaGate;
  postLogin: PostLoginHooks;
  tokenService: TokenService;
  rateLimits: RateLimits;
  clock: Clock;
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

  /** The checklist, in order; parameter errors are answered before any credential is checked or counted. */
  async handle(request: TokenEndpointRequest, progress: TokenEndpointProgress = {}): Promise<TokenEndpointResult> {
    const { tenant, params } = request;
    const grantType = this.supportedGrantType(params);
    progress.grantType = grantType.name;
    const presented = presentedClientAuth(request.authorization, params);
    // Parameter errors are answered before any credential is checked or counted.
    const decide = grantType.parse(params);
    await this.deps.rateLimits.checkTenant(tenant);
    const client = await this.deps.clientAuthenticator.authenticate(presented, tenant, request.endpointUrl);
    progress.clientId = client.app.clientId;
    await this.deps.rateLimits.checkClient(tenant, client.app.clientId);
    allowedGrantType(client, grantType.name);

    const context = this.grantContext(request, client);
    const decision = await decide(context);
    const grant = await this.deps.mfaGate.check(decision, tenant, client);
    const final = await this.deps.postLogin.apply(grant, tenant, client, context.endUserIp);
    const tokens = await this.deps.tokenService.issue(final, tenant, client);
    return { grantType: grantType.name, client, tokens };
  }

  /** RFC 6749 §5.2 unsupported_grant_type: a grant_type this server does not implement. */
  private supportedGrantType(params: RequestParameters): RegisteredGrant {
    const grantType = params.get('grant_type');
    if (grantType === undefined) throw new InvalidRequestError('The parameter "grant_type" is required.');
    const grant = this.deps.grants.find(grantType);
    if (grant === undefined) {
      const description = 'The grant_type is not one this server supports; discovery lists them in grant_types_supported.';
      throw new UnsupportedGrantTypeError(description, {
        logDetail: `unsupported grant_type ${JSON.stringify(grantType.slice(0, 100))}`,
      });
    }
    return grant;
  }

  /** The request facts a grant may use; the end-user IP is worked out on first use (only password checks need it). */
  private grantContext(request: TokenEndpointRequest, client: AuthenticatedClient): GrantContext {
    const { tenant } = request;
    let resolvedIp: string | undefined;
    const resolveEndUserIp = (): string => {
      if (resolvedIp === undefined) {
        const origin = endUserIp(request.origin, tenant, client);
        if (origin.ignoredForward) this.warnIgnoredForward(tenant.name, client.app.clientId, origin.ignoredForward);
        resolvedIp = origin.ip;
      }
      return resolvedIp;
    };
    return { tenant, client, endUserIp: resolveEndUserIp, now: this.deps.clock.now() };
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

/** RFC 6749 §5.2 unauthorized_client: each application names the grants it may use. */
function allowedGrantType(client: AuthenticatedClient, grantType: GrantTypeName): void {
  if (!client.app.settings.grant_types.includes(grantType)) {
    throw new UnauthorizedClientError(
      `The application is not allowed to use the ${grantType} grant; add it to the application's grant_types.`,
    );
  }
}
