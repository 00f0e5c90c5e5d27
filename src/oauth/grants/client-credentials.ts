/**
 * RFC 6749 §4.4: the client acts on its own behalf, for one API.
 */
import { AccessDeniedError, InvalidRequestError } from '../errors.js';
import { assertScopeSyntax, grantClientScopes, parseScope, requestedAudience, selectResource } from '../scopes.js';
import type { RequestParameters } from '../token-request.js';
import type { Grant, GrantContext, GrantHandler } from './grant-handler.js';

export interface ClientCredentialsRequest {
  audience: string | undefined;
  scopes: string[] | undefined;
}

export const clientCredentialsGrant: GrantHandler<ClientCredentialsRequest> = {
  grantTypes: ['client_credentials'],

  parse(params: RequestParameters): ClientCredentialsRequest {
    const scope = params.get('scope');
    if (scope !== undefined) assertScopeSyntax(scope);
    return { audience: requestedAudience(params), scopes: scope === undefined ? undefined : parseScope(scope) };
  },

  async handle(request: ClientCredentialsRequest, ctx: GrantContext): Promise<Grant> {
    const { tenant, client } = ctx;
    const selection = selectResource({
      audience: request.audience,
      requestedScopes: request.scopes ?? [],
      apis: tenant.apis,
      defaultAudiences: [client.app.settings.default_audience, tenant.settings.default_audience],
    });
    if (!selection.api) {
      throw new InvalidRequestError('client_credentials needs an API: send "audience", or configure a default_audience for the application or tenant.');
    }
    // The MFA API manages a user's own factors: there is no user here (mfa/mfa-api.ts).
    if (selection.api.identifier === tenant.endpoints.mfaApi) {
      throw new AccessDeniedError('The MFA API is not available to client_credentials: its tokens come only from a user\'s sign-in with a second factor.');
    }
    return {
      grantType: 'client_credentials',
      subject: { kind: 'client' },
      api: selection.api,
      scopes: grantClientScopes(selection),
      requestedScopes: request.scopes,
      authTime: ctx.clock.now(),
      refresh: { kind: 'none' },
    };
  },
};
