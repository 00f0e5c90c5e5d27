/**
 * The three wire dialects of one token endpoint. They differ only at the
 * edge: which bodies they take and how the success response is written.
 */
import { apiScopePrefix, OIDC_SCOPES } from '../oauth/scopes.js';
import type { IssuedTokens } from '../tokens/token-service.js';

export type Dialect = 'auth0' | 'entra' | 'ping';

export const DIALECT_ACCEPTS_JSON: Record<Dialect, boolean> = { auth0: true, entra: false, ping: true };

/** `requestedScope`: the request's raw `scope` parameter, to answer in the form it was asked. */
export function renderTokenResponse(dialect: Dialect, tokens: IssuedTokens, requestedScope?: string): Record<string, string | number> {
  const body: Record<string, string | number> = {
    access_token: tokens.accessToken,
    token_type: 'Bearer',
    expires_in: tokens.expiresIn,
  };
  // MSAL caches by the returned scopes, written `{identifier}/{scope}` for an API, and reads ext_expires_in. It posts
  // such scopes to discovery's token_endpoint (the Auth0 path) too: answered bare there, its cache lookup never matches.
  if (dialect === 'entra' || namesApiByPrefix(requestedScope, tokens.apiIdentifier)) {
    body.scope = tokens.scopes
      .map((s) => (tokens.apiIdentifier !== undefined && !isOidcScope(s) ? `${apiScopePrefix(tokens.apiIdentifier)}${s}` : s))
      .join(' ');
  } else if (tokens.scopeDiffersFromRequest) {
    body.scope = tokens.scopes.join(' ');
  }
  if (dialect === 'entra') body.ext_expires_in = tokens.expiresIn;
  if (tokens.refreshToken !== undefined) body.refresh_token = tokens.refreshToken;
  if (tokens.idToken !== undefined) body.id_token = tokens.idToken;
  if (tokens.extra) Object.assign(body, tokens.extra);
  return body;
}

const isOidcScope = (s: string): boolean => OIDC_SCOPES.has(s);
const namesApiByPrefix = (scope: string | undefined, identifier: string | undefined): boolean =>
  scope !== undefined && identifier !== undefined && scope.split(' ').some((s) => s.startsWith(apiScopePrefix(identifier)));
