/**
 * RFC 6749 §4.4: the client acts on its own behalf, for one API, and only
 * for an API a client grant lets it call (DESIGN.md §9, Auth0's model).
 */
import { clientGrantScopes } from '../../domain/tenant.js';
import { AccessDeniedError, InvalidRequestError } from '../../domain/errors.js';
import { grantClientScopes, optionalScopes, requestedAudience, selectRequestedResource } from '../scopes.js';
import type { RequestParameters } from '../request-parameters.js';
import type { GrantContext, GrantHandler } from './grant-handler.js';
import type { Grant } from '../../domain/grant.js';
import { CLIENT_CREDENTIALS_GRANT } from '../../domain/grant-types.js';

export interface ClientCredentialsRequest {
  audience: string | undefined;
  scopes: string[] | undefined;
}

/** Needs no service: the client is authenticated and the tenant holds its client grants. */
export function createClientCredentialsGrant(): GrantHandler<ClientCredentialsRequest> {
  return {
    grantTypes: [CLIENT_CREDENTIALS_GRANT],
    parse: (params) => parseClientCredentials(params),
    handle: async (request, ctx) => ({ grant: decideClientCredentials(request, ctx) }),
  };
}

function parseClientCredentials(params: RequestParameters): ClientCredentialsRequest {
  // The scope's syntax first: a malformed scope is invalid_request even when audience and resource disagree.
  const scopes = optionalScopes(params);
  return { audience: requestedAudience(params), scopes };
}

function decideClientCredentials(request: ClientCredentialsRequest, ctx: GrantContext): Grant {
  const { tenant, client } = ctx;
  const selection = selectRequestedResource(tenant, client.app, request);
  if (!selection.api) {
    throw new InvalidRequestError(
      'client_credentials needs an API: send "audience", or configure a default_audience for the application or tenant.',
    );
  }
  // The MFA API manages a user's own factors: there is no user here (mfa/mfa-api.ts).
  if (selection.api.identifier === tenant.endpoints.mfaApi) {
    throw new AccessDeniedError(
      "The MFA API is not available to client_credentials: its tokens come only from a user's sign-in with a second factor.",
    );
  }
  // No client grant, no token (Auth0: 403 access_denied). The identifier named is the configured API the request
  // resolved to, never the request's text; other APIs and the client's credentials are not mentioned.
  const granted = clientGrantScopes(tenant, client.app.clientId, selection.api.identifier);
  if (granted === undefined) {
    throw new AccessDeniedError(
      `The application is not authorized to access "${selection.api.identifier}": no client grant names this application and API.`,
      {
        logDetail: `client ${client.app.clientId} has no client grant for ${selection.api.identifier}; add one to tenants[].client_grants of tenant ${tenant.name}`,
      },
    );
  }
  return {
    grantType: 'client_credentials',
    subject: { kind: 'client' },
    api: selection.api,
    scopes: grantClientScopes(selection, granted),
    requestedScopes: request.scopes,
    authTime: ctx.now,
    refresh: { kind: 'none' },
  };
}
